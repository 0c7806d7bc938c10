"""A clinic's bookable time over a date window, loaded once and checked in memory.

Everything a booking must respect (clinic-local opening hours, closures, chair blocks,
other occupying sessions on each chair, the patient's own sessions) is read in a fixed
number of queries, so planning a 36-session course costs the same queries as one.
Intervals are half-open [start, end).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Q

from clinic.db import instant
from clinic.models import Chair, ChairBlock, Clinic, Closure
from scheduling.models import OCCUPYING, Session

Interval = tuple[dt.datetime, dt.datetime]


def local_datetime(day: dt.date, at: dt.time, tz: ZoneInfo) -> dt.datetime:
    """The instant a clinic-local wall-clock time happens on ``day`` (DST-aware)."""
    return dt.datetime.combine(day, at, tzinfo=tz)


def day_bounds(day: dt.date, tz: ZoneInfo) -> Interval:
    """[local midnight, next local midnight): 23 or 25 hours on DST change days."""
    return local_datetime(day, dt.time(0), tz), local_datetime(
        day + dt.timedelta(days=1), dt.time(0), tz
    )


@dataclass
class _Busy:
    intervals: list[Interval] = field(default_factory=list)
    # Longest interval seen, so overlap checks can look back far enough.
    longest: dt.timedelta = dt.timedelta(0)

    def add(self, start: dt.datetime, end: dt.datetime) -> None:
        bisect.insort(self.intervals, (start, end))
        self.longest = max(self.longest, end - start)

    def overlaps(self, start: dt.datetime, end: dt.datetime) -> bool:
        low = bisect.bisect_left(self.intervals, (start - self.longest,))
        high = bisect.bisect_left(self.intervals, (end,))
        return any(s < end and start < e for s, e in self.intervals[low:high])

    def between(self, start: dt.datetime, end: dt.datetime) -> list[Interval]:
        low = bisect.bisect_left(self.intervals, (start - self.longest,))
        high = bisect.bisect_left(self.intervals, (end,))
        return [(s, e) for s, e in self.intervals[low:high] if s < end and start < e]


@dataclass
class ClinicCalendar:
    clinic: Clinic
    hours: dict[int, tuple[dt.time, dt.time]]
    closures: set[dt.date]
    chairs: list[Chair]
    chair_busy: dict[int, _Busy]
    patient_busy: _Busy

    @property
    def tz(self) -> ZoneInfo:
        return self.clinic.tz

    def is_open(self, day: dt.date) -> bool:
        return day.weekday() in self.hours and day not in self.closures

    def opening(self, day: dt.date) -> Interval | None:
        if not self.is_open(day):
            return None
        opens, closes = self.hours[day.weekday()]
        return local_datetime(day, opens, self.tz), local_datetime(day, closes, self.tz)

    def within_hours(self, start: dt.datetime, end: dt.datetime) -> bool:
        window = self.opening(start.astimezone(self.tz).date())
        return window is not None and window[0] <= start and end <= window[1]

    def chair_free(self, chair_id: int, start: dt.datetime, end: dt.datetime) -> bool:
        return not self.chair_busy[chair_id].overlaps(start, end)

    def patient_free(self, start: dt.datetime, end: dt.datetime) -> bool:
        return not self.patient_busy.overlaps(start, end)

    def patient_sessions_on(self, day: dt.date) -> list[Interval]:
        return self.patient_busy.between(*day_bounds(day, self.tz))

    def hold(self, chair_id: int, start: dt.datetime, end: dt.datetime) -> None:
        """Mark time as taken by a session being planned."""
        self.chair_busy[chair_id].add(start, end)
        self.patient_busy.add(start, end)

    def free_intervals(self, chair_id: int, day: dt.date, minutes: int) -> list[Interval]:
        """Free stretches of at least ``minutes`` on a chair during opening hours."""
        window = self.opening(day)
        if window is None:
            return []
        free: list[Interval] = []
        cursor = window[0]
        for start, end in self.chair_busy[chair_id].between(*window):
            if start > cursor:
                free.append((cursor, start))
            cursor = max(cursor, end)
        if cursor < window[1]:
            free.append((cursor, window[1]))
        length = dt.timedelta(minutes=minutes)
        return [(s, e) for s, e in free if e - s >= length]


def load_calendar(
    clinic: Clinic,
    first_day: dt.date,
    last_day: dt.date,
    *,
    patient_id: int | None = None,
    ignore_sessions: Iterable[int] = (),
    chair_ids: Iterable[int] | None = None,
    time_of_day: tuple[dt.time, dt.time] | None = None,
) -> ClinicCalendar:
    """Read everything bookings in [first_day, last_day] must respect (four queries;
    five when the clinic's opening hours are not prefetched).

    ``ignore_sessions`` are left out of the busy time (a session being moved).
    ``time_of_day`` (clinic-local) limits the other patients' sessions read to those
    touching that stretch of each day: a course booked at 09:30 every day need not
    read the whole clinic's months ahead. The patient's own sessions are always read.
    """
    start = day_bounds(first_day, clinic.tz)[0]
    end = day_bounds(last_day, clinic.tz)[1]
    hours = {entry.weekday: (entry.opens, entry.closes) for entry in clinic.opening_hours.all()}
    closures = set(
        Closure.objects.filter(clinic=clinic, date__gte=first_day, date__lte=last_day).values_list(
            "date", flat=True
        )
    )
    chairs_query = Chair.objects.filter(clinic=clinic, active=True).order_by("name", "id")
    if chair_ids is not None:
        chairs_query = chairs_query.filter(id__in=list(chair_ids))
    chairs = list(chairs_query)
    chair_busy: dict[int, _Busy] = defaultdict(_Busy)
    for chair in chairs:
        chair_busy[chair.pk] = _Busy()
    for block in ChairBlock.objects.filter(
        chair__clinic=clinic, starts_at__lt=end, ends_at__gt=start
    ).values_list("chair_id", "starts_at", "ends_at"):
        chair_busy[block[0]].add(block[1], block[2])
    if time_of_day is None:
        windows = [(start, end)]
    else:
        windows = [
            (
                local_datetime(day, time_of_day[0], clinic.tz),
                local_datetime(day, time_of_day[1], clinic.tz),
            )
            for day in _days(first_day, last_day)
        ]
    read = _occupied_postgresql if connection.vendor == "postgresql" else _occupied_portable
    chair_rows, patient_rows = read(
        [chair.pk for chair in chairs], windows, patient_id, (start, end), list(ignore_sessions)
    )
    for chair_id, session_start, session_end in chair_rows:
        chair_busy[chair_id].add(session_start, session_end)
    patient_busy = _Busy()
    for session_start, session_end in patient_rows:
        patient_busy.add(session_start, session_end)
    return ClinicCalendar(clinic, hours, closures, chairs, chair_busy, patient_busy)


def _days(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    day = first
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


# What the two readers of occupied time return: (chair, start, end) of every occupying
# session on the chairs that overlaps one of the windows, and (start, end) of the
# patient's own occupying sessions over the whole span.
Occupied = tuple[list[tuple[int, dt.datetime, dt.datetime]], list[Interval]]

# The chairs' part reads the exclusion constraint's GiST index with one multirange of
# the windows, so its cost follows the sessions near the wanted times, not the table's
# size. Instants travel as integer microseconds since the epoch: exact, and much cheaper
# to turn into datetimes than timestamptz text.
_OCCUPIED_SQL = """
    SELECT chair_id, (extract(epoch FROM starts_at) * 1000000)::bigint,
           (extract(epoch FROM ends_at) * 1000000)::bigint, true
    FROM scheduling_session
    WHERE status = ANY(%(occupying)s)
      AND chair_id = ANY(%(chairs)s)
      AND tstzrange(starts_at, ends_at, '[)') && (
          SELECT range_agg(tstzrange(w.s, w.e, '[)'))
          FROM unnest(%(starts)s::timestamptz[], %(ends)s::timestamptz[]) AS w(s, e))
      AND NOT id = ANY(%(ignore)s)
    UNION ALL
    SELECT chair_id, (extract(epoch FROM starts_at) * 1000000)::bigint,
           (extract(epoch FROM ends_at) * 1000000)::bigint, false
    FROM scheduling_session
    WHERE status = ANY(%(occupying)s)
      AND patient_id = %(patient)s AND starts_at < %(span_end)s AND ends_at > %(span_start)s
      AND NOT id = ANY(%(ignore)s)
"""


def _occupied_postgresql(
    chair_ids: list[int],
    windows: list[Interval],
    patient_id: int | None,
    span: Interval,
    ignore: list[int],
) -> Occupied:
    with connection.cursor() as cursor:
        cursor.execute(
            _OCCUPIED_SQL,
            {
                "occupying": [str(status) for status in OCCUPYING],
                "chairs": chair_ids,
                "starts": [window[0] for window in windows],
                "ends": [window[1] for window in windows],
                "ignore": ignore,
                "patient": patient_id,
                "span_start": span[0],
                "span_end": span[1],
            },
        )
        rows = cursor.fetchall()
    chair_rows: list[tuple[int, dt.datetime, dt.datetime]] = []
    patient_rows: list[Interval] = []
    for chair_id, start_us, end_us, on_chairs in rows:
        start, end = instant(start_us), instant(end_us)
        if on_chairs:
            chair_rows.append((chair_id, start, end))
        else:
            patient_rows.append((start, end))
    return chair_rows, patient_rows


def _occupied_portable(
    chair_ids: list[int],
    windows: list[Interval],
    patient_id: int | None,
    span: Interval,
    ignore: list[int],
) -> Occupied:
    """The same answer through the ORM, for SQLite (the embedded default)."""
    in_a_window = Q()
    for window_start, window_end in windows:
        in_a_window |= Q(starts_at__lt=window_end, ends_at__gt=window_start)
    occupying = Session.objects.filter(status__in=OCCUPYING).exclude(id__in=ignore)
    chair_rows = [
        (chair_id, start, end)
        for chair_id, start, end in occupying.filter(in_a_window, chair_id__in=chair_ids)
        .order_by()
        .values_list("chair_id", "starts_at", "ends_at")
    ]
    patient_rows: list[Interval] = []
    if patient_id is not None:
        patient_rows = list(
            occupying.filter(patient_id=patient_id, starts_at__lt=span[1], ends_at__gt=span[0])
            .order_by()
            .values_list("starts_at", "ends_at")
        )
    return chair_rows, patient_rows
