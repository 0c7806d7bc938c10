"""Course risk: which rules a course trips, how serious each is, and why.

Every reason is a stable code a UI can explain. Facts for many courses are loaded in a
fixed number of queries, so recomputing after an attendance event, a sweep over a
thousand courses, or the nightly run all cost the same handful of queries.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

from django.db import transaction
from django.utils import timezone

from courses.course_plan import course_phases, course_sessions_total
from courses.instruments import InstrumentCode
from courses.models import (
    OPEN_STATUSES,
    Assessment,
    Authorization,
    CourseStatus,
    ProtocolPhase,
    RiskLevel,
    TreatmentCourse,
)
from courses.selectors import BASELINE_DAYS, Outcome, outcome_for, window_end_date
from scheduling import risk_rules, signals
from scheduling.billing import CodeAllowance, allowances, code_warnings

WATCH, AT_RISK = RiskLevel.WATCH, RiskLevel.AT_RISK
LEVEL_ORDER: dict[str, int] = {RiskLevel.OK: 0, RiskLevel.WATCH: 1, RiskLevel.AT_RISK: 2}
ASSESSMENT_INTERVAL_DAYS = 7
AUTHORIZATION_LOW = 3
AUTHORIZATION_EXPIRY_DAYS = 7
# A planned course whose first session has passed is under way for the gap, too.
UNDER_WAY = (CourseStatus.PLANNED, CourseStatus.ACTIVE)
# get_FOO_display() rebuilds the choices dict on every call; risk runs per course.
INSTRUMENT_LABELS: dict[str, str] = dict(InstrumentCode.choices)

REASON_TITLES = {
    "missed_consecutive": "Missed sessions in a row",
    "missed_share": "Many missed sessions",
    "treatment_gap": "Gap in treatment",
    "window_overrun": "Course will overrun its window",
    "unscheduled_remaining": "Sessions not yet booked",
    "authorization_short": "Authorization covers fewer sessions than the course",
    "authorization_expiring": "Authorization expiring",
    "authorization_low": "Few authorized sessions left",
    "authorization_code_exceeded": "More sessions of a code booked than authorized",
    "authorization_code_low": "Few authorized units of a code left",
    "no_baseline": "No baseline score",
    "assessment_overdue": "Rating overdue",
    "safety_flag": "Safety flag",
    "adverse_event": "Adverse event awaiting review",
}


@dataclass(frozen=True)
class Reason:
    code: str
    level: str
    detail: str


class SessionFact(NamedTuple):
    """A session as risk sees it (a tuple: tens of thousands are made per sweep)."""

    status: str
    starts_at: dt.datetime
    phase: int
    kind: str = ""  # "" where the reader needs no codes (a missed or cancelled session)
    billing_code: str = ""


@dataclass
class CourseFacts:
    course: TreatmentCourse
    sessions: list[SessionFact] = field(default_factory=list)
    assessments: list[Assessment] = field(default_factory=list)
    authorizations: list[Authorization] = field(default_factory=list)
    authorization_codes: list[tuple[str, int]] = field(default_factory=list)
    # The protocol's phases in order; None: read them from the (prefetched) protocol.
    phases: list[ProtocolPhase] | None = None
    open_safety_flags: int = 0
    adverse_event_pending: bool = False  # holds the course until a psychiatrist decides
    closures: set[dt.date] = field(default_factory=set)
    open_weekdays: set[int] = field(default_factory=set)

    @cached_property
    def phase_list(self) -> list[ProtocolPhase]:
        if self.phases is not None:
            return self.phases
        return list(self.course.protocol.phases.all())

    @cached_property
    def course_phase_list(self) -> list[ProtocolPhase]:
        """The course's own phases: the protocol's with the sessions added."""
        return course_phases(self.course, self.phase_list)

    @cached_property
    def tz(self) -> Any:
        return self.course.patient.clinic.tz

    def local_date(self, moment: dt.datetime) -> dt.date:
        return moment.astimezone(self.tz).date()


@dataclass(frozen=True)
class Progress:
    sessions_total: int
    completed: int
    missed: int
    cancelled: int
    scheduled: int
    remaining: int
    unscheduled: int
    next_session_at: dt.datetime | None
    first_session_date: dt.date | None
    projected_end_date: dt.date
    window_end_date: dt.date
    authorized: int | None
    authorization_remaining: int | None
    outcome: Outcome
    level: str
    reasons: list[Reason]
    # Per code, for authorizations scoped to codes (scheduling.billing); else empty.
    codes: dict[str, CodeAllowance] = field(default_factory=dict)


def _business_days_between(facts: CourseFacts, after: dt.date, before: dt.date) -> int:
    """Open clinic days strictly between two dates."""
    count, day = 0, after + dt.timedelta(days=1)
    while day < before:
        if day.weekday() in facts.open_weekdays and day not in facts.closures:
            count += 1
        day += dt.timedelta(days=1)
    return count


def _add_business_days(facts: CourseFacts, start: dt.date, days: int) -> dt.date:
    day = start
    for _ in range(1000):
        if days <= 0:
            break
        day += dt.timedelta(days=1)
        if day.weekday() in facts.open_weekdays and day not in facts.closures:
            days -= 1
    return day


def progress(facts: CourseFacts, now: dt.datetime | None = None) -> Progress:
    now = now or timezone.now()
    course = facts.course
    today = now.astimezone(facts.tz).date()
    protocol = course.protocol
    # A mapping session of its own (accelerated protocols) is a session of the course too.
    total = course_sessions_total(course, facts.phase_list)
    by_status: dict[str, int] = defaultdict(int)
    for session in facts.sessions:
        by_status[session.status] += 1
    completed = by_status["completed"]
    upcoming = [s for s in facts.sessions if s.status in ("scheduled", "checked_in")]
    held = completed + len(upcoming)
    unscheduled = max(0, total - held)
    occupying = [s for s in facts.sessions if s.status in ("scheduled", "checked_in", "completed")]
    first_session_date = facts.local_date(occupying[0].starts_at) if occupying else None
    window_end = window_end_date(course, facts.phase_list)
    if occupying:
        last_date = facts.local_date(occupying[-1].starts_at)
        projected_end = _add_business_days(
            facts, last_date, math.ceil(unscheduled / protocol.sessions_per_day)
        )
    else:
        projected_end = window_end - dt.timedelta(
            weeks=course.patient.clinic.course_window_grace_weeks
        )
    authorizations = facts.authorizations
    authorized = sum(a.sessions_authorized for a in authorizations) if authorizations else None
    future = [s for s in upcoming if s.starts_at >= now - dt.timedelta(hours=2)]
    outcome = outcome_for(
        course.primary_instrument, facts.assessments, first_session_date or course.start_date
    )
    codes = allowances(
        facts.authorization_codes,
        ((s.status, s.kind, s.billing_code, facts.local_date(s.starts_at)) for s in facts.sessions),
    )
    reasons = _reasons(
        facts,
        now=now,
        today=today,
        total=total,
        completed=completed,
        missed=by_status["missed"],
        unscheduled=unscheduled,
        first_session_date=first_session_date,
        projected_end=projected_end,
        window_end=window_end,
        authorized=authorized,
        last_booked=facts.local_date(upcoming[-1].starts_at) if upcoming else None,
        outcome=outcome,
    )
    if course.status in OPEN_STATUSES:
        low = AUTHORIZATION_LOW
        reasons += [Reason(c, WATCH, d) for c, d in code_warnings(codes, total - completed, low)]
    level = max(
        (reason.level for reason in reasons), key=LEVEL_ORDER.__getitem__, default=RiskLevel.OK
    )
    return Progress(
        sessions_total=total,
        completed=completed,
        missed=by_status["missed"],
        cancelled=by_status["cancelled"],
        scheduled=len(upcoming),
        remaining=max(0, total - completed),
        unscheduled=unscheduled,
        next_session_at=future[0].starts_at if future else None,
        first_session_date=first_session_date,
        projected_end_date=projected_end,
        window_end_date=window_end,
        authorized=authorized,
        authorization_remaining=None if authorized is None else max(0, authorized - completed),
        outcome=outcome,
        level=level,
        reasons=reasons,
        codes=codes,
    )


def _reasons(
    facts: CourseFacts,
    *,
    now: dt.datetime,
    today: dt.date,
    total: int,
    completed: int,
    missed: int,
    unscheduled: int,
    first_session_date: dt.date | None,
    projected_end: dt.date,
    window_end: dt.date,
    authorized: int | None,
    last_booked: dt.date | None,
    outcome: Outcome,
) -> list[Reason]:
    course = facts.course
    if course.status not in OPEN_STATUSES:
        return []
    reasons: list[Reason] = []

    def add(code: str, level: str, detail: str) -> None:
        reasons.append(Reason(code, level, detail))

    attended = [
        s for s in facts.sessions if s.status in ("completed", "missed") and s.starts_at < now
    ]
    streak = 0
    for session in reversed(attended):
        if session.status != "missed":
            break
        streak += 1
    if streak >= 2:
        add("missed_consecutive", AT_RISK, f"The last {streak} sessions were missed in a row.")

    share = risk_rules.missed_share(course, missed, total)
    if share is not None:
        add("missed_share", *share)

    # Counted from the first session of any status: a patient who has missed or
    # cancelled everything so far is the most urgent gap of all (and their course is
    # still "planned": only a check-in starts it).
    if course.status in UNDER_WAY:
        gap = risk_rules.treatment_gap(
            facts, facts.course_phase_list, today, _business_days_between
        )
        if gap is not None:
            add("treatment_gap", *gap)

    if projected_end > window_end:
        add(
            "window_overrun",
            AT_RISK,
            f"Projected to end {projected_end:%d %b %Y}, after the window ends "
            f"{window_end:%d %b %Y}.",
        )

    if unscheduled and (first_session_date or course.status == CourseStatus.ACTIVE):
        add("unscheduled_remaining", WATCH, f"{unscheduled} session(s) still need a booking.")

    authorizations = facts.authorizations
    if authorized is not None:
        if authorized < total:
            add(
                "authorization_short",
                WATCH,
                f"Authorized for {authorized} sessions; the course plans {total}.",
            )
        valid_until = max(a.valid_until for a in authorizations)
        remaining_course = total - completed
        if remaining_course > 0 and (
            (last_booked is not None and last_booked > valid_until)
            or (valid_until - today).days <= AUTHORIZATION_EXPIRY_DAYS
        ):
            add(
                "authorization_expiring",
                WATCH,
                f"The authorization ends {valid_until:%d %b %Y} with sessions still to come.",
            )
        left = authorized - completed
        if left <= AUTHORIZATION_LOW and remaining_course > left:
            add("authorization_low", WATCH, f"Only {max(0, left)} authorized session(s) left.")

    first_day = first_session_date or course.start_date
    if outcome.baseline is None and today >= first_day - dt.timedelta(days=BASELINE_DAYS):
        add(
            "no_baseline",
            WATCH,
            f"No {INSTRUMENT_LABELS[course.primary_instrument]} in the 7 days before session 1.",
        )

    if (
        course.status == CourseStatus.ACTIVE
        and first_session_date is not None
        and (today - first_session_date).days >= ASSESSMENT_INTERVAL_DAYS
    ):
        recent = [
            a
            for a in facts.assessments
            if a.instrument == course.primary_instrument
            and (today - a.administered_on).days < ASSESSMENT_INTERVAL_DAYS
        ]
        if not recent:
            add(
                "assessment_overdue",
                WATCH,
                f"No {INSTRUMENT_LABELS[course.primary_instrument]} in the last 7 days.",
            )

    if facts.open_safety_flags:
        add(
            "safety_flag",
            AT_RISK,
            "A rating reported thoughts of self-harm; a psychiatrist must review it.",
        )
    if facts.adverse_event_pending:
        add(
            "adverse_event",
            AT_RISK,
            "An adverse event holds the course; a psychiatrist must record a decision.",
        )
    return reasons


def recompute_risk(course_ids: Iterable[int], now: dt.datetime | None = None) -> int:
    """Store each course's current risk level; returns how many changed."""
    from scheduling.risk_facts import load_facts  # it builds this module's CourseFacts

    return store_risk(load_facts(course_ids), now)


