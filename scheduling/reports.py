"""Clinic-wide figures for the outcomes report.

- response and remission of completed courses, by protocol and by indication (from
  :func:`courses.selectors.outcome_summary`, so the page and ``/api/v1/outcomes/`` agree);
- chair utilisation per ISO week: booked session minutes over open chair-minutes;
- missed-session rate (missed / (completed + missed)) overall, per week and per protocol;
- adverse events per protocol, and per 1,000 delivered (completed) sessions.

The CSV export is in ``scheduling.report_csv``.

Every read is set-based: a report costs the same seven queries whether the clinic ran
ten sessions or ten thousand (outcomes 2, sessions 1, open time 4). Weeks are ISO weeks
in the clinic's time zone, and a report's first and last weeks count only the days
inside the range. Figures are counts and minutes only: nothing here names a patient.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import TruncWeek

from clinic.models import Chair, ChairBlock, Clinic, Closure, OpeningHours
from courses.models import Indication
from courses.selectors import OutcomeRow, outcome_summary
from scheduling.calendar import Interval, local_datetime, merged_intervals
from scheduling.models import OCCUPYING, Session, SessionStatus

# A report may cover at most about three years, within dates a clinic can mean.
EARLIEST_DATE = dt.date(2000, 1, 1)
LATEST_DATE = dt.date(2099, 12, 31)
MAX_SPAN_DAYS = 3 * 366


def default_range(last_day: dt.date) -> tuple[dt.date, dt.date]:
    """The twelve months ending on ``last_day`` (both days included)."""
    try:
        year_before = last_day.replace(year=last_day.year - 1)
    except ValueError:  # 29 February
        year_before = last_day.replace(year=last_day.year - 1, day=28)
    return year_before + dt.timedelta(days=1), last_day


def range_problem(date_from: dt.date, date_to: dt.date) -> str | None:
    """Why a report cannot cover [date_from, date_to], or None when it can."""
    if date_from < EARLIEST_DATE or date_to > LATEST_DATE:
        return f"Dates must fall between {EARLIEST_DATE:%Y-%m-%d} and {LATEST_DATE:%Y-%m-%d}."
    if date_from > date_to:
        return "The start date must not be after the end date."
    if (date_to - date_from).days + 1 > MAX_SPAN_DAYS:
        return "A report covers at most three years; choose a shorter range."
    return None


@dataclass(frozen=True)
class Ratio:
    """A rate kept as its two counts, so a page, a chart and a CSV show the same figure."""

    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None

    @property
    def percent(self) -> Decimal | None:
        """Per cent to one decimal, halves rounded up (33.3, 66.7); None without a base."""
        if not self.denominator:
            return None
        exact = Decimal(100 * self.numerator) / Decimal(self.denominator)
        return exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    @property
    def per_thousand(self) -> Decimal | None:
        """Per 1,000 of the base to one decimal; None without a base."""
        if not self.denominator:
            return None
        exact = Decimal(1000 * self.numerator) / Decimal(self.denominator)
        return exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    def __str__(self) -> str:
        percent = self.percent
        return "n/a" if percent is None else f"{percent}%"


@dataclass(frozen=True)
class OutcomeGroup:
    """Completed courses of one protocol or one indication. A course is evaluable when it
    has a baseline and a later score on its primary instrument."""

    key: str
    label: str
    completed: int
    evaluable: int
    responders: int
    remitters: int

    @property
    def response(self) -> Ratio:
        return Ratio(self.responders, self.evaluable)

    @property
    def remission(self) -> Ratio:
        return Ratio(self.remitters, self.evaluable)


@dataclass(frozen=True)
class WeekFigures:
    """One ISO week, counting only its days in the report's range."""

    monday: dt.date
    first_day: dt.date
    last_day: dt.date
    open_minutes: int
    booked_minutes: int
    completed: int
    missed: int

    @property
    def iso_week(self) -> str:
        year, week, _ = self.monday.isocalendar()
        return f"{year}-W{week:02d}"

    @property
    def partial(self) -> bool:
        return (self.last_day - self.first_day).days < 6

    @property
    def utilisation(self) -> Ratio:
        return Ratio(self.booked_minutes, self.open_minutes)

    @property
    def missed_rate(self) -> Ratio:
        return Ratio(self.missed, self.completed + self.missed)


@dataclass(frozen=True)
class ProtocolAttendance:
    protocol: str
    completed: int
    missed: int
    adverse_events: int = 0  # recorded with the protocol's completed sessions

    @property
    def missed_rate(self) -> Ratio:
        return Ratio(self.missed, self.completed + self.missed)

    @property
    def adverse_event_rate(self) -> Ratio:
        """Adverse events per delivered (completed) session: shown per 1,000."""
        return Ratio(self.adverse_events, self.completed)


