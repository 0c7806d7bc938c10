"""Reads for the scheduling app: the day board, availability, progress."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from clinic.models import Clinic, Closure, OpeningHours
from courses.models import RiskLevel, TreatmentCourse
from courses.prescription import latest_threshold, prescription_for
from scheduling.accelerated import sessions_allowed_on
from scheduling.adverse_events import with_review_hold
from scheduling.board_names import disambiguate, patient_board_name
from scheduling.board_read import board_for_day, with_course_totals
from scheduling.calendar import day_bounds, keeps_gap, load_calendar
from scheduling.models import UPCOMING, Session, SessionKind, SessionStatus
from scheduling.risk import progress
from scheduling.risk_facts import load_facts


def sessions_on_day(
    queryset: QuerySet[Session], clinics: list[Clinic], day: dt.date
) -> QuerySet[Session]:
    """Sessions starting on a clinic-local date (each clinic in its own time zone)."""
    condition = Q()
    for clinic in clinics:
        start, end = day_bounds(day, clinic.tz)
        condition |= Q(chair__clinic=clinic, starts_at__gte=start, starts_at__lt=end)
    return queryset.filter(condition) if clinics else queryset.none()


def _board_entry(session: Session) -> dict[str, Any]:
    """A session as the board (API and page) shows it (the staff pages' cards; the board
    itself reads rows: board_read._entry); needs ``with_sequence``,
    ``with_course_totals`` and ``with_review_hold`` annotations, the patient and the
    course."""
    return {
        "id": session.pk,
        "starts_at": session.starts_at,
        "ends_at": session.ends_at,
        "status": session.status,
        "kind": session.kind,
        "pending_authorization": session.pending_authorization,
        # When the current mark was made (the pages offer to undo it the same day).
        "marked": {
            "checked_in_at": session.checked_in_at,
            "missed_at": session.missed_at,
            "cancelled_at": session.cancelled_at,
        },
        "patient": {
            "id": session.patient_id,
            "name": patient_board_name(session.patient.first_name, session.patient.last_name),
        },
        "course": {
            "id": session.course_id,
            "sequence": session.sequence,  # type: ignore[attr-defined]
            "sessions_total": session.sessions_total,  # type: ignore[attr-defined]
            "risk_level": session.course.risk_level,
            # Held after an adverse event: no check-in or completion until a decision.
            "needs_review": session.course_on_hold  # type: ignore[attr-defined]
            and session.status in UPCOMING,
        },
    }


def availability(
    clinic: Clinic,
    day: dt.date,
    minutes: int,
    coil: str | None = None,
    *,
    until: dt.date | None = None,
) -> dict[str, Any]:
    """Free stretches per chair in service (only chairs fitted with ``coil``, if given)
    on a clinic-local day, or on each day from ``day`` to ``until``: the calendar read
    once (three queries on PostgreSQL, six on SQLite) whatever the number of days."""
    last = day if until is None else until
    calendar = load_calendar(clinic, day, last, coil=coil)
    days = [day + dt.timedelta(days=n) for n in range((last - day).days + 1)]
    return {
        "date": day,
        "until": last,
        "minutes": minutes,
        "chairs": [
            {
                "chair": chair.pk,
                "name": chair.name,
                "coils": chair.coils,
                "free": [
                    {"starts_at": start, "ends_at": end}
                    for each in days
                    for start, end in calendar.free_intervals(chair.pk, each, minutes)
                ],
            }
            for chair in calendar.chairs
        ],
    }


def course_progress(course: TreatmentCourse) -> dict[str, Any]:
    facts = load_facts([course.pk])[0]
    result = progress(facts)
    outcome = result.outcome

    def point(score: Any) -> dict[str, Any] | None:
        return (
            None
            if score is None
            else {"score": score.score, "administered_on": score.administered_on}
        )

    return {
        "sessions_total": result.sessions_total,
        "completed": result.completed,
        "missed": result.missed,
        "cancelled": result.cancelled,
        "scheduled": result.scheduled,
        "remaining": result.remaining,
        "unscheduled": result.unscheduled,
        "next_session_at": result.next_session_at,
        "first_session_date": result.first_session_date,
        "projected_end_date": result.projected_end_date,
        "window_end_date": result.window_end_date,
        "authorization_remaining": result.authorization_remaining,
        "authorization_codes": [
            {**vars(allowed), "remaining": allowed.remaining} for allowed in result.codes.values()
        ],
        "instrument": outcome.instrument,
        "baseline": point(outcome.baseline),
        "latest": point(outcome.latest),
        "response": outcome.response,
        "remission": outcome.remission,
        "risk": {
            "level": result.level,
            "reasons": [reason.code for reason in result.reasons],
            "details": [
                {"code": reason.code, "level": reason.level, "detail": reason.detail}
                for reason in result.reasons
            ],
        },
    }


# --- staff pages (scheduling/views.py) -----------------------------------------------------

BOARD_ROW_MINUTES = 15  # the move page's choice of start times
# The board's rows: every 5 minutes, so a session's height follows its length (a 10-
# minute slot is a quarter of a 40-minute one); labelled every quarter hour.
BOARD_GRID_MINUTES = 5
MINUTES_PER_DAY = 24 * 60


def _labels(entry: dict[str, Any]) -> dict[str, Any]:
    """Words for the status and risk codes of a board entry (colour is never the only signal)."""
    entry["status_label"] = SessionStatus(entry["status"]).label
    entry["kind_label"] = SessionKind(entry["kind"]).label
    entry["risk_label"] = RiskLevel(entry["course"]["risk_level"]).label
    return entry


def _local_minute(moment: dt.datetime, day: dt.date, clinic: Clinic) -> int:
    """Minutes after local midnight of ``day`` on the clinic's wall clock, clamped to the
    day: the board places sessions by the time people read on the clinic's clocks."""
    local = moment.astimezone(clinic.tz)
    if local.date() < day:
        return 0
    if local.date() > day:
        return MINUTES_PER_DAY
    return local.hour * 60 + local.minute


