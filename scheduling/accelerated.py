"""Accelerated courses (several sessions a day, e.g. SNT): the published protocol asks
for five *consecutive* treatment days. The planner books consecutive clinic days, so a
weekend or a closure can fall in between; the booking says so, before and after
confirming, instead of silently stretching the course."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from typing import Protocol as Typed
from zoneinfo import ZoneInfo

from courses.models import MappingSchedule
from scheduling.calendar import day_bounds
from scheduling.models import OCCUPYING, Session, SessionKind


def sessions_allowed_on(
    course: Any, day: dt.date, tz: ZoneInfo, *, placing: str, ignore: int | None = None
) -> int:
    """How many sessions the patient may hold on ``day``: the protocol's sessions a day,
    and the mapping session besides on the day it shares with treatments ("same_day"
    protocols: it is not one of the ten). ``placing``: the kind of session being booked
    or moved; ``ignore``: the session being moved. One query, for such protocols only."""
    protocol = course.protocol
    if protocol.mapping_schedule != MappingSchedule.SAME_DAY:
        return protocol.sessions_per_day
    if placing == SessionKind.MAPPING:
        return protocol.sessions_per_day + 1
    start, end = day_bounds(day, tz)
    mappings = Session.objects.filter(
        course=course,
        kind=SessionKind.MAPPING,
        status__in=OCCUPYING,
        starts_at__gte=start,
        starts_at__lt=end,
    )
    mapping_that_day = (mappings if ignore is None else mappings.exclude(pk=ignore)).exists()
    return protocol.sessions_per_day + int(mapping_that_day)


class _Timed(Typed):
    starts_at: dt.datetime
    kind: str


@dataclass(frozen=True)
class TreatmentBreak:
    """Days without treatment between two treatment days of an accelerated course."""

    stops_after: dt.date
    resumes_on: dt.date

    @property
    def skipped(self) -> list[dt.date]:
        days = (self.resumes_on - self.stops_after).days
        return [self.stops_after + dt.timedelta(days=n) for n in range(1, days)]

    @property
    def weekend_only(self) -> bool:
        return all(day.weekday() >= 5 for day in self.skipped)

    @property
    def message(self) -> str:
        skipped = ", ".join(f"{day:%a %d %b}" for day in self.skipped)
        why = "the weekend" if self.weekend_only else "days without treatment"
        return (
            f"The treatment days are not consecutive: {why} ({skipped}) falls between "
            f"{self.stops_after:%a %d %b} and {self.resumes_on:%a %d %b}. The protocol asks "
            "for five days in a row; pick a start date that avoids the break if you can."
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "code": "treatment_days_interrupted",
            "detail": self.message,
            "stops_after": self.stops_after.isoformat(),
            "resumes_on": self.resumes_on.isoformat(),
        }


def treatment_breaks(
    sessions: Iterable[_Timed], tz: ZoneInfo, sessions_per_day: int
) -> list[TreatmentBreak]:
    """The breaks between the treatment days of an accelerated course (none for a
    once-a-day protocol, whose weekly rhythm has weekends by design). The mapping
    session's day is not a treatment day."""
    if sessions_per_day <= 1:
        return []
    days = sorted(
        {
            session.starts_at.astimezone(tz).date()
            for session in sessions
            if session.kind != SessionKind.MAPPING
        }
    )
    return [
        TreatmentBreak(before, after)
        for before, after in itertools.pairwise(days)
        if (after - before).days > 1
    ]
