"""The risk rules that depend on a course's rhythm, defined for each course type and
said in words on the course page (scheduling.risk applies them).

The acute rules assume five sessions a week: a gap of 3 clinic days is worth
watching, 5 puts the course at risk, and is judged during the first (acute) phase
only, since a taper meets less often. A booster is a short acute-style cluster: the
same gap, over all of it, and every missed session is worth watching. Continuation
and maintenance courses meet weekly to monthly, so a gap is judged against the
cadence of the phase the course is in (a week late: watch; two weeks late: at risk),
in calendar days, and their missed share allows a little more (one missed session
of 11 is 9%).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from courses.models import CourseType, ProtocolPhase, RiskLevel

WATCH, AT_RISK = RiskLevel.WATCH, RiskLevel.AT_RISK
CLINIC_DAYS, CADENCE = "clinic_days", "cadence"


@dataclass(frozen=True)
class TypeRules:
    missed_watch: float  # a missed share above this: watch
    missed_at_risk: float  # above this: at risk
    gap_unit: str  # CLINIC_DAYS: open clinic days; CADENCE: days past the phase's interval
    gap_watch: int
    gap_at_risk: int
    gap_first_phase_only: bool


ACUTE_RULES = TypeRules(0.10, 0.20, CLINIC_DAYS, 3, 5, gap_first_phase_only=True)
SPARSE_RULES = TypeRules(0.15, 0.30, CADENCE, 7, 14, gap_first_phase_only=False)
TYPE_RULES: dict[str, TypeRules] = {
    CourseType.ACUTE: ACUTE_RULES,
    CourseType.BOOSTER: TypeRules(0.0, 0.20, CLINIC_DAYS, 3, 5, gap_first_phase_only=False),
    CourseType.CONTINUATION: SPARSE_RULES,
    CourseType.MAINTENANCE: SPARSE_RULES,
}


def rules_for(course: Any) -> TypeRules:
    return TYPE_RULES.get(course.type, ACUTE_RULES)


def missed_share(course: Any, missed: int, total: int) -> tuple[str, str] | None:
    """(level, detail) when the course's missed share trips its type's rule."""
    rules = rules_for(course)
    if not total or missed / total <= rules.missed_watch:
        return None
    share = round(100 * missed / total)
    level = AT_RISK if missed / total > rules.missed_at_risk else WATCH
    return level, f"{missed} of {total} planned sessions missed ({share}%)."


def _level(gap: int, rules: TypeRules) -> str | None:
    if gap >= rules.gap_at_risk:
        return AT_RISK
    return WATCH if gap >= rules.gap_watch else None


def treatment_gap(
    facts: Any,
    phases: Sequence[ProtocolPhase],
    today: dt.date,
    clinic_days_between: Callable[[Any, dt.date, dt.date], int],
) -> tuple[str, str] | None:
    """(level, detail) when the time since the last completed session (since the day
    before the first session, when none is completed) trips the type's gap rule;
    ``facts``: scheduling.risk.CourseFacts (sessions in time order)."""
    rules = rules_for(facts.course)
    sessions = facts.sessions
    if not sessions or not phases:
        return None
    if rules.gap_first_phase_only:
        first = phases[0]
        # A mapping session of its own is in the first phase but not one of its sessions.
        course = facts.course
        maps = course.protocol.separate_mapping and course.mapping_reused_from_id is None
        done = sum(1 for s in sessions if s.phase == first.order and s.status == "completed")
        if done >= first.sessions + int(maps):
            return None
    last_completed = next((s for s in reversed(sessions) if s.status == "completed"), None)
    since = (
        facts.local_date(last_completed.starts_at)
        if last_completed is not None
        else facts.local_date(sessions[0].starts_at) - dt.timedelta(days=1)
    )
    if since >= today:
        return None
    if rules.gap_unit == CLINIC_DAYS:
        gap = clinic_days_between(facts, since, today)
        level = _level(gap, rules)
        return (level, f"No completed session for {gap} clinic days.") if level else None
    interval = _current_interval(sessions, phases, last_completed)
    days = (today - since).days
    level = _level(days - interval, rules)
    if level is None:
        return None
    return level, (
        f"No completed session for {days} days; the course meets about every {interval} days."
    )


def _current_interval(sessions: Sequence[Any], phases: Sequence[ProtocolPhase], last: Any) -> int:
    """Days between sessions in the phase the course is in: the longer of the last
    completed session's phase and the next one's (a course stepping from weekly to
    every 2 weeks is not late in the week between)."""
    by_order = {phase.order: phase.interval_days for phase in phases}
    upcoming = next((s for s in sessions if s.status in ("scheduled", "checked_in")), None)
    orders = [s.phase for s in (last, upcoming) if s is not None]
    return max((by_order.get(order, 7) for order in orders), default=phases[0].interval_days)


def rules_in_words(course: Any, phases: Sequence[ProtocolPhase]) -> list[tuple[str, str]]:
    """(rule, words) for the course page: how this course's type is judged."""
    rules = rules_for(course)
    if rules.gap_unit == CLINIC_DAYS:
        scope = "during the first phase" if rules.gap_first_phase_only else "at any point"
        gap = (
            f"{rules.gap_watch} open clinic days without a completed session {scope} is "
            f"worth watching; {rules.gap_at_risk} puts the course at risk."
        )
    else:
        cadence = ", then ".join(phase.in_words for phase in phases)
        gap = (
            f"Judged against the cadence of the phase the course is in ({cadence}): a "
            f"session {rules.gap_watch} days later than due is worth watching; "
            f"{rules.gap_at_risk} days late puts the course at risk."
        )
    if rules.missed_watch == 0:
        missed = "Any missed session is worth watching"
    else:
        missed = f"More than {round(100 * rules.missed_watch)}% missed is worth watching"
    missed += f"; more than {round(100 * rules.missed_at_risk)}% puts the course at risk."
    grace = course.patient.clinic.course_window_grace_weeks
    window = f"The planned weeks of every phase plus the clinic's {grace} weeks of grace"
    if rules.gap_unit == CADENCE:
        window += " and the longest interval between its sessions"
    window += "; a course projected to end after it is at risk."
    return [
        ("Gap in treatment", gap),
        ("Missed sessions", missed + " Two missed in a row put any course at risk."),
        ("Course window", window),
    ]