def store_risk(all_facts: Iterable[CourseFacts], now: dt.datetime | None = None) -> int:
    """Store the risk level of courses whose facts the caller already holds (one UPDATE
    at most); returns how many changed."""
    from courses import alerts

    changed: list[tuple[TreatmentCourse, str]] = []
    for facts in all_facts:
        level = progress(facts, now).level
        if facts.course.risk_level != level:
            changed.append((facts.course, facts.course.risk_level))
            facts.course.risk_level = level
    if not changed:
        return 0
    # The levels, their alerts and what the apps above write for them commit together
    # (the nightly pass runs outside any other transaction).
    with transaction.atomic():
        TreatmentCourse.objects.bulk_update(
            [course for course, _ in changed], ["risk_level"], batch_size=500
        )
        alerts.raise_for_risk_changes(changed)
        signals.announce_course_risk_changed(
            [(course.pk, previous, course.risk_level) for course, previous in changed],
            [course for course, _ in changed],
        )
    return len(changed)


def recompute_open_courses(now: dt.datetime | None = None, chunk: int = 500) -> int:
    """The nightly pass over every open course."""
    ids = list(
        TreatmentCourse.objects.filter(status__in=OPEN_STATUSES)
        .order_by("id")
        .values_list("id", flat=True)
    )
    return sum(recompute_risk(ids[i : i + chunk], now) for i in range(0, len(ids), chunk))


def reasons_as_codes(reasons: Sequence[Reason]) -> list[str]:
    return [reason.code for reason in reasons]
