"""A clinic's bookable time over a date window, loaded once and checked in memory.

Everything a booking must respect (clinic-local opening hours, closures, chair blocks,
other occupying sessions on each chair, the patient's own sessions) is read in a fixed
number of queries, so planning a 36-session course costs the same queries as one.
Intervals are half-open [start, end).
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Q

from clinic.db import instant
from clinic.models import Chair, ChairBlock, Clinic, Closure
from scheduling.models import OCCUPYING, Session

Interval = tuple[dt.datetime, dt.datetime]


def merged_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    """The union of ``intervals`` as sorted, non-overlapping intervals."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


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

    @classmethod
    def of(cls, intervals: list[Interval]) -> _Busy:
        """Busy time from intervals in any order: one sort rather than an insort each."""
        intervals.sort()
        longest = max((end - start for start, end in intervals), default=dt.timedelta(0))
        return cls(intervals, max(longest, dt.timedelta(0)))

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

    def copy(self) -> _Busy:
        # The intervals are tuples of datetimes (immutable): a new list is enough.
        return _Busy(list(self.intervals), self.longest)


class _Layered(_Busy):
    """Busy time over a base that is never changed: what is added goes to a layer of
    its own (``ClinicCalendar.layered``)."""

    def __init__(self, base: _Busy) -> None:
        super().__init__()
        self.base = base

    def overlaps(self, start: dt.datetime, end: dt.datetime) -> bool:
        return super().overlaps(start, end) or self.base.overlaps(start, end)

    def between(self, start: dt.datetime, end: dt.datetime) -> list[Interval]:
        return sorted([*self.base.between(start, end), *super().between(start, end)])

    def copy(self) -> _Busy:
        layered = _Layered(self.base)
        layered.intervals, layered.longest = list(self.intervals), self.longest
        return layered


class _Layers(dict[int, _Busy]):
    def __init__(self, base: dict[int, _Busy]) -> None:
        super().__init__()
        self.base = base

    def __missing__(self, chair_id: int) -> _Busy:
        found = self[chair_id] = _Layered(self.base.get(chair_id) or _Busy())
        return found


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

    def copy(self) -> ClinicCalendar:
        """A calendar whose holds leave this one untouched (to plan several tries on
        one read). Only the busy time changes when planning, so only it is copied:
        much cheaper than ``copy.deepcopy`` of the chairs and thousands of datetimes."""
        chair_busy: dict[int, _Busy] = defaultdict(_Busy)
        chair_busy.update((chair_id, busy.copy()) for chair_id, busy in self.chair_busy.items())
        return dataclasses.replace(
            self, chair_busy=chair_busy, patient_busy=self.patient_busy.copy()
        )

    def layered(self, chairs: list[Chair], patient: list[Interval]) -> ClinicCalendar:
        """A calendar over this one's chairs' busy time whose holds go to a layer of
        their own, with ``chairs`` (a coil's) and ``patient`` (that patient's busy
        time): this one is neither changed nor copied, so trying many start dates on
        one read costs only each try's holds."""
        return dataclasses.replace(
            self,
            chairs=chairs,
            chair_busy=_Layers(self.chair_busy),
            patient_busy=_Busy.of(list(patient)),
        )

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
    coil: str | None,
    patient_id: int | None = None,
    ignore_sessions: Iterable[int] = (),
    chair_ids: Iterable[int] | None = None,
    time_of_day: tuple[dt.time, dt.time] | None = None,
    hours: dict[int, tuple[dt.time, dt.time]] | None = None,
) -> ClinicCalendar:
    """Read everything bookings in [first_day, last_day] must respect: the chairs, then
    sessions, blocks and closures in one more query on PostgreSQL (four on SQLite);
    one more when the clinic's opening hours are neither given nor prefetched.

    ``coil``: only chairs fitted with it count (the protocol's coil; None: every chair
    in service, for reads not about one course). Every booking path passes it, so a
    protocol never lands on a chair without its coil.
    ``ignore_sessions`` are left out of the busy time (a session being moved).
    ``time_of_day`` (clinic-local) limits the other patients' sessions read to those
    touching that stretch of each day: a course booked at 09:30 every day need not
    read the whole clinic's months ahead. The patient's own sessions are always read.
    ``hours`` (weekday -> opens, closes): the clinic's opening hours when the caller
    already read them.
    """
    start = day_bounds(first_day, clinic.tz)[0]
    end = day_bounds(last_day, clinic.tz)[1]
    if hours is None:
        hours = {entry.weekday: (entry.opens, entry.closes) for entry in clinic.opening_hours.all()}
    chairs_query = Chair.objects.filter(clinic=clinic, active=True).order_by("name", "id")
    if chair_ids is not None:
        chairs_query = chairs_query.filter(id__in=list(chair_ids))
    # Filtered here rather than in SQL: a JSON list's "contains" has no SQLite lookup,
    # and a clinic has a handful of chairs.
    chairs = [chair for chair in chairs_query if coil is None or chair.fits(coil)]
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
    read = _busy_postgresql if connection.vendor == "postgresql" else _busy_portable
    busy = read(
        Span(clinic.pk, first_day, last_day, start, end),
        [chair.pk for chair in chairs],
        windows,
        patient_id,
        list(ignore_sessions),
    )
    by_chair: dict[int, list[Interval]] = {chair.pk: [] for chair in chairs}
    for chair_id, busy_start, busy_end in [*busy.blocks, *busy.sessions]:
        by_chair.setdefault(chair_id, []).append((busy_start, busy_end))
    chair_busy: dict[int, _Busy] = defaultdict(_Busy)
    chair_busy.update((chair_id, _Busy.of(intervals)) for chair_id, intervals in by_chair.items())
    patient_busy = _Busy.of(busy.patient)
    return ClinicCalendar(clinic, hours, busy.closures, chairs, chair_busy, patient_busy)


