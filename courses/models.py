from __future__ import annotations

import math

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from clinic.models import Chair, Clinic, Patient
from courses.instruments import INSTRUMENTS, InstrumentCode


class PhaseKind(models.TextChoices):
    TREATMENT = "treatment", "Treatment"
    TAPER = "taper", "Taper"


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
    min_gap_minutes = models.PositiveSmallIntegerField(
        default=0,
        help_text="Minimum time between one same-day session's end and the next one's start.",
    )
    # Stimulation parameters
    stimulation = models.CharField(max_length=40, help_text="e.g. 10 Hz, iTBS, 18 Hz")
    frequency_hz = models.DecimalField(max_digits=5, decimal_places=1)
    pulses_per_session = models.PositiveIntegerField()
    intensity_pct_mt = models.PositiveSmallIntegerField(
        help_text="Intensity, % of motor threshold."
    )
    target = models.CharField(max_length=80, default="left DLPFC")
    coil = models.CharField(max_length=80, default="figure-8")
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
            models.CheckConstraint(
                condition=Q(sessions_per_day__gte=1), name="protocol_sessions_per_day_positive"
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
                condition=Q(intensity_pct_mt__gt=0, intensity_pct_mt__lte=200),
                name="protocol_intensity_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ProtocolPhase(models.Model):
    """``per_week`` counts treatment days a week; each day holds ``sessions_per_day``."""

    protocol = models.ForeignKey(Protocol, on_delete=models.CASCADE, related_name="phases")
    order = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=10, choices=PhaseKind.choices, default=PhaseKind.TREATMENT)
    sessions = models.PositiveSmallIntegerField()
    per_week = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["protocol_id", "order"]
        constraints = [
            models.UniqueConstraint(fields=["protocol", "order"], name="phase_order_unique"),
            models.CheckConstraint(condition=Q(sessions__gte=1), name="phase_sessions_positive"),
            models.CheckConstraint(
                condition=Q(per_week__gte=1, per_week__lte=7), name="phase_per_week_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sessions} at {self.per_week}/week"


def planned_weeks(phases: list[ProtocolPhase], sessions_per_day: int) -> int:
    return sum(math.ceil(p.sessions / (p.per_week * sessions_per_day)) for p in phases)


class ScreeningStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    CLEARED = "cleared", "Cleared"
    CONTRAINDICATED = "contraindicated", "Contraindicated"


class Screening(models.Model):
    """Eligibility for TMS: treatment resistance and the safety questionnaire."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="screenings")
    # Absolute contraindications: any one blocks treatment.
    metal_in_head = models.BooleanField(
        default=False, help_text="Ferromagnetic metal in or near the head."
    )
    cochlear_implant = models.BooleanField(default=False)
    brain_stimulator = models.BooleanField(
        default=False, help_text="DBS, VNS or other implanted stimulator."
    )
    magnetic_implant_near_coil = models.BooleanField(
        default=False, help_text="Magnetic-sensitive implant near the coil (e.g. aneurysm clip)."
    )
    # Relative: a "yes" needs the psychiatrist's recorded decision.
    seizure_history = models.BooleanField(default=False)
    implanted_devices = models.BooleanField(
        default=False, help_text="Pacemaker, pump or other implanted device elsewhere."
    )
    head_injury_with_loc = models.BooleanField(
        default=False, help_text="With loss of consciousness."
    )
    pregnancy = models.BooleanField(default=False)
    prior_tms = models.BooleanField(default=False)
    prior_tms_problems = models.BooleanField(default=False)
    current_medications = models.TextField(blank=True)
    notes = models.TextField(blank=True)

    status = models.CharField(
        max_length=20, choices=ScreeningStatus.choices, default=ScreeningStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    ABSOLUTE = (
        "metal_in_head",
        "cochlear_implant",
        "brain_stimulator",
        "magnetic_implant_near_coil",
    )
    RELATIVE = (
        "seizure_history",
        "implanted_devices",
        "head_injury_with_loc",
        "pregnancy",
        "prior_tms_problems",
    )
    ANSWERS = (*ABSOLUTE, *RELATIVE, "prior_tms", "current_medications", "notes")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="cleared")
                | (Q(decided_by__isnull=False) & Q(decided_at__isnull=False)),
                name="screening_cleared_has_decision",
            ),
            models.CheckConstraint(
                condition=~Q(status="cleared")
                | Q(
                    metal_in_head=False,
                    cochlear_implant=False,
                    brain_stimulator=False,
                    magnetic_implant_near_coil=False,
                ),
                name="screening_never_cleared_with_absolute",
            ),
        ]

    def __str__(self) -> str:
        return f"Screening {self.pk} ({self.status})"

    @property
    def absolute_contraindications(self) -> list[str]:
        return [name for name in self.ABSOLUTE if getattr(self, name)]

    @property
    def relative_contraindications(self) -> list[str]:
        return [name for name in self.RELATIVE if getattr(self, name)]


class TrialOutcome(models.TextChoices):
    NO_RESPONSE = "no_response", "No response"
    PARTIAL_RESPONSE = "partial_response", "Partial response"
    INTOLERANCE = "intolerance", "Stopped for side effects"


class Adherence(models.TextChoices):
    FULL = "full", "Full"
    PARTIAL = "partial", "Partial"
    POOR = "poor", "Poor"


ADEQUATE_TRIAL_WEEKS = 6


class FailedTrial(models.Model):
    screening = models.ForeignKey(Screening, on_delete=models.CASCADE, related_name="failed_trials")
    drug = models.CharField(max_length=80)
    dose = models.CharField(max_length=40)
    weeks = models.PositiveSmallIntegerField()
    adherence = models.CharField(max_length=10, choices=Adherence.choices, default=Adherence.FULL)
    outcome = models.CharField(max_length=20, choices=TrialOutcome.choices)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.drug} {self.dose}"

    @property
    def adequate(self) -> bool:
        """A trial counts when it was stopped for side effects, or taken for at least
        six weeks without poor adherence and did not bring remission."""
        if self.outcome == TrialOutcome.INTOLERANCE:
            return True
        return self.weeks >= ADEQUATE_TRIAL_WEEKS and self.adherence != Adherence.POOR


class Indication(models.TextChoices):
    MDD = "mdd", "Major depressive disorder"
    MDD_ANXIETY = "mdd_anxiety", "MDD with anxious distress"
    GAD = "gad", "Generalized anxiety disorder"
    OCD = "ocd", "Obsessive-compulsive disorder"
    OTHER = "other", "Other"


ANXIETY_INDICATIONS = {Indication.MDD_ANXIETY, Indication.GAD}


class CourseStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    DISCONTINUED = "discontinued", "Discontinued"


OPEN_STATUSES = (CourseStatus.PLANNED, CourseStatus.ACTIVE, CourseStatus.PAUSED)

# Allowed status moves: from -> set of targets.
COURSE_TRANSITIONS: dict[str, set[str]] = {
    CourseStatus.PLANNED: {CourseStatus.ACTIVE, CourseStatus.DISCONTINUED},
    CourseStatus.ACTIVE: {CourseStatus.PAUSED, CourseStatus.COMPLETED, CourseStatus.DISCONTINUED},
    CourseStatus.PAUSED: {CourseStatus.ACTIVE, CourseStatus.DISCONTINUED},
    CourseStatus.COMPLETED: set(),
    CourseStatus.DISCONTINUED: set(),
}


class RiskLevel(models.TextChoices):
    OK = "ok", "OK"
    WATCH = "watch", "Watch"
    AT_RISK = "at_risk", "At risk"


class TreatmentCourse(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="courses")
    psychiatrist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="prescribed_courses"
    )
    protocol = models.ForeignKey(Protocol, on_delete=models.PROTECT, related_name="courses")
    indication = models.CharField(max_length=20, choices=Indication.choices)
    primary_instrument = models.CharField(
        max_length=10, choices=InstrumentCode.choices, default=InstrumentCode.PHQ9
    )
    start_date = models.DateField()
    preferred_time = models.TimeField(help_text="Clinic-local wall-clock time.")
    preferred_chair = models.ForeignKey(
        Chair, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=20, choices=CourseStatus.choices, default=CourseStatus.PLANNED
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_reason = models.TextField(blank=True)
    completed_on = models.DateField(null=True, blank=True)
    risk_level = models.CharField(max_length=10, choices=RiskLevel.choices, default=RiskLevel.OK)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-start_date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(status__in=["planned", "active", "paused"]),
                name="course_one_open_per_patient",
            ),
            models.CheckConstraint(
                condition=Q(primary_instrument__in=list(INSTRUMENTS)),
                name="course_primary_instrument_valid",
            ),
        ]
        indexes = [models.Index(fields=["status", "risk_level"])]

    def __str__(self) -> str:
        return f"Course {self.pk}"

    @property
    def tracked_instruments(self) -> list[str]:
        """The primary instrument, plus GAD-7 for anxiety indications."""
        instruments = [self.primary_instrument]
        if self.indication in ANXIETY_INDICATIONS and InstrumentCode.GAD7 not in instruments:
            instruments.append(InstrumentCode.GAD7)
        return instruments


class Authorization(models.Model):
    """A payer's authorization; an extension is another row on the same course."""

    course = models.ForeignKey(
        TreatmentCourse, on_delete=models.CASCADE, related_name="authorizations"
    )
    payer = models.CharField(max_length=120)
    number = models.CharField(max_length=60)
    sessions_authorized = models.PositiveSmallIntegerField()
    valid_from = models.DateField()
    valid_until = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["valid_from", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__gte=F("valid_from")), name="authorization_dates_ordered"
            ),
            models.CheckConstraint(
                condition=Q(sessions_authorized__gte=1), name="authorization_sessions_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.payer} {self.number}"


class MotorThresholdMethod(models.TextChoices):
    VISUAL = "visual", "Visual observation"
    EMG = "emg", "EMG (MEP)"
    PEST = "pest", "Parameter estimation (PEST)"


class MotorThreshold(models.Model):
    course = models.ForeignKey(
        TreatmentCourse, on_delete=models.CASCADE, related_name="motor_thresholds"
    )
    measured_on = models.DateField()
    machine_output_pct = models.PositiveSmallIntegerField(help_text="% of machine output.")
    method = models.CharField(max_length=10, choices=MotorThresholdMethod.choices)
    measured_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["measured_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(machine_output_pct__gte=1, machine_output_pct__lte=100),
                name="motor_threshold_pct_range",
            ),
        ]

    def __str__(self) -> str:
        return f"MT {self.machine_output_pct}% on {self.measured_on}"


class Assessment(models.Model):
    course = models.ForeignKey(
        TreatmentCourse, on_delete=models.CASCADE, related_name="assessments"
    )
    instrument = models.CharField(max_length=10, choices=InstrumentCode.choices)
    score = models.PositiveSmallIntegerField()
    items = models.JSONField(null=True, blank=True)
    # The answer to the scale's suicide item, kept even when only the total was entered.
    suicide_item = models.PositiveSmallIntegerField(null=True, blank=True)
    administered_on = models.DateField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["administered_on", "id"]
        indexes = [models.Index(fields=["course", "instrument", "administered_on"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(instrument__in=list(INSTRUMENTS)), name="assessment_instrument_valid"
            ),
            # The total's range per instrument, held by the database as well.
            models.CheckConstraint(
                condition=(
                    (Q(instrument="phq9") & Q(score__lte=27))
                    | (Q(instrument="gad7") & Q(score__lte=21))
                    | (Q(instrument="hamd17") & Q(score__lte=52))
                    | (Q(instrument="madrs") & Q(score__lte=60))
                    | (Q(instrument="bdi2") & Q(score__lte=63))
                ),
                name="assessment_score_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_instrument_display()} {self.score} on {self.administered_on}"


class SafetyFlag(models.Model):
    """Raised when a PHQ-9 reports thoughts of self-harm (item 9 above 0)."""

    course = models.ForeignKey(
        TreatmentCourse, on_delete=models.CASCADE, related_name="safety_flags"
    )
    assessment = models.OneToOneField(
        Assessment, on_delete=models.CASCADE, related_name="safety_flag"
    )
    item_value = models.PositiveSmallIntegerField()
    raised_at = models.DateTimeField()
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-raised_at", "-id"]

    def __str__(self) -> str:
        return f"Safety flag on course {self.course_id}"


class AlertKind(models.TextChoices):
    SAFETY_FLAG = "safety_flag", "Safety flag"
    AT_RISK = "at_risk", "Course at risk"


class StaffAlert(models.Model):
    """An in-app alert for one staff member about one course (also emailed). Never
    sent to patients."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alerts"
    )
    course = models.ForeignKey(TreatmentCourse, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    detail = models.CharField(max_length=300)
    key = models.CharField(max_length=120, unique=True, help_text="One alert per cause.")
    created_at = models.DateTimeField(auto_now_add=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    # Why the alert settled itself when its cause went away (nobody acknowledged it).
    settled_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient", "acknowledged_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.recipient}"


class DigestSent(models.Model):
    """One daily digest per person and clinic-local day: the row is the guard that
    keeps two runs from sending it twice."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clinic", "recipient", "day"], name="digest_once_a_day")
        ]

    def __str__(self) -> str:
        return f"Digest {self.day} for {self.recipient_id}"
