"""The capacity forecast: chair-hours open and booked per week for the weeks ahead, by
chair and in total, with the waitlist's demand on top.

Open: each active chair's opening hours (clinic-local wall clock, measured in real
elapsed time, so a DST change day counts the hour it gains or loses), less closures and
chair blocks. Booked: the occupying sessions' minutes on each chair in the week. Demand:
each waiting course planned from its earliest start (scheduling.waitlist, on the same
calendar read, as if it were the only one waiting), its minutes in each week; a waiting
course with no start within the waitlist's horizon is counted apart.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from clinic.models import ChairBlock, Clinic
from scheduling.calendar import (
    ClinicCalendar,
    Interval,
    load_calendar,
    local_datetime,
    merged_intervals,
)
from scheduling.models import OCCUPYING, Session, WaitlistEntry
from scheduling.planner import Planner
from scheduling.services.waitlist import waiting_entries
from scheduling.waitlist import Demand, demand_of, latest_thresholds, patients_busy

FORECAST_WEEKS = 12


@dataclass(frozen=True)
class ChairWeek:
    chair: str
    open_hours: float
    booked_hours: float


@dataclass(frozen=True)
class ForecastWeek:
    monday: dt.date
    chairs: list[ChairWeek]
    open_hours: float
    booked_hours: float
    waitlist_hours: float

    @property
    def free_hours(self) -> float:
        return max(self.open_hours - self.booked_hours, 0.0)


@dataclass(frozen=True)
class Forecast:
    clinic: Clinic
    weeks: list[ForecastWeek]
    chairs: list[str]
    waiting: int
    without_start: int  # waiting courses with no start within the horizon


def _hours(seconds: float) -> float:
    return round(seconds / 3600, 1)


def _overlap(intervals: list[Interval], window: Interval) -> float:
    return sum(
        max((min(end, window[1]) - max(start, window[0])).total_seconds(), 0.0)
        for start, end in intervals
    )


def capacity_forecast(
    clinic: Clinic, first_monday: dt.date, weeks: int = FORECAST_WEEKS
) -> Forecast:
    """The forecast for ``weeks`` weeks from ``first_monday`` (a Monday). A fixed number
    of queries whatever the number of chairs, sessions and waiting courses."""
    last_day = first_monday + dt.timedelta(weeks=weeks, days=-1)
    entries = list(waiting_entries(clinic.pk))
    thresholds = latest_thresholds([e.course.patient_id for e in entries], clinic.today())
    demands = [(entry, demand_of(entry, thresholds)) for entry in entries]
    calendar = load_calendar(clinic, first_monday, last_day, coil=None)
    chairs = calendar.chairs
    tz = clinic.tz
    start = local_datetime(first_monday, dt.time(0), tz)
    end = local_datetime(last_day + dt.timedelta(days=1), dt.time(0), tz)
    booked_rows = (
        Session.objects.filter(
            chair_id__in=[chair.pk for chair in chairs],
            status__in=OCCUPYING,
            starts_at__lt=end,
            ends_at__gt=start,
        )
        .order_by()
        .values_list("chair_id", "starts_at", "ends_at")
    )
    booked: dict[tuple[int, dt.date], float] = defaultdict(float)
    for chair_id, starts_at, ends_at in booked_rows:
        day = starts_at.astimezone(tz).date()
        monday = day - dt.timedelta(days=day.weekday())
        booked[(chair_id, monday)] += (ends_at - starts_at).total_seconds()
    blocks: dict[int, list[Interval]] = defaultdict(list)
    for chair_id, starts_at, ends_at in ChairBlock.objects.filter(
        chair_id__in=[chair.pk for chair in chairs], starts_at__lt=end, ends_at__gt=start
    ).values_list("chair_id", "starts_at", "ends_at"):
        blocks[chair_id].append((starts_at, ends_at))
    demand = _waitlist_demand(calendar, demands, first_monday, last_day)
    result = []
    for week in range(weeks):
        monday = first_monday + dt.timedelta(weeks=week)
        rows = []
        for chair in chairs:
            open_seconds = _open_seconds(calendar, merged_intervals(blocks[chair.pk]), monday)
            rows.append(
                ChairWeek(chair.name, _hours(open_seconds), _hours(booked[(chair.pk, monday)]))
            )
        result.append(
            ForecastWeek(
                monday,
                rows,
                round(sum(row.open_hours for row in rows), 1),
                round(sum(row.booked_hours for row in rows), 1),
                _hours(demand.get(monday, 0.0)),
            )
        )
    return Forecast(
        clinic,
        result,
        [chair.name for chair in chairs],
        waiting=len(entries),
        without_start=sum(1 for entry in entries if entry.fit_start is None),
    )


def _open_seconds(calendar: ClinicCalendar, blocks: list[Interval], monday: dt.date) -> float:
    """A chair's open time in the week: opening hours less closures and its blocks."""
    seconds = 0.0
    for offset in range(7):
        window = calendar.opening(monday + dt.timedelta(days=offset))
        if window is None:
            continue
        # Aware datetimes sharing one tzinfo subtract as wall-clock times: go to UTC.
        utc = (window[0].astimezone(dt.UTC), window[1].astimezone(dt.UTC))
        seconds += (utc[1] - utc[0]).total_seconds() - _overlap(blocks, utc)
    return seconds


def _waitlist_demand(
    calendar: ClinicCalendar,
    demands: list[tuple[WaitlistEntry, Demand]],
    first: dt.date,
    last: dt.date,
) -> dict[dt.date, float]:
    """Seconds of chair time per week (by Monday) the waiting courses would take, each
    planned from its stored earliest start on this read of the calendar."""
    busy = patients_busy([d.patient_id for _, d in demands], calendar.clinic, first, last)
    seconds: dict[dt.date, float] = defaultdict(float)
    tz = calendar.tz
    for entry, demand in demands:
        if entry.fit_start is None or entry.fit_start > last:
            continue
        chairs = [chair for chair in calendar.chairs if chair.fits(demand.coil)]
        planner = Planner(
            calendar.layered(chairs, busy[demand.patient_id]),
            preferred_time=demand.preferred_time,
            preferred_chair_id=demand.preferred_chair_id,
            time_flex_minutes=demand.flex_minutes,
            flex_direction=demand.flex_direction,
        )
        start = max(entry.fit_start, first)
        placements, _ = planner.plan(demand.shape_on(start), start, until=last)
        for placement in placements:
            day = placement.starts_at.astimezone(tz).date()
            monday = day - dt.timedelta(days=day.weekday())
            seconds[monday] += (placement.ends_at - placement.starts_at).total_seconds()
    return seconds
