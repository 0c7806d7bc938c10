from __future__ import annotations

import math

from django.db import models
from django.db.models import F, Q

from clinic.models import Clinic, Coil
from courses.protocol_bounds import (
    EVERY_WEEKS,
    MAX_INTENSITY_PCT_MT,
    MAX_PHASES,
    MAX_SESSIONS_PER_DAY,
    MAX_SESSIONS_TOTAL,
    MAX_SLOT_MINUTES,
)


class MappingSchedule(models.TextChoices):
    """Where the motor-threshold (mapping) session goes. Once-a-day protocols make the
    first treatment the mapping session (a longer slot). Accelerated protocols (ten a
    day) determine the motor threshold before treatment starts, as published for SNT
    (Cole et al. 2020, 2022): a session of its own, not counted among the treatments."""

    FIRST_TREATMENT = "first_treatment", "The first treatment session, in a longer slot"
    DAY_BEFORE = "day_before", "Its own session, on the clinic day before treatment starts"
    SAME_DAY = "same_day", "Its own session, first thing on the first treatment day"


class PhaseKind(models.TextChoices):
    TREATMENT = "treatment", "Treatment"
    TAPER = "taper", "Taper"
    # Sessions at a lower, steady cadence that keep a response going (deep TMS: 2 a
    # week for 12 weeks); a taper steps the cadence down to the end of the course.
    CONTINUATION = "continuation", "Continuation"


