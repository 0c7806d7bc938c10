"""Time that counts only while a clinic is open: "two hours" of opening time from an
alert raised at 17:30 in a clinic closing at 18:00 ends 90 minutes after it next
opens. Closures count as closed. Wall-clock hours are the clinic's own (DST-aware);
the arithmetic is done on instants, so a DST change inside opening hours counts the
minutes that really passed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Container, Mapping
from zoneinfo import ZoneInfo

from clinic.models import Clinic, Closure, OpeningHours

# An alert raised before a long closure still escalates once the clinic reopens; a
# clinic with no opening hours in this long has no opening time at all.
HORIZON_DAYS = 400

Hours = Mapping[int, tuple[dt.time, dt.time]]


def clinic_hours(clinic: Clinic) -> dict[int, tuple[dt.time, dt.time]]:
    """The clinic's opening hours by weekday (0 = Monday)."""
    return {
        weekday: (opens, closes)
        for weekday, opens, closes in OpeningHours.objects.filter(clinic=clinic).values_list(
            "weekday", "opens", "closes"
        )
    }


def clinic_closures(clinic: Clinic, since: dt.date) -> set[dt.date]:
    closures = Closure.objects.filter(clinic=clinic, date__gte=since)
    return set(closures.values_list("date", flat=True))


def opening_time_ends(
    start: dt.datetime,
    minutes: int,
    *,
    hours: Hours,
    closures: Container[dt.date],
    tz: ZoneInfo,
) -> dt.datetime | None:
    """The instant at which ``minutes`` of the clinic's opening time have passed since
    ``start`` (UTC), or None when the clinic is not open that long within the horizon."""
    remaining = dt.timedelta(minutes=minutes)
    start = start.astimezone(dt.UTC)
    day = start.astimezone(tz).date()
    for _ in range(HORIZON_DAYS):
        window = hours.get(day.weekday())
        if window is not None and day not in closures:
            opens = dt.datetime.combine(day, window[0], tzinfo=tz).astimezone(dt.UTC)
            closes = dt.datetime.combine(day, window[1], tzinfo=tz).astimezone(dt.UTC)
            counted_from = max(opens, start)
            if closes > counted_from:
                available = closes - counted_from
                if available >= remaining:
                    return counted_from + remaining
                remaining -= available
        day += dt.timedelta(days=1)
    return None


def next_open_day(clinic: Clinic, on_or_after: dt.date) -> dt.date | None:
    """The first day from ``on_or_after`` on which the clinic opens (its weekly hours,
    less closures); None when it opens on none within the horizon. Two queries."""
    hours = clinic_hours(clinic)
    closures = clinic_closures(clinic, on_or_after)
    for offset in range(HORIZON_DAYS):
        day = on_or_after + dt.timedelta(days=offset)
        if day.weekday() in hours and day not in closures:
            return day
    return None
