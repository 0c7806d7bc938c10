"""The outcomes report as CSV: one row per figure group, counts and rates only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scheduling.reports import OutcomeGroup, OutcomesReport, Ratio

CSV_HEADER = (
    "section",
    "protocol",
    "indication",
    "iso_week",
    "period_start",
    "period_end",
    "courses_completed",
    "courses_evaluable",
    "responders",
    "remitters",
    "response_rate_pct",
    "remission_rate_pct",
    "booked_minutes",
    "open_chair_minutes",
    "utilisation_pct",
    "sessions_completed",
    "sessions_missed",
    "missed_rate_pct",
    "adverse_events",
    "adverse_events_per_1000_sessions",
)


def _percent_cell(ratio: Ratio) -> str:
    percent = ratio.percent
    return "" if percent is None else str(percent)


def _per_thousand_cell(ratio: Ratio) -> str:
    value = ratio.per_thousand
    return "" if value is None else str(value)


def _outcome_cells(group: OutcomeGroup) -> dict[str, object]:
    return {
        "courses_completed": group.completed,
        "courses_evaluable": group.evaluable,
        "responders": group.responders,
        "remitters": group.remitters,
        "response_rate_pct": _percent_cell(group.response),
        "remission_rate_pct": _percent_cell(group.remission),
    }


def csv_rows(report: OutcomesReport) -> Iterator[list[str]]:
    """The report as CSV rows under :data:`CSV_HEADER`: one row per figure group, with
    a ``section`` naming which (outcomes_by_protocol, outcomes_by_indication, week,
    missed_by_protocol, adverse_events_by_protocol, total). Adverse events are per
    1,000 completed sessions. ``period_start``/``period_end`` are a week's days in
    the range, or the whole range on the total row. Rates are per cent to one decimal,
    as on the page, and empty when there is nothing to divide by. Counts and minutes
    only: no patient appears."""

    def row(section: str, **cells: object) -> list[str]:
        unknown = set(cells) - set(CSV_HEADER)
        if unknown:
            raise ValueError(f"Not CSV columns: {sorted(unknown)}")
        return [section, *(text_cell(cells.get(name, "")) for name in CSV_HEADER[1:])]

    yield list(CSV_HEADER)
    for group in report.outcomes_by_protocol:
        yield row("outcomes_by_protocol", protocol=group.key, **_outcome_cells(group))
    for group in report.outcomes_by_indication:
        yield row("outcomes_by_indication", indication=group.key, **_outcome_cells(group))
    for week in report.weeks:
        yield row(
            "week",
            iso_week=week.iso_week,
            period_start=week.first_day.isoformat(),
            period_end=week.last_day.isoformat(),
            booked_minutes=week.booked_minutes,
            open_chair_minutes=week.open_minutes,
            utilisation_pct=_percent_cell(week.utilisation),
            sessions_completed=week.completed,
            sessions_missed=week.missed,
            missed_rate_pct=_percent_cell(week.missed_rate),
        )
    for attendance in report.attendance_by_protocol:
        yield row(
            "missed_by_protocol",
            protocol=attendance.protocol,
            sessions_completed=attendance.completed,
            sessions_missed=attendance.missed,
            missed_rate_pct=_percent_cell(attendance.missed_rate),
        )
    for attendance in report.attendance_by_protocol:
        yield row(
            "adverse_events_by_protocol",
            protocol=attendance.protocol,
            sessions_completed=attendance.completed,
            adverse_events=attendance.adverse_events,
            adverse_events_per_1000_sessions=_per_thousand_cell(attendance.adverse_event_rate),
        )
    yield row(
        "total",
        period_start=report.date_from.isoformat(),
        period_end=report.date_to.isoformat(),
        **_outcome_cells(report.outcomes_total),
        booked_minutes=report.booked_minutes,
        open_chair_minutes=report.open_minutes,
        utilisation_pct=_percent_cell(report.utilisation),
        sessions_completed=report.completed_sessions,
        sessions_missed=report.missed_sessions,
        missed_rate_pct=_percent_cell(report.missed_rate),
        adverse_events=report.adverse_events,
        adverse_events_per_1000_sessions=_per_thousand_cell(report.adverse_event_rate),
    )


def text_cell(value: object) -> str:
    """A cell a spreadsheet will not run as a formula (protocol codes are clinic-edited)."""
    text = str(value)
    if text[:1] in {"=", "+", "-", "@", "\t", "\r"}:
        return "'" + text
    return text
