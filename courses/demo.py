"""Demo course specifications for the Brooklyn clinic: every status, weekly PHQ-9 series
with responders, remitters and non-responders, one safety flag, and active courses at
risk for different reasons. scheduling/demo.py turns them into rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


def T(hour: int, minute: int = 0) -> dt.time:
    return dt.time(hour, minute)


@dataclass(frozen=True)
class DemoCourse:
    mrn: str
    protocol: str
    indication: str
    status: str
    weeks_ago: int  # start date, in weeks before this week's Monday (negative: future)
    phq9: tuple[int, ...]  # weekly totals from baseline on
    self_harm_week: int | None = None  # week whose PHQ-9 has item 9 = 1
    screening: str = "cleared"
    at: dt.time = dt.time(9, 0)
    # Past sessions counted back from the most recent one (1 = the last) that were
    # missed, or cancelled by the patient.
    missed: tuple[int, ...] = ()
    cancelled: tuple[int, ...] = ()
    authorized: int | None = None  # None: the protocol's number of sessions
    authorization_weeks: int = 12


DEMO_COURSES = [
    DemoCourse(
        "BK-1001", "10hz-standard", "mdd", "completed", 12, (22, 19, 15, 12, 9, 6, 4, 3), at=T(8)
    ),
    DemoCourse(
        "BK-1002", "itbs", "mdd_anxiety", "completed", 11, (19, 17, 14, 11, 10, 9, 8), at=T(9)
    ),
    DemoCourse(
        "BK-1003", "10hz-dash", "mdd", "completed", 13, (24, 23, 22, 20, 19, 19, 18), at=T(10)
    ),
    DemoCourse(
        "BK-1004", "10hz-standard", "mdd", "active", 4, (21, 19, 16, 13, 11), at=T(8), missed=(9,)
    ),
    DemoCourse("BK-1005", "itbs", "mdd", "active", 3, (18, 17, 13, 10), at=T(8, 45)),
    DemoCourse(
        "BK-1006",
        "deep-tms-h1",
        "mdd_anxiety",
        "active",
        2,
        (20, 19, 18),
        self_harm_week=1,
        at=T(9, 30),
    ),
    DemoCourse("BK-1007", "10hz-dash", "mdd", "active", 5, (23, 20, 15, 10, 7, 5), at=T(10, 15)),
    DemoCourse(
        "BK-1008", "10hz-standard", "mdd", "active", 1, (17, 16), at=T(11), cancelled=(1, 2, 3)
    ),
    DemoCourse("BK-1009", "itbs", "ocd", "active", 0, (19,), at=T(11, 45)),
    DemoCourse("BK-1010", "10hz-standard", "mdd", "paused", 3, (20, 18, 17), at=T(12, 30)),
    DemoCourse("BK-1011", "10hz-dash", "mdd", "discontinued", 3, (22, 21), at=T(13, 15)),
    DemoCourse("BK-1012", "snt-accelerated", "mdd", "planned", -1, (25,), at=T(7, 30)),
    DemoCourse("BK-1013", "10hz-standard", "gad", "planned", -2, (), screening="pending"),
    DemoCourse(
        "BK-1014", "10hz-standard", "mdd", "active", 2, (22, 21, 20), at=T(14), missed=(1, 2)
    ),
    DemoCourse(
        "BK-1015", "itbs", "mdd", "active", 3, (19, 16, 14, 12), at=T(14, 45), authorized=30
    ),
    DemoCourse("BK-1016", "10hz-dash", "mdd_anxiety", "active", 1, (), at=T(15, 30)),
    DemoCourse(
        "BK-1017",
        "deep-tms-h1",
        "mdd",
        "active",
        4,
        (20, 18, 17, 15, 14),
        at=T(16, 15),
        missed=(2, 5, 7, 9, 12),
    ),
    DemoCourse(
        "BK-1018",
        "10hz-standard",
        "mdd",
        "active",
        2,
        (18, 17, 15),
        at=T(17),
        authorization_weeks=3,
    ),
    DemoCourse("BK-1019", "itbs", "gad", "active", 1, (16, 14), at=T(17, 45)),
]


def phq9_items(total: int, self_harm: int = 0) -> list[int]:
    """Spread a PHQ-9 total evenly over items 1-8 (0-3 each); item 9 is given."""
    items = [0] * 8
    for point in range(total - self_harm):
        items[point % 8] += 1
    return [*items, self_harm]


def this_monday(today: dt.date) -> dt.date:
    return today - dt.timedelta(days=today.weekday())
