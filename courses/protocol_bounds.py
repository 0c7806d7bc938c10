"""How large a protocol may be (issue 15, item 5).

A protocol of 200 phases of 500 sessions was accepted; scheduling it booked 100,000
sessions. These bounds follow the published schedules with headroom, and hold in the
database (courses.models.protocols' CheckConstraints), in the API's serializer and in
``protocol_save``; the planner refuses a course whose protocol is larger anyway (one
saved before the bounds).

- Sessions in all (``MAX_SESSIONS_TOTAL``, 100): the longest published schedules are
  SNT's 50 (ten a day for five days, Cole et al. 2022), deep TMS's 44 (20 acute then 2 a
  week for 12 weeks, the H1 label) and 36 for the figure-8 protocols with their taper
  (O'Reardon 2007); prolonged courses for late responders reach about 60 (acute 36 plus
  a continuation). 100 leaves room for that and more; a course beyond it is a new course.
- Phases (``MAX_PHASES``, 8): the catalog's longest is 4 (acute and three taper steps);
  acute, continuation and a four-step taper still fit.
- Sessions a day (``MAX_SESSIONS_PER_DAY``, 10): SNT's ten a day is the published most.
- Minutes (``MAX_SLOT_MINUTES``, 240): slots run 10 to 40 minutes and the mapping
  session 60; no session or gap of a treatment day is longer than four hours.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError

MAX_SESSIONS_TOTAL = 100
MAX_PHASES = 8
MAX_SESSIONS_PER_DAY = 10
MAX_SLOT_MINUTES = 240
# Intensity, % of motor threshold (the database's protocol_intensity_range).
MAX_INTENSITY_PCT_MT = 200
# How often a phase's weeks come round (courses.models.ProtocolPhase.every_weeks).
EVERY_WEEKS = (1, 2, 4)


def _invalid(field: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError({field: ValidationError(message, code=code)})


def check_schedule_size(phases: list[Mapping[str, Any]]) -> None:
    """The phases' count and sessions are within the bounds (codes ``too_many_phases``,
    ``too_many_sessions``)."""
    if len(phases) > MAX_PHASES:
        raise _invalid("phases", f"A protocol has at most {MAX_PHASES} phases.", "too_many_phases")
    total = sum(phase["sessions"] for phase in phases)
    if total > MAX_SESSIONS_TOTAL:
        raise _invalid(
            "phases",
            f"A protocol has at most {MAX_SESSIONS_TOTAL} sessions in all; these phases "
            f"add up to {total}.",
            "too_many_sessions",
        )


def check_protocol(fields: Mapping[str, Any], phases: list[Mapping[str, Any]]) -> None:
    if not phases:
        raise _invalid("phases", "A protocol needs at least one phase.", "required")
    for phase in phases:
        if not 1 <= phase["per_week"] <= 7:
            raise _invalid("phases", "Each phase's per_week must be between 1 and 7.")
        if phase.get("every_weeks", 1) not in EVERY_WEEKS:
            raise _invalid(
                "phases", "A phase runs every week, every 2 weeks or every 4 weeks.", "every_weeks"
            )
        if phase["sessions"] < 1:
            raise _invalid("phases", "Each phase needs at least one session.")
    check_schedule_size(phases)
    total = sum(phase["sessions"] for phase in phases)
    expected = fields.get("sessions_total")
    if expected is not None and expected != total:
        raise _invalid(
            "sessions_total",
            f"The phases add up to {total} sessions, not {expected}.",
            "phases_do_not_add_up",
        )
    if not 1 <= fields["sessions_per_day"] <= MAX_SESSIONS_PER_DAY:
        raise _invalid(
            "sessions_per_day",
            f"Between 1 and {MAX_SESSIONS_PER_DAY} sessions a day.",
            "out_of_range",
        )
    if fields["sessions_per_day"] > 1 and not fields.get("min_gap_minutes"):
        raise _invalid(
            "min_gap_minutes",
            "Protocols with several sessions a day need a minimum gap between them.",
            "gap_required",
        )
    if fields["mapping_minutes"] < fields["slot_minutes"]:
        raise _invalid("mapping_minutes", "The mapping slot cannot be shorter than a session.")
    for name in ("slot_minutes", "mapping_minutes", "min_gap_minutes"):
        if (fields.get(name) or 0) > MAX_SLOT_MINUTES:
            raise _invalid(name, f"At most {MAX_SLOT_MINUTES} minutes.", "out_of_range")
