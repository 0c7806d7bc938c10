"""A clinic's relapse-watch settings (docs/relapse-watch.md): fields of ``Clinic``, kept
in a module of their own. After an acute course ends, the patient is asked for a PHQ-9
on a schedule; a score that meets the relapse rule alerts the psychiatrist."""

from __future__ import annotations

import calendar
import datetime as dt

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

MAX_WATCH_WEEKS = 52
MAX_WATCH_MONTHS = 24
# A monthly point comes at least this long after the last weekly one.
MONTHLY_GAP_DAYS = 28


def parse_weeks(text: str) -> list[int]:
    """``"2, 4, 8, 12"`` -> [2, 4, 8, 12]; ValueError when it is not such a list."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    weeks = [int(part) for part in parts]  # ValueError on anything else
    if weeks != sorted(set(weeks)) or any(not 1 <= week <= MAX_WATCH_WEEKS for week in weeks):
        raise ValueError(text)
    return weeks


def validate_weeks(text: str) -> None:
    try:
        parse_weeks(text)
    except ValueError:
        raise ValidationError(
            f"Give weeks after the end in rising order, each 1 to {MAX_WATCH_WEEKS}, "
            "separated by commas (e.g. 2, 4, 8, 12).",
            code="invalid_weeks",
        ) from None


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (the month's last day when it is shorter)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


RELAPSE_SETTINGS_IN_RANGE = models.CheckConstraint(
    condition=models.Q(
        relapse_watch_months__lte=MAX_WATCH_MONTHS,
        relapse_remitter_score__gte=1,
        relapse_remitter_score__lte=27,
        relapse_rise__gte=1,
        relapse_rise__lte=27,
    ),
    name="clinic_relapse_settings_range",
)


class RelapseWatchSettings(models.Model):
    relapse_watch = models.BooleanField(
        default=True,
        help_text="When an acute course is completed, ask the patient for a PHQ-9 by text "
        "or email on the schedule below.",
    )
    relapse_watch_weeks = models.CharField(
        max_length=60,
        default="2, 4, 8, 12",
        validators=[validate_weeks],
        help_text="Weeks after the course's end at which the patient is asked.",
    )
    relapse_watch_months = models.PositiveSmallIntegerField(
        default=12,
        validators=[MaxValueValidator(MAX_WATCH_MONTHS)],
        help_text="Then once a month until this many months after the end (0: never).",
    )
    relapse_remitter_score = models.PositiveSmallIntegerField(
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(27)],
        help_text="A patient who ended in remission relapses at this PHQ-9 or above.",
    )
    relapse_rise = models.PositiveSmallIntegerField(
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(27)],
        help_text="Any patient relapses when the PHQ-9 rises this much above the course's "
        "last score.",
    )

    class Meta:
        abstract = True

    def relapse_watch_days(self, ended_on: dt.date) -> list[dt.date]:
        """The days the patient is asked, for a course that ended on ``ended_on``: each
        week of the list, then monthly (from the first month at least four weeks after
        the last weekly point) until the months' limit."""
        days = [
            ended_on + dt.timedelta(weeks=week) for week in parse_weeks(self.relapse_watch_weeks)
        ]
        last = days[-1] if days else ended_on
        for month in range(1, self.relapse_watch_months + 1):
            day = add_months(ended_on, month)
            if day >= last + dt.timedelta(days=MONTHLY_GAP_DAYS):
                days.append(day)
                last = day
        return days