@dataclass(frozen=True)
class OutcomesReport:
    clinic: Clinic
    date_from: dt.date
    date_to: dt.date
    outcomes_by_protocol: list[OutcomeGroup]
    outcomes_by_indication: list[OutcomeGroup]
    outcomes_total: OutcomeGroup
    weeks: list[WeekFigures]
    attendance_by_protocol: list[ProtocolAttendance]

    @property
    def open_minutes(self) -> int:
        return sum(week.open_minutes for week in self.weeks)

    @property
    def booked_minutes(self) -> int:
        return sum(week.booked_minutes for week in self.weeks)

    @property
    def completed_sessions(self) -> int:
        return sum(week.completed for week in self.weeks)

    @property
    def missed_sessions(self) -> int:
        return sum(week.missed for week in self.weeks)

    @property
    def utilisation(self) -> Ratio:
        return Ratio(self.booked_minutes, self.open_minutes)

    @property
    def missed_rate(self) -> Ratio:
        return Ratio(self.missed_sessions, self.completed_sessions + self.missed_sessions)

    @property
    def adverse_events(self) -> int:
        return sum(row.adverse_events for row in self.attendance_by_protocol)

    @property
    def adverse_event_rate(self) -> Ratio:
        return Ratio(self.adverse_events, self.completed_sessions)


def outcomes_report(clinic: Clinic, date_from: dt.date, date_to: dt.date) -> OutcomesReport:
    """Every figure of the report for one clinic over [date_from, date_to], clinic-local."""
    rows = outcome_summary([clinic.pk], date_from, date_to)
    by_protocol = _outcome_groups(rows, key=lambda row: row.protocol, label=str)
    by_indication = _outcome_groups(rows, key=lambda row: row.indication, label=_indication_label)
    by_indication.sort(key=lambda group: _indication_order(group.key))
    attendance = _session_figures(clinic, date_from, date_to)
    open_time = open_chair_minutes(clinic, date_from, date_to)
    by_week: dict[dt.date, list[_SessionFigures]] = defaultdict(list)
    for (monday, _), figures in attendance.items():
        by_week[monday].append(figures)
    weeks = []
    for monday, first_day, last_day in iso_weeks(date_from, date_to):
        week_rows = by_week.get(monday, [])
        weeks.append(
            WeekFigures(
                monday=monday,
                first_day=first_day,
                last_day=last_day,
                open_minutes=open_time.get(monday, 0),
                booked_minutes=sum(figures.booked_minutes for figures in week_rows),
                completed=sum(figures.completed for figures in week_rows),
                missed=sum(figures.missed for figures in week_rows),
            )
        )
    per_protocol: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for (_, protocol), figures in attendance.items():
        per_protocol[protocol][0] += figures.completed
        per_protocol[protocol][1] += figures.missed
        per_protocol[protocol][2] += figures.adverse_events
    return OutcomesReport(
        clinic=clinic,
        date_from=date_from,
        date_to=date_to,
        outcomes_by_protocol=by_protocol,
        outcomes_by_indication=by_indication,
        outcomes_total=_sum_group("all", "All completed courses", rows),
        weeks=weeks,
        attendance_by_protocol=[
            ProtocolAttendance(protocol, completed, missed, adverse)
            for protocol, (completed, missed, adverse) in sorted(per_protocol.items())
            if completed or missed
        ],
    )


# --- outcomes ------------------------------------------------------------------------


def _indication_label(code: str) -> str:
    try:
        return str(Indication(code).label)
    except ValueError:
        return code


def _indication_order(code: str) -> tuple[int, str]:
    values = list(Indication.values)
    return (values.index(code) if code in values else len(values), code)


def _sum_group(key: str, label: str, rows: Iterable[OutcomeRow]) -> OutcomeGroup:
    listed = list(rows)
    return OutcomeGroup(
        key=key,
        label=label,
        completed=sum(row.completed for row in listed),
        evaluable=sum(row.evaluable for row in listed),
        responders=sum(row.responders for row in listed),
        remitters=sum(row.remitters for row in listed),
    )


def _outcome_groups(
    rows: Sequence[OutcomeRow],
    key: Callable[[OutcomeRow], str],
    label: Callable[[str], str],
) -> list[OutcomeGroup]:
    grouped: dict[str, list[OutcomeRow]] = defaultdict(list)
    for row in rows:
        grouped[key(row)].append(row)
    return [_sum_group(name, label(name), grouped[name]) for name in sorted(grouped)]


# --- sessions: booked minutes, completed and missed ----------------------------------


@dataclass
class _SessionFigures:
    booked_minutes: int = 0
    completed: int = 0
    missed: int = 0
    adverse_events: int = 0


def range_bounds(clinic: Clinic, date_from: dt.date, date_to: dt.date) -> Interval:
    """[local midnight starting date_from, local midnight ending date_to)."""
    tz = clinic.tz
    return (
        local_datetime(date_from, dt.time(0), tz),
        local_datetime(date_to + dt.timedelta(days=1), dt.time(0), tz),
    )