def _days(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    day = first
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


class Span(NamedTuple):
    """The stretch a calendar covers: clinic-local days and the instants bounding them."""

    clinic_id: int
    first_day: dt.date
    last_day: dt.date
    start: dt.datetime
    end: dt.datetime


class Busy(NamedTuple):
    """What the two readers return: (chair, start, end) of chair blocks and of occupying
    sessions on the chairs that overlap one of the windows; (start, end) of the
    patient's own occupying sessions over the whole span; and the closed days."""

    blocks: list[tuple[int, dt.datetime, dt.datetime]]
    sessions: list[tuple[int, dt.datetime, dt.datetime]]
    patient: list[Interval]
    closures: set[dt.date]


_EPOCH_DAY = dt.date(1970, 1, 1)

# One statement. The chairs' sessions come through the GiST exclusion index with one
# multirange of the day windows (a literal: see _multirange), so the cost follows the
# sessions near the wanted times, not the table's size; the patient's part uses its own
# index. Instants travel as integer microseconds since the epoch (days, for closures):
# exact, and much cheaper to turn into Python values than timestamptz text.
_BUSY_SQL = """
    SELECT 'session', chair_id, (extract(epoch FROM starts_at) * 1000000)::bigint,
           (extract(epoch FROM ends_at) * 1000000)::bigint
    FROM scheduling_session
    WHERE status = ANY(%(occupying)s)
      AND chair_id = ANY(%(chairs)s)
      AND tstzrange(starts_at, ends_at, '[)') && %(windows)s::tstzmultirange
      AND NOT id = ANY(%(ignore)s)
    UNION ALL
    SELECT 'patient', chair_id, (extract(epoch FROM starts_at) * 1000000)::bigint,
           (extract(epoch FROM ends_at) * 1000000)::bigint
    FROM scheduling_session
    WHERE status = ANY(%(occupying)s)
      AND patient_id = %(patient)s AND starts_at < %(span_end)s AND ends_at > %(span_start)s
      AND NOT id = ANY(%(ignore)s)
    UNION ALL
    SELECT 'block', chair_id, (extract(epoch FROM starts_at) * 1000000)::bigint,
           (extract(epoch FROM ends_at) * 1000000)::bigint
    FROM clinic_chairblock
    WHERE chair_id = ANY(%(chairs)s) AND starts_at < %(span_end)s AND ends_at > %(span_start)s
    UNION ALL
    SELECT 'closure', NULL, date - DATE '1970-01-01', NULL
    FROM clinic_closure
    WHERE clinic_id = %(clinic)s AND date BETWEEN %(first_day)s AND %(last_day)s
"""


def _busy_postgresql(
    span: Span,
    chair_ids: list[int],
    windows: list[Interval],
    patient_id: int | None,
    ignore: list[int],
) -> Busy:
    with connection.cursor() as cursor:
        cursor.execute(
            _BUSY_SQL,
            {
                "occupying": [str(status) for status in OCCUPYING],
                "chairs": chair_ids,
                "windows": _multirange(windows),
                "ignore": ignore,
                "patient": patient_id,
                "span_start": span.start,
                "span_end": span.end,
                "clinic": span.clinic_id,
                "first_day": span.first_day,
                "last_day": span.last_day,
            },
        )
        rows = cursor.fetchall()
    busy = Busy([], [], [], set())
    # Sessions at the same times on several chairs and days repeat the same instants.
    instants: dict[int, dt.datetime] = {}

    def at(microseconds: int) -> dt.datetime:
        found = instants.get(microseconds)
        if found is None:
            found = instants[microseconds] = instant(microseconds)
        return found

    for kind, chair_id, start, end in rows:
        if kind == "closure":
            busy.closures.add(_EPOCH_DAY + dt.timedelta(days=start))
        elif kind == "patient":
            busy.patient.append((at(start), at(end)))
        else:
            target = busy.sessions if kind == "session" else busy.blocks
            target.append((chair_id, at(start), at(end)))
    return busy


def _multirange(windows: list[Interval]) -> str:
    """The windows as one tstzmultirange literal: one text parameter, which costs far
    less to send than two arrays of timestamps (psycopg dumps an array's elements one
    by one in Python)."""
    ranges = ",".join(
        f'["{start.isoformat()}","{end.isoformat()}")' for start, end in windows if start < end
    )
    return "{" + ranges + "}"


def _busy_portable(
    span: Span,
    chair_ids: list[int],
    windows: list[Interval],
    patient_id: int | None,
    ignore: list[int],
) -> Busy:
    """The same answer through the ORM, for SQLite (the embedded default)."""
    in_a_window = Q()
    for window_start, window_end in windows:
        in_a_window |= Q(starts_at__lt=window_end, ends_at__gt=window_start)
    occupying = Session.objects.filter(status__in=OCCUPYING).exclude(id__in=ignore)
    overlapping = Q(starts_at__lt=span.end, ends_at__gt=span.start)
    return Busy(
        blocks=list(
            ChairBlock.objects.filter(overlapping, chair_id__in=chair_ids).values_list(
                "chair_id", "starts_at", "ends_at"
            )
        ),
        sessions=list(
            occupying.filter(in_a_window, chair_id__in=chair_ids)
            .order_by()
            .values_list("chair_id", "starts_at", "ends_at")
        ),
        patient=list(
            occupying.filter(overlapping, patient_id=patient_id)
            .order_by()
            .values_list("starts_at", "ends_at")
        )
        if patient_id is not None
        else [],
        closures=set(
            Closure.objects.filter(
                clinic_id=span.clinic_id, date__gte=span.first_day, date__lte=span.last_day
            ).values_list("date", flat=True)
        ),
    )


def keeps_gap(
    start: dt.datetime,
    end: dt.datetime,
    same_day: Iterable[tuple[dt.datetime, dt.datetime]],
    spacing: dt.timedelta,
) -> bool:
    """``[start, end)`` overlaps none of the patient's other sessions that day and starts
    at least ``spacing`` (``Protocol.start_spacing``: treatment minutes plus the minimum
    gap) from each one's start. So the gap runs from the end of one session's
    stimulation to the next one's start, as published for accelerated iTBS (10-minute
    sessions, 50 minutes apart: hourly starts); the slot's set-up time is not counted
    against it."""
    return not any(
        (start < other_end and other_start < end) or abs(start - other_start) < spacing
        for other_start, other_end in same_day
    )
