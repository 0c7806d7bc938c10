"""The waitlist's earliest start: the first day from which every session of a waiting
course fits on the chairs, by the booking's own planner (all or nothing, the chairs
fitted with the protocol's coil, the entry's time and flex).

One read of the clinic's calendar serves every waiting course: the chairs' busy time
over the whole horizon in one query, the waiting patients' own sessions in one more.
Each course then tries its candidate start days in order (from ``not_before`` and the
day after today, on the entry's weekdays, open days only, over ``HORIZON_WEEKS``),
planning each on a layer over that read (``ClinicCalendar.layered``: nothing copied,
the read never changed) and stopping at the first session that cannot be placed. So
the cost is a fixed number of queries and, per course, the sessions planned until the
first day that fits.

Each course is fitted as if it were the only one waiting: two waiting patients may be
shown the same earliest start; booking one of them re-checks, and the other's is
worked out again after that booking's change of capacity is heard of.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from clinic.models import Clinic
from courses import course_plan
from courses.models import CourseType, MotorThreshold
from scheduling.calendar import ClinicCalendar, Interval, day_bounds, load_calendar
from scheduling.models import OCCUPYING, Session, WaitlistEntry
from scheduling.planner import CourseShape, Planner
from scheduling.services.booking import course_shape, time_of_day_span

HORIZON_WEEKS = 26


@dataclass(frozen=True)
class Demand:
    """What one waiting course asks of the calendar."""

    entry_id: int
    patient_id: int
    coil: str
    shape: CourseShape  # with its mapping session
    # The last start day on which the patient's latest motor threshold may be reused
    # (a continuation, maintenance or booster course then needs no mapping session).
    reuse_through: dt.date | None
    reach: dt.timedelta  # planning limit: the course window and as long again
    preferred_time: dt.time
    preferred_chair_id: int | None
    flex_minutes: int
    flex_direction: str
    weekdays: int
    not_before: dt.date

    def shape_on(self, day: dt.date) -> CourseShape:
        if self.reuse_through is not None and day <= self.reuse_through:
            return replace(self.shape, needs_mapping=False)
        return self.shape


def latest_thresholds(patient_ids: Sequence[int], today: dt.date) -> dict[int, dt.date]:
    """Each patient's latest motor threshold day, up to today (one query)."""
    latest: dict[int, dt.date] = {}
    rows = (
        MotorThreshold.objects.filter(course__patient_id__in=patient_ids, measured_on__lte=today)
        .order_by()
        .values_list("course__patient_id", "measured_on")
    )
    for patient_id, measured_on in rows:
        if patient_id not in latest or measured_on > latest[patient_id]:
            latest[patient_id] = measured_on
    return latest


def demand_of(entry: WaitlistEntry, thresholds: dict[int, dt.date]) -> Demand:
    """The entry's course as the planner sees it (its protocol's phases prefetched)."""
    course = entry.course
    phases = course_plan.course_phases(course)
    reuse_through = None
    measured = thresholds.get(course.patient_id)
    if course.type != CourseType.ACUTE and measured is not None:
        reuse_through = measured + dt.timedelta(
            days=course.patient.clinic.motor_threshold_valid_days
        )
    return Demand(
        entry_id=entry.pk,
        patient_id=course.patient_id,
        coil=course.protocol.coil,
        shape=course_shape(course.protocol, phases),
        reuse_through=reuse_through,
        reach=dt.timedelta(weeks=2 * course_plan.window_weeks(course, phases)),
        preferred_time=entry.preferred_time,
        preferred_chair_id=course.preferred_chair_id,
        flex_minutes=entry.time_flex_minutes,
        flex_direction=entry.time_preference,
        weekdays=entry.weekdays,
        not_before=entry.not_before,
    )


def candidate_days(
    demand: Demand, first: dt.date, last: dt.date, calendar: ClinicCalendar
) -> Iterator[dt.date]:
    """The days the course may start on, in order: from ``not_before`` (and ``first``)
    to ``last``, on the entry's weekdays, when the clinic is open."""
    day = max(first, demand.not_before)
    while day <= last:
        if demand.weekdays >> day.weekday() & 1 and calendar.is_open(day):
            yield day
        day += dt.timedelta(days=1)