def board_grid(
    clinic: Clinic, day: dt.date, row_minutes: int = BOARD_GRID_MINUTES
) -> dict[str, Any]:
    """The day board laid out as a table: a column per chair, a row per ``row_minutes``
    of clinic-local wall-clock time across opening hours (widened to any session outside
    them). A session sits in the row its local start falls in and spans the rows up to
    its end; sessions overlapping on one chair share a cell. Cancelled sessions take no
    space: they are listed apart (``cancelled``), where they can still be undone. The
    row holding the clinic's current time is marked ``now`` on today's board. Four
    queries whatever the size of the day."""
    board = board_for_day(clinic, day)
    hours = (
        OpeningHours.objects.filter(clinic=clinic, weekday=day.weekday())
        .values_list("opens", "closes")
        .first()
    )
    closure = Closure.objects.filter(clinic=clinic, date=day).first()
    chairs = board["chairs"]
    placed: list[tuple[int, int, int, dict[str, Any]]] = []
    cancelled: list[dict[str, Any]] = []
    for column, chair in enumerate(chairs):
        for entry in chair["sessions"]:
            if entry["status"] == SessionStatus.CANCELLED:
                cancelled.append({**_labels(entry), "chair_name": chair["name"]})
                continue
            start = _local_minute(entry["starts_at"], day, clinic)
            end = max(_local_minute(entry["ends_at"], day, clinic), start + 1)
            placed.append((column, start, end, _labels(entry)))
    bounds = [start for _, start, _, _ in placed] + [end for _, _, end, _ in placed]
    if hours is not None:
        opens, closes = hours
        bounds += [opens.hour * 60 + opens.minute, closes.hour * 60 + closes.minute]
    rows: list[dict[str, Any]] = []
    if bounds:
        top = min(bounds) // row_minutes * row_minutes
        bottom = min(-(-max(bounds) // row_minutes) * row_minutes, MINUTES_PER_DAY)
        rows = _grid_rows(len(chairs), placed, top, max(bottom, top + row_minutes), row_minutes)
    if day == clinic.today() and rows:
        minute = _local_minute(timezone.now(), day, clinic)
        for row in rows:
            start = row["time"].hour * 60 + row["time"].minute
            row["now"] = start <= minute < start + row_minutes
            # In tenths of the row: board.css has a class for each (no inline style).
            row["now_percent"] = (minute - start) * 10 // row_minutes * 10
    return {
        "date": day,
        "chairs": [
            {"id": chair["id"], "name": chair["name"], "active": chair["active"]}
            for chair in chairs
        ],
        "rows": rows,
        "hours": hours,
        "closure": closure,
        "session_count": len(placed),
        "cancelled": sorted(cancelled, key=lambda entry: (entry["starts_at"], entry["id"])),
    }


def _grid_rows(
    columns: int,
    placed: list[tuple[int, int, int, dict[str, Any]]],
    top: int,
    bottom: int,
    row_minutes: int,
) -> list[dict[str, Any]]:
    row_count = (bottom - top) // row_minutes
    cells: dict[tuple[int, int], dict[str, Any]] = {}  # (column, first row) -> cell
    covered: set[tuple[int, int]] = set()
    open_cell: dict[int, dict[str, Any]] = {}
    for column, start, end, entry in sorted(placed, key=lambda item: (item[0], item[1])):
        first = (start - top) // row_minutes
        last = -(-(end - top) // row_minutes)  # exclusive
        cell = open_cell.get(column)
        if cell is not None and first < cell["first"] + cell["rowspan"]:
            cell["sessions"].append(entry)
            cell["rowspan"] = max(cell["rowspan"], last - cell["first"])
            continue
        cell = {"first": first, "rowspan": max(last - first, 1), "sessions": [entry]}
        open_cell[column] = cell
        cells[(column, first)] = cell
    for (column, first), cell in cells.items():
        cell["rowspan"] = min(cell["rowspan"], row_count - first)
        covered.update((column, row) for row in range(first + 1, first + cell["rowspan"]))
    rows = []
    for row in range(row_count):
        minute = top + row * row_minutes
        row_cells = []
        for column in range(columns):
            if (column, row) in cells:
                row_cells.append(cells[(column, row)])
            elif (column, row) not in covered:
                row_cells.append({"first": row, "rowspan": 1, "sessions": []})
        rows.append({"time": dt.time(minute // 60, minute % 60), "cells": row_cells})
    return rows


def _cards_query(clinic: Clinic) -> QuerySet[Session]:
    return (
        with_course_totals(
            with_review_hold(Session.objects.filter(chair__clinic=clinic).with_sequence())
        )
        .select_related("patient", "chair", "course__protocol")
        .only(
            "id",
            "chair_id",
            "course_id",
            "patient_id",
            "starts_at",
            "ends_at",
            "status",
            "kind",
            "pending_authorization",
            "checked_in_at",
            "missed_at",
            "cancelled_at",
            "patient__first_name",
            "patient__last_name",
            "patient__mrn",
            "chair__name",
            "course__risk_level",
            "course__protocol__name",
            "course__protocol__pulses_per_session",
            "course__protocol__intensity_pct_mt",
            "course__protocol__target",
            "course__prescribed_pulses",
            "course__prescribed_intensity_pct_mt",
            "course__prescribed_coil_position",
        )
        .annotate(
            threshold_pct=latest_threshold("course_id"),
            threshold_on=latest_threshold("course_id", "measured_on"),
        )
    )


def _card(session: Session) -> dict[str, Any]:
    """A session as the staff pages show it: the board entry's shape plus its chair and
    what its course prescribes (with the latest motor threshold)."""
    return _labels(
        {
            **_board_entry(session),
            "chair": {"id": session.chair_id, "name": session.chair.name},
            "protocol": {"name": session.course.protocol.name},
            "prescription": prescription_for(
                session.course,
                motor_threshold_pct=session.threshold_pct,  # type: ignore[attr-defined]
                motor_threshold_on=session.threshold_on,  # type: ignore[attr-defined]
            ),
        }
    )


def session_card(clinic: Clinic, session_id: int) -> dict[str, Any] | None:
    """One session of ``clinic`` for re-rendering its block or row (one query)."""
    session = _cards_query(clinic).filter(pk=session_id).first()
    return None if session is None else _card(session)


def sessions_for_day_list(clinic: Clinic, day: dt.date) -> list[dict[str, Any]]:
    """A clinic-local day's sessions in time order (the technician's list): one query."""
    start, end = day_bounds(day, clinic.tz)
    sessions = list(
        _cards_query(clinic)
        .filter(starts_at__gte=start, starts_at__lt=end)
        .order_by("starts_at", "chair__name", "id")
    )
    cards = [_card(session) for session in sessions]
    disambiguate(cards, {session.patient_id: session.patient.mrn for session in sessions})
    return cards


def move_options(
    clinic: Clinic, session: Session, day: dt.date, step_minutes: int = BOARD_ROW_MINUTES
) -> dict[str, Any]:
    """Where a session could move on a clinic-local day: per chair in service, the start
    times (every ``step_minutes`` on the clinic's clock, and the first free moment) from
    now on at which the chair is free for the session's whole length and the patient's
    protocol allows it (no overlap, the minimum gap between same-day sessions, at most
    its sessions per day). The session's own place counts as free. The service checks
    all of it again when a time is chosen. ``session`` needs its course's protocol."""
    protocol = session.course.protocol
    length = session.ends_at - session.starts_at
    minutes = -(-int(length.total_seconds()) // 60)
    calendar = load_calendar(
        clinic,
        day,
        day,
        coil=protocol.coil,
        patient_id=session.patient_id,
        ignore_sessions=[session.pk],
    )
    same_day = calendar.patient_sessions_on(day)
    day_full = len(same_day) >= sessions_allowed_on(
        session.course, day, clinic.tz, placing=session.kind, ignore=session.pk
    )
    gap = dt.timedelta(minutes=protocol.start_spacing)
    now = timezone.now()
    step = dt.timedelta(minutes=step_minutes)
    chairs = []
    for chair in calendar.chairs:
        starts: list[dt.datetime] = []
        intervals = [] if day_full else calendar.free_intervals(chair.pk, day, minutes)
        for free_start, free_end in intervals:
            candidate = free_start
            while candidate + length <= free_end:
                where_it_is = chair.pk == session.chair_id and candidate == session.starts_at
                clear_of_patient = keeps_gap(candidate, candidate + length, same_day, gap)
                if candidate >= now and clear_of_patient and not where_it_is:
                    starts.append(candidate)
                local = candidate.astimezone(clinic.tz)
                candidate += step - dt.timedelta(
                    minutes=local.minute % step_minutes,
                    seconds=local.second,
                    microseconds=local.microsecond,
                )
        chairs.append({"id": chair.pk, "name": chair.name, "starts": starts})
    return {
        "date": day,
        "minutes": minutes,
        "open": calendar.opening(day) is not None,
        "closed": day in calendar.closures,
        "patient_sessions": len(same_day),
        "day_full": day_full,
        "sessions_per_day": protocol.sessions_per_day,
        "chairs": chairs,
    }