def _session_figures(
    clinic: Clinic, date_from: dt.date, date_to: dt.date
) -> dict[tuple[dt.date, str], _SessionFigures]:
    """Per (ISO week's Monday, protocol code): booked minutes on active chairs, completed
    and missed sessions; one query grouped in SQL. A session belongs to the clinic-local
    week it starts in."""
    start, end = range_bounds(clinic, date_from, date_to)
    length = ExpressionWrapper(F("ends_at") - F("starts_at"), output_field=DurationField())
    rows = (
        Session.objects.filter(chair__clinic=clinic, starts_at__gte=start, starts_at__lt=end)
        .annotate(week=TruncWeek("starts_at", tzinfo=clinic.tz))
        .values("week", "course__protocol__code")
        .annotate(
            booked=Sum(length, filter=Q(status__in=OCCUPYING, chair__active=True)),
            completed=Count("id", filter=Q(status=SessionStatus.COMPLETED)),
            missed=Count("id", filter=Q(status=SessionStatus.MISSED)),
            adverse=Count("adverse_event"),  # one at most per session: a join, no query
        )
        .order_by()
    )
    figures: dict[tuple[dt.date, str], _SessionFigures] = {}
    for row in rows:
        monday = row["week"].astimezone(clinic.tz).date()
        entry = figures.setdefault((monday, row["course__protocol__code"]), _SessionFigures())
        booked: dt.timedelta | None = row["booked"]
        entry.booked_minutes += round(booked.total_seconds() / 60) if booked else 0
        entry.completed += row["completed"]
        entry.missed += row["missed"]
        entry.adverse_events += row["adverse"]
    return figures


# --- open chair time -----------------------------------------------------------------


def iso_weeks(date_from: dt.date, date_to: dt.date) -> Iterator[tuple[dt.date, dt.date, dt.date]]:
    """(Monday, first day in range, last day in range) of every ISO week touching it."""
    monday = date_from - dt.timedelta(days=date_from.weekday())
    while monday <= date_to:
        sunday = monday + dt.timedelta(days=6)
        yield monday, max(monday, date_from), min(sunday, date_to)
        monday += dt.timedelta(days=7)


def _overlap_seconds(blocks: list[Interval], ends: list[dt.datetime], window: Interval) -> float:
    """Seconds of ``window`` covered by ``blocks`` (disjoint, sorted; ``ends`` their ends)."""
    opens, closes = window
    covered = 0.0
    for start, end in blocks[bisect.bisect_right(ends, opens) :]:
        if start >= closes:
            break
        covered += (min(end, closes) - max(start, opens)).total_seconds()
    return covered


def open_chair_minutes(clinic: Clinic, date_from: dt.date, date_to: dt.date) -> dict[dt.date, int]:
    """Open chair-minutes per ISO week (keyed by its Monday) in [date_from, date_to]:
    opening hours times the clinic's active chairs, less closures and chair blocks.

    Opening hours are clinic-local wall-clock times, measured in real elapsed time, so a
    day that spans a DST change counts the hour it gains or loses. Four queries."""
    tz = clinic.tz
    hours = {
        weekday: (opens, closes)
        for weekday, opens, closes in OpeningHours.objects.filter(clinic=clinic).values_list(
            "weekday", "opens", "closes"
        )
    }
    closed = set(
        Closure.objects.filter(clinic=clinic, date__gte=date_from, date__lte=date_to).values_list(
            "date", flat=True
        )
    )
    chair_ids = list(Chair.objects.filter(clinic=clinic, active=True).values_list("id", flat=True))
    start, end = range_bounds(clinic, date_from, date_to)
    raw_blocks: dict[int, list[Interval]] = defaultdict(list)
    for chair_id, block_start, block_end in ChairBlock.objects.filter(
        chair__clinic=clinic, chair__active=True, starts_at__lt=end, ends_at__gt=start
    ).values_list("chair_id", "starts_at", "ends_at"):
        raw_blocks[chair_id].append((block_start, block_end))
    blocks = {chair_id: merged_intervals(intervals) for chair_id, intervals in raw_blocks.items()}
    block_ends = {chair_id: [e for _, e in intervals] for chair_id, intervals in blocks.items()}

    seconds: dict[dt.date, float] = defaultdict(float)
    day = date_from
    while day <= date_to:
        if day.weekday() in hours and day not in closed:
            opens, closes = hours[day.weekday()]
            # Aware datetimes sharing one tzinfo subtract as wall-clock times: go to UTC.
            window = (
                local_datetime(day, opens, tz).astimezone(dt.UTC),
                local_datetime(day, closes, tz).astimezone(dt.UTC),
            )
            day_seconds = (window[1] - window[0]).total_seconds() * len(chair_ids)
            for chair_id, intervals in blocks.items():
                day_seconds -= _overlap_seconds(intervals, block_ends[chair_id], window)
            seconds[day - dt.timedelta(days=day.weekday())] += day_seconds
        day += dt.timedelta(days=1)
    return {monday: round(total / 60) for monday, total in seconds.items()}