def fits_from(calendar: ClinicCalendar, demand: Demand, day: dt.date) -> bool:
    """Whether every session of the course fits when it starts on ``day`` (the holds
    go to ``calendar``: pass a fresh layer)."""
    planner = Planner(
        calendar,
        preferred_time=demand.preferred_time,
        preferred_chair_id=demand.preferred_chair_id,
        time_flex_minutes=demand.flex_minutes,
        flex_direction=demand.flex_direction,
        fail_fast=True,
    )
    _, failures = planner.plan(demand.shape_on(day), day, until=day + demand.reach)
    return not failures


def earliest_start(
    calendar: ClinicCalendar,
    demand: Demand,
    patient_busy: list[Interval],
    first: dt.date,
    last: dt.date,
) -> dt.date | None:
    """The first candidate day from which the whole course fits; None within the
    horizon. ``calendar``: read with every chair; it is not changed."""
    chairs = [chair for chair in calendar.chairs if chair.fits(demand.coil)]
    if not chairs:
        return None
    for day in candidate_days(demand, first, last, calendar):
        if fits_from(calendar.layered(chairs, patient_busy), demand, day):
            return day
    return None


def search_window(
    clinic: Clinic, demands: Sequence[Demand], horizon_weeks: int = HORIZON_WEEKS
) -> tuple[dt.date, dt.date, dt.date]:
    """(first candidate day: tomorrow, last candidate day, last day any plan may
    reach)."""
    first = clinic.today() + dt.timedelta(days=1)
    last = first + dt.timedelta(weeks=horizon_weeks)
    reach = max((demand.reach for demand in demands), default=dt.timedelta(0))
    return first, last, last + reach


def earliest_starts(
    clinic: Clinic, entries: Sequence[WaitlistEntry], *, horizon_weeks: int = HORIZON_WEEKS
) -> dict[int, dt.date | None]:
    """Each entry's earliest start (by entry id). The entries' courses come with their
    patient, protocol and the protocol's phases (``waiting_entries``). Three queries
    (the chairs, the calendar, the patients' sessions) and one for motor thresholds."""
    if not entries:
        return {}
    today = clinic.today()
    thresholds = latest_thresholds([entry.course.patient_id for entry in entries], today)
    demands = [demand_of(entry, thresholds) for entry in entries]
    first, last, reach = search_window(clinic, demands, horizon_weeks)
    spans = [time_of_day_span([d.preferred_time], d.shape, d.flex_minutes) for d in demands]
    span = None
    if all(spans):
        span = (min(s[0] for s in spans if s), max(s[1] for s in spans if s))
    hours = {entry.weekday: (entry.opens, entry.closes) for entry in clinic.opening_hours.all()}
    calendar = load_calendar(clinic, first, reach, coil=None, time_of_day=span, hours=hours)
    busy = patients_busy([d.patient_id for d in demands], clinic, first, reach)
    return {
        demand.entry_id: earliest_start(calendar, demand, busy[demand.patient_id], first, last)
        for demand in demands
    }


def patients_busy(
    patient_ids: Sequence[int], clinic: Clinic, first: dt.date, last: dt.date
) -> dict[int, list[Interval]]:
    """The patients' own occupying sessions over [first, last] (one query)."""
    start, end = day_bounds(first, clinic.tz)[0], day_bounds(last, clinic.tz)[1]
    busy: dict[int, list[Interval]] = defaultdict(list)
    rows = (
        Session.objects.filter(
            patient_id__in=set(patient_ids),
            status__in=OCCUPYING,
            starts_at__lt=end,
            ends_at__gt=start,
        )
        .order_by()
        .values_list("patient_id", "starts_at", "ends_at")
    )
    for patient_id, starts_at, ends_at in rows:
        busy[patient_id].append((starts_at, ends_at))
    return busy
