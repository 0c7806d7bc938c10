"""Lay out a course's sessions on the calendar, in memory.

Rules (documented for front desk in docs/scheduling.md):
- The first session is the mapping session (the protocol's mapping slot); the rest are
  treatment sessions, taper sessions in taper phases and continuation sessions in
  continuation phases (a session's kind is its phase's kind). Accelerated protocols
  keep the mapping session apart from the treatments (``mapping_schedule``): on the
  course's start date with treatment from the next clinic day ("day_before"), or first
  thing on the first treatment day ("same_day"); either way it is not one of the
  phases' sessions.
- Each phase places its sessions on its weekdays: 5/week Mon-Fri, 4/week Mon, Tue,
  Thu, Fri, 3/week Mon/Wed/Fri, 2/week Tue/Thu, 1/week on the weekday the course
  started; 6 and 7 a week add Saturday and Sunday. A closed day (weekend, closure, no
  opening hours) moves its session to the phase's next weekday, so no session is lost.
- Phases below weekly (every 2 or 4 weeks) run in their first week and every 2nd or
  4th week after it, on the same weekdays; a closed day's session moves to the next
  open day of any weekday (not a month later), and the rhythm stays anchored to the
  phase's first week, so one closure does not shift the sessions after it. Wall-clock
  times hold across DST changes (each day's time is local).
- The first phase starts on the course's start date; each later phase starts in the
  week after the previous phase's last session.
- A course that reuses a recent motor threshold, or is re-planned after its mapping,
  has no mapping session (``needs_mapping``).
- Protocols with several sessions a day place them from the preferred time, each
  starting the protocol's minimum gap after the previous one's stimulation ends (its
  treatment minutes; the slot's set-up time is not counted): SNT's 10-minute sessions
  with 50 minutes between start on the hour, as published.
- Each session goes on the preferred chair, else the chair of the previous session
  (continuity), else any free active chair; with a time flex of N minutes it may move
  up to N minutes earlier or later (in 5-minute steps, nearest first) to find one.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from scheduling.calendar import ClinicCalendar, local_datetime

WEEKDAYS_BY_CADENCE: dict[int, tuple[int, ...]] = {
    2: (1, 3),
    3: (0, 2, 4),
    4: (0, 1, 3, 4),
    5: (0, 1, 2, 3, 4),
    6: (0, 1, 2, 3, 4, 5),
    7: (0, 1, 2, 3, 4, 5, 6),
}
FLEX_STEP_MINUTES = 5


@dataclass(frozen=True)
class PhasePlan:
    number: int
    kind: str  # "treatment" | "taper" | "continuation"
    sessions: int
    per_week: int
    every_weeks: int = 1  # 2 or 4: the phase runs one week in that many


@dataclass(frozen=True)
class Placement:
    starts_at: dt.datetime
    ends_at: dt.datetime
    chair_id: int
    kind: str
    phase: int


@dataclass(frozen=True)
class Failure:
    date: dt.date
    reason: str  # "slot_conflict" | "outside_hours" | "patient_conflict"


MAPPING_WITH_FIRST_TREATMENT = "first_treatment"
MAPPING_DAY_BEFORE = "day_before"
MAPPING_SAME_DAY = "same_day"


@dataclass(frozen=True)
class CourseShape:
    phases: Sequence[PhasePlan]
    slot_minutes: int
    mapping_minutes: int
    sessions_per_day: int
    min_gap_minutes: int
    # Start to start of same-day sessions at least (treatment minutes + minimum gap);
    # None: the whole slot plus the gap.
    start_spacing_minutes: int | None = None
    mapping_schedule: str = MAPPING_WITH_FIRST_TREATMENT
    # False: no mapping session (a motor threshold is reused, or the course re-planned
    # after its mapping); the first session is an ordinary one of its phase.
    needs_mapping: bool = True

    @property
    def spacing(self) -> dt.timedelta:
        if self.start_spacing_minutes is None:
            return dt.timedelta(minutes=self.slot_minutes + self.min_gap_minutes)
        return dt.timedelta(minutes=self.start_spacing_minutes)


def cadence_weekdays(per_week: int, start_weekday: int) -> tuple[int, ...]:
    if per_week == 1:
        return (start_weekday if start_weekday < 5 else 0,)
    return WEEKDAYS_BY_CADENCE[per_week]


FLEX_BOTH = "around"
FLEX_EARLIER = "before"  # "before 10:00": at the time or up to the flex earlier
FLEX_LATER = "after"  # "after 16:30": at the time or up to the flex later


def flex_offsets(flex_minutes: int, direction: str = FLEX_BOTH) -> list[int]:
    """Minutes from the preferred time to try, nearest first; ``direction`` keeps
    only the earlier (``before``) or later (``after``) side."""
    offsets = [0]
    for step in range(FLEX_STEP_MINUTES, flex_minutes + 1, FLEX_STEP_MINUTES):
        if direction != FLEX_EARLIER:
            offsets.append(step)
        if direction != FLEX_LATER:
            offsets.append(-step)
    return offsets


class Planner:
    def __init__(
        self,
        calendar: ClinicCalendar,
        *,
        preferred_time: dt.time,
        preferred_chair_id: int | None,
        time_flex_minutes: int = 0,
        flex_direction: str = FLEX_BOTH,
        fail_fast: bool = False,
    ) -> None:
        self.calendar = calendar
        self.preferred_time = preferred_time
        self.preferred_chair_id = preferred_chair_id
        self.offsets = flex_offsets(time_flex_minutes, flex_direction)
        self.last_chair_id: int | None = None
        # Stop at the first session that cannot be placed (a search for a start date
        # that fits needs only whether one failed, not every failure).
        self.fail_fast = fail_fast

    def chair_order(self) -> list[int]:
        active = [chair.pk for chair in self.calendar.chairs]
        first = [c for c in (self.preferred_chair_id, self.last_chair_id) if c in active]
        return list(dict.fromkeys([*first, *active]))

    def place(
        self,
        earliest: dt.datetime,
        minutes: int,
        *,
        not_before: dt.datetime | None = None,
    ) -> tuple[dt.datetime, int] | str:
        """Find a start near ``earliest`` and a chair; returns the failure reason if
        there is none. The slot is held in the calendar when found."""
        length = dt.timedelta(minutes=minutes)
        reason = "outside_hours"
        for offset in self.offsets:
            start = earliest + dt.timedelta(minutes=offset)
            end = start + length
            if not_before is not None and start < not_before:
                continue
            if not self.calendar.within_hours(start, end):
                continue
            if not self.calendar.patient_free(start, end):
                reason = "patient_conflict"
                continue
            for chair_id in self.chair_order():
                if self.calendar.chair_free(chair_id, start, end):
                    self.calendar.hold(chair_id, start, end)
                    self.last_chair_id = chair_id
                    return start, chair_id
            reason = "slot_conflict"
        return reason

    def place_day(
        self,
        day: dt.date,
        count: int,
        shape: CourseShape,
        kinds: Sequence[str],
        phase: int,
    ) -> tuple[list[Placement], Failure | None]:
        placements: list[Placement] = []
        earliest = local_datetime(day, self.preferred_time, self.calendar.tz)
        not_before: dt.datetime | None = None
        for index in range(count):
            kind = kinds[index]
            minutes = shape.mapping_minutes if kind == "mapping" else shape.slot_minutes
            found = self.place(earliest, minutes, not_before=not_before)
            if isinstance(found, str):
                return placements, Failure(day, found)
            start, chair_id = found
            end = start + dt.timedelta(minutes=minutes)
            placements.append(Placement(start, end, chair_id, kind, phase))
            earliest = not_before = max(end, start + shape.spacing)
        return placements, None

    def place_mapping_day(
        self, start_date: dt.date, shape: CourseShape, *, until: dt.date
    ) -> tuple[Placement | None, Failure | None, dt.date]:
        """The mapping session on its own day: the first open day from ``start_date``.
        Returns it (or why it failed) and the day treatment may start (the next day)."""
        day = start_date
        while not self.calendar.is_open(day):
            day += dt.timedelta(days=1)
            if day > until:
                return None, Failure(day, "outside_hours"), day
        placed, failure = self.place_day(day, 1, shape, ["mapping"], 1)
        return (placed[0] if placed else None), failure, day + dt.timedelta(days=1)

    def plan(
        self, shape: CourseShape, start_date: dt.date, *, until: dt.date
    ) -> tuple[list[Placement], list[Failure]]:
        placements: list[Placement] = []
        failures: list[Failure] = []
        day = start_date
        first_session = shape.needs_mapping and shape.mapping_schedule != MAPPING_DAY_BEFORE
        separate_mapping = shape.mapping_schedule == MAPPING_SAME_DAY
        if shape.needs_mapping and shape.mapping_schedule == MAPPING_DAY_BEFORE:
            mapping, failure, day = self.place_mapping_day(start_date, shape, until=until)
            if mapping is not None:
                placements.append(mapping)
            if failure is not None:
                failures.append(failure)
                if self.fail_fast:
                    return placements, failures
        for phase in shape.phases:
            weekdays = cadence_weekdays(phase.per_week, start_date.weekday())
            days = self.phase_days(phase, day, weekdays, until)
            remaining, last = phase.sessions, day
            while remaining > 0:
                last = next(days)
                if last > until:
                    failures.append(Failure(last, "outside_hours"))
                    return placements, failures
                count = min(shape.sessions_per_day, remaining)
                kinds = [phase.kind] * count
                if first_session and separate_mapping:
                    kinds.insert(0, "mapping")  # before the day's treatments, not one
                elif first_session:
                    kinds[0] = "mapping"
                first_session = False
                placed, failure = self.place_day(last, len(kinds), shape, kinds, phase.number)
                placements += placed
                if failure is not None:
                    failures.append(failure)
                    if self.fail_fast:
                        return placements, failures
                remaining -= count
            # The next phase starts on the Monday after this phase's last session.
            day = last + dt.timedelta(days=1)
            day = day + dt.timedelta(days=(7 - day.weekday()) % 7)
        return placements, failures

    def phase_days(
        self, phase: PhasePlan, start: dt.date, weekdays: tuple[int, ...], until: dt.date
    ) -> Iterator[dt.date]:
        """The days a phase's sessions go on, from ``start``; past ``until`` it yields
        that day and stops (the caller's failure). Weekly: each open day of the
        cadence's weekdays (a closed one's session moves to the next such weekday).
        Every 2 or 4 weeks: the cadence's weekdays in the phase's first week and every
        2nd or 4th week after it; a closed day's session moves to the next open day of
        any weekday, and the rhythm stays anchored to the phase's first week."""
        if phase.every_weeks == 1:
            day = start
            while day <= until:
                if day.weekday() in weekdays and self.calendar.is_open(day):
                    yield day
                day += dt.timedelta(days=1)
            yield day
            return
        monday = start - dt.timedelta(days=start.weekday())
        taken: set[dt.date] = set()
        for week in itertools.count():
            week_start = monday + dt.timedelta(weeks=week * phase.every_weeks)
            for weekday in weekdays:
                day = week_start + dt.timedelta(days=weekday)
                if day < start:
                    continue
                while day <= until and (not self.calendar.is_open(day) or day in taken):
                    day += dt.timedelta(days=1)
                yield day
                if day > until:
                    return
                taken.add(day)

    def next_free_day(
        self,
        after: dt.date,
        weekdays: tuple[int, ...],
        minutes: int,
        sessions_per_day: int,
        until: dt.date,
    ) -> tuple[dt.date, dt.datetime, int] | None:
        """The first day after ``after`` (on ``weekdays``, open, with room for another
        session of the patient that day) where a slot and a chair are free."""
        day = after + dt.timedelta(days=1)
        while day <= until:
            if (
                day.weekday() in weekdays
                and self.calendar.is_open(day)
                and len(self.calendar.patient_sessions_on(day)) < sessions_per_day
            ):
                earliest = local_datetime(day, self.preferred_time, self.calendar.tz)
                found = self.place(earliest, minutes)
                if not isinstance(found, str):
                    return day, found[0], found[1]
            day += dt.timedelta(days=1)
        return None
