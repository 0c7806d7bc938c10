"""The day board's read: a clinic-local day's sessions by chair (the API's board and the
board page), and the board as the API's JSON.

Rows, not models: the board reads 120 sessions with their patient and course, and
building three model instances a row, then reading them back through DRF's serializers
field by field, cost several times the query (issue 18, "booking under load": the board
was the slowest operation). The rows come as tuples from one query; the API's JSON is
built from them by ``board_json`` with the same DRF fields' representations the
``BoardSerializer`` (the schema's) uses, so the bytes are the same
(tests/scheduling/test_board_read.py compares them).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Case, F, OuterRef, Q, QuerySet, Subquery, Sum, Value, When

from clinic import dates
from clinic.audit_scope import note_loaded_patients
from clinic.models import Chair, Clinic
from courses.models import MappingSchedule, ProtocolPhase
from scheduling.adverse_events import with_review_hold
from scheduling.board_names import disambiguate, patient_board_name
from scheduling.calendar import day_bounds
from scheduling.models import UPCOMING, Session


def with_course_totals(queryset: QuerySet[Session]) -> QuerySet[Session]:
    """Annotate ``sessions_total``: how many sessions the session's course has."""
    total = (
        ProtocolPhase.objects.filter(protocol=OuterRef("course__protocol"))
        .values("protocol")
        .annotate(total=Sum("sessions"))
        .values("total")
    )
    # As courses.course_plan.course_sessions_total counts: the sessions added, and a
    # mapping session of its own unless the course reuses a motor threshold.
    separate_mapping = Case(
        When(course__protocol__mapping_schedule=MappingSchedule.FIRST_TREATMENT, then=Value(0)),
        When(course__mapping_reused_from__isnull=False, then=Value(0)),
        default=Value(1),
    )
    return queryset.annotate(
        sessions_total=Subquery(total) + F("course__added_sessions") + separate_mapping
    )


# The columns of a board row, in the order ``_entry`` unpacks them.
_ROW = (
    "id",
    "chair_id",
    "starts_at",
    "ends_at",
    "status",
    "kind",
    "pending_authorization",
    "checked_in_at",
    "missed_at",
    "cancelled_at",
    "patient_id",
    "patient__first_name",
    "patient__last_name",
    "patient__mrn",
    "patient__clinic_id",
    "course_id",
    "course__risk_level",
    "sequence",
    "sessions_total",
    "course_on_hold",
)


def _entry(row: tuple[Any, ...]) -> dict[str, Any]:
    """A session as the board (API and page) shows it (the shape of
    ``selectors._board_entry``, which builds it from a model)."""
    (
        session_id,
        _chair_id,
        starts_at,
        ends_at,
        status,
        kind,
        pending_authorization,
        checked_in_at,
        missed_at,
        cancelled_at,
        patient_id,
        first_name,
        last_name,
        _mrn,
        _clinic_id,
        course_id,
        risk_level,
        sequence,
        sessions_total,
        on_hold,
    ) = row
    return {
        "id": session_id,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "status": status,
        "kind": kind,
        "pending_authorization": pending_authorization,
        # When the current mark was made (the pages offer to undo it the same day).
        "marked": {
            "checked_in_at": checked_in_at,
            "missed_at": missed_at,
            "cancelled_at": cancelled_at,
        },
        "patient": {"id": patient_id, "name": patient_board_name(first_name, last_name)},
        "course": {
            "id": course_id,
            "sequence": sequence,
            "sessions_total": sessions_total,
            "risk_level": risk_level,
            # Held after an adverse event: no check-in or completion until a decision.
            "needs_review": on_hold and status in UPCOMING,
        },
    }


def board_for_day(clinic: Clinic, day: dt.date) -> dict[str, Any]:
    """Chairs with the day's sessions: two queries whatever the size of the day. The
    patients read are noted for the audit trail with their clinic (as loading their
    rows would note them)."""
    start, end = day_bounds(day, clinic.tz)
    rows = list(
        with_course_totals(
            with_review_hold(
                Session.objects.filter(
                    chair__clinic=clinic, starts_at__gte=start, starts_at__lt=end
                ).with_sequence()
            )
        )
        .order_by("starts_at", "id")
        .values_list(*_ROW)
    )
    note_loaded_patients((row[10], row[14]) for row in rows)
    entries = [_entry(row) for row in rows]
    disambiguate(entries, {row[10]: row[13] for row in rows})
    used_chairs = {row[1] for row in rows}
    chairs = list(
        Chair.objects.filter(Q(active=True) | Q(id__in=used_chairs), clinic=clinic)
        .order_by("name", "id")
        .values_list("id", "name", "active")
    )
    by_chair: dict[int, list[dict[str, Any]]] = {chair_id: [] for chair_id, _, _ in chairs}
    for row, entry in zip(rows, entries, strict=True):
        by_chair[row[1]].append(entry)
    return {
        "date": day,
        "clinic": clinic.pk,
        "chairs": [
            {"id": chair_id, "name": name, "active": active, "sessions": by_chair[chair_id]}
            for chair_id, name, active in chairs
        ],
    }


def _integer(value: Any) -> int | None:
    return None if value is None else int(value)


def board_json(board: dict[str, Any]) -> dict[str, Any]:
    """``board_for_day``'s board as the API answers it: exactly what
    ``serializers.BoardSerializer(board).data`` gives (the schema's), without building
    and walking a serializer per session and field."""
    field = dates.DateTimeField()
    # A day's 120 sessions start at a dozen distinct times: each is formatted once.
    formatted: dict[dt.datetime, Any] = {}

    def moment(value: dt.datetime) -> Any:
        if value not in formatted:
            formatted[value] = field.to_representation(value)
        return formatted[value]

    return {
        "date": dates.DateField().to_representation(board["date"]),
        "clinic": board["clinic"],
        "chairs": [
            {
                "id": chair["id"],
                "name": str(chair["name"]),
                "active": bool(chair["active"]),
                "sessions": [
                    {
                        "id": entry["id"],
                        "starts_at": moment(entry["starts_at"]),
                        "ends_at": moment(entry["ends_at"]),
                        "status": str(entry["status"]),
                        "kind": str(entry["kind"]),
                        "pending_authorization": bool(entry["pending_authorization"]),
                        "patient": {
                            "id": entry["patient"]["id"],
                            "name": str(entry["patient"]["name"]),
                        },
                        "course": {
                            "id": entry["course"]["id"],
                            "sequence": _integer(entry["course"]["sequence"]),
                            "sessions_total": _integer(entry["course"]["sessions_total"]),
                            "risk_level": str(entry["course"]["risk_level"]),
                            "needs_review": bool(entry["course"]["needs_review"]),
                        },
                    }
                    for entry in chair["sessions"]
                ],
            }
            for chair in board["chairs"]
        ],
    }