class Protocol(models.Model):
    """A stimulation protocol and its schedule. Rows without a clinic are the seeded
    catalog every clinic sees; a clinic's own protocols are visible to it alone."""

    clinic = models.ForeignKey(
        Clinic, null=True, blank=True, on_delete=models.CASCADE, related_name="protocols"
    )
    code = models.SlugField(max_length=40)
    name = models.CharField(max_length=120)
    slot_minutes = models.PositiveSmallIntegerField(help_text="Treatment plus set-up.")
    mapping_minutes = models.PositiveSmallIntegerField(
        default=60, help_text="Slot for the first (motor-threshold mapping) session."
    )
    sessions_per_day = models.PositiveSmallIntegerField(default=1)
    mapping_schedule = models.CharField(
        max_length=20,
        choices=MappingSchedule.choices,
        default=MappingSchedule.FIRST_TREATMENT,
        help_text="Where the motor-threshold (mapping) session goes.",
    )
    min_gap_minutes = models.PositiveSmallIntegerField(
        default=0,
        help_text=(
            "Minimum time from the end of one same-day session's stimulation (its treatment "
            "minutes; the rest of the slot is set-up) to the next one's start."
        ),
    )
    # Stimulation parameters
    stimulation = models.CharField(max_length=40, help_text="e.g. 10 Hz, iTBS, 18 Hz")
    frequency_hz = models.DecimalField(max_digits=5, decimal_places=1)
    pulses_per_session = models.PositiveIntegerField()
    intensity_pct_mt = models.PositiveSmallIntegerField(
        help_text="Intensity, % of motor threshold."
    )
    target = models.CharField(max_length=80, default="left DLPFC")
    coil = models.CharField(
        max_length=20,
        choices=Coil.choices,
        default=Coil.FIGURE_8,
        help_text="The coil the protocol needs; only chairs fitted with it are booked.",
    )
    treatment_minutes = models.PositiveSmallIntegerField(help_text="Stimulation time.")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "code"], name="protocol_code_unique_in_clinic"
            ),
            models.UniqueConstraint(
                fields=["code"],
                condition=Q(clinic__isnull=True),
                name="protocol_code_unique_in_catalog",
            ),
            # Bounds of courses.protocol_bounds (the total across phases is the service's).
            models.CheckConstraint(
                condition=Q(sessions_per_day__gte=1, sessions_per_day__lte=MAX_SESSIONS_PER_DAY),
                name="protocol_sessions_per_day_range",
            ),
            models.CheckConstraint(
                condition=Q(
                    mapping_minutes__lte=MAX_SLOT_MINUTES,
                    min_gap_minutes__lte=MAX_SLOT_MINUTES,
                    treatment_minutes__lte=MAX_SLOT_MINUTES,
                ),
                name="protocol_minutes_bounded",
            ),
            models.CheckConstraint(
                condition=Q(sessions_per_day=1) | Q(min_gap_minutes__gt=0),
                name="protocol_gap_when_several_a_day",
            ),
            models.CheckConstraint(
                condition=Q(slot_minutes__gt=0) & Q(mapping_minutes__gte=F("slot_minutes")),
                name="protocol_slot_lengths",
            ),
            models.CheckConstraint(
                condition=Q(intensity_pct_mt__gt=0, intensity_pct_mt__lte=MAX_INTENSITY_PCT_MT),
                name="protocol_intensity_range",
            ),
            models.CheckConstraint(condition=Q(coil__in=Coil.values), name="protocol_coil_known"),
            models.CheckConstraint(
                condition=Q(mapping_schedule__in=MappingSchedule.values),
                name="protocol_mapping_schedule_known",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def separate_mapping(self) -> bool:
        """The mapping session is one of its own, besides the phases' sessions."""
        return self.mapping_schedule != MappingSchedule.FIRST_TREATMENT

    @property
    def start_spacing(self) -> int:
        """Minutes from one same-day session's start to the next one's, at least."""
        return min(self.treatment_minutes, self.slot_minutes) + self.min_gap_minutes


class ProtocolPhase(models.Model):
    """``per_week`` counts treatment days a week; each day holds ``sessions_per_day``.
    ``every_weeks`` above 1 runs the phase in one week of every 2 or 4 (maintenance:
    one session every 2 weeks, then monthly)."""

    protocol = models.ForeignKey(Protocol, on_delete=models.CASCADE, related_name="phases")
    order = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=20, choices=PhaseKind.choices, default=PhaseKind.TREATMENT)
    sessions = models.PositiveSmallIntegerField()
    per_week = models.PositiveSmallIntegerField()
    every_weeks = models.PositiveSmallIntegerField(
        default=1, help_text="The phase runs one week in this many (1, 2 or 4)."
    )

    class Meta:
        ordering = ["protocol_id", "order"]
        constraints = [
            models.UniqueConstraint(fields=["protocol", "order"], name="phase_order_unique"),
            models.CheckConstraint(
                condition=Q(sessions__gte=1, sessions__lte=MAX_SESSIONS_TOTAL),
                name="phase_sessions_range",
            ),
            models.CheckConstraint(
                condition=Q(order__gte=1, order__lte=MAX_PHASES), name="phase_order_range"
            ),
            models.CheckConstraint(
                condition=Q(per_week__gte=1, per_week__lte=7), name="phase_per_week_range"
            ),
            models.CheckConstraint(
                condition=Q(every_weeks__in=EVERY_WEEKS), name="phase_every_weeks_known"
            ),
        ]

    def __str__(self) -> str:
        every = f" every {self.every_weeks} weeks" if self.every_weeks > 1 else ""
        return f"{self.sessions} at {self.per_week}/week{every}"

    @property
    def in_words(self) -> str:
        """The phase as a person reads it: "24 continuation sessions, 2 a week" or
        "3 continuation sessions, 1 every 4 weeks"."""
        kind = self.get_kind_display().lower()
        if self.every_weeks == 1:
            return f"{self.sessions} {kind} sessions, {self.per_week} a week"
        return f"{self.sessions} {kind} sessions, {self.per_week} every {self.every_weeks} weeks"

    def weeks(self, sessions_per_day: int) -> int:
        """Weeks from the phase's first week to the end of its last: the weeks it runs
        and the weeks off between them."""
        running = math.ceil(self.sessions / (self.per_week * sessions_per_day))
        return (running - 1) * self.every_weeks + 1

    @property
    def interval_days(self) -> int:
        """Days between two sessions at the phase's cadence, rounded up (5 a week: 2;
        1 every 4 weeks: 28)."""
        return math.ceil(7 * self.every_weeks / self.per_week)


def planned_weeks(phases: list[ProtocolPhase], sessions_per_day: int) -> int:
    return sum(phase.weeks(sessions_per_day) for phase in phases)
