from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from clinic.models import Chair, Patient
from courses.billing import BillingCode, validate_icd10
from courses.instruments import INSTRUMENTS, InstrumentCode
from courses.models.protocols import Protocol
from courses.protocol_bounds import MAX_SESSIONS_TOTAL


class Indication(models.TextChoices):
    MDD = "mdd", "Major depressive disorder"
    MDD_ANXIETY = "mdd_anxiety", "MDD with anxious distress"
    GAD = "gad", "Generalized anxiety disorder"
    OCD = "ocd", "Obsessive-compulsive disorder"
    OTHER = "other", "Other"


ANXIETY_INDICATIONS = {Indication.MDD_ANXIETY, Indication.GAD}


class CourseType(models.TextChoices):
    """Where a course stands in a patient's care. Acute: the first course (daily,
    4-6 weeks); continuation and maintenance keep a response going at a lower cadence;
    a booster is a short re-treatment after a relapse. All but acute follow a course."""

    ACUTE = "acute", "Acute"
    CONTINUATION = "continuation", "Continuation"
    MAINTENANCE = "maintenance", "Maintenance"
    BOOSTER = "booster", "Booster"


# Course types that must name the course they follow (``TreatmentCourse.follows``).
FOLLOWING_TYPES = (CourseType.CONTINUATION, CourseType.MAINTENANCE, CourseType.BOOSTER)


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
    type = models.CharField(max_length=20, choices=CourseType.choices, default=CourseType.ACUTE)
    # The course this one follows: the same patient's (courses.course_plan checks it; a
    # row-to-row rule the database cannot hold without a composite key).
    follows = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="followed_by"
    )
    # Sessions a psychiatrist added to the protocol's (courses.course_plan: where they go).
    added_sessions = models.PositiveSmallIntegerField(default=0)
    # The motor threshold this course reuses instead of a mapping session, decided when
    # its sessions are planned (scheduling.services.booking); None: it maps as usual.
    mapping_reused_from = models.ForeignKey(
        "courses.MotorThreshold",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    indication = models.CharField(max_length=20, choices=Indication.choices)
    diagnosis_code = models.CharField(
        max_length=8,
        blank=True,
        validators=[validate_icd10],
        help_text="ICD-10-CM code billed, e.g. F33.2; empty: the indication's default.",
    )
    primary_instrument = models.CharField(
        max_length=10, choices=InstrumentCode.choices, default=InstrumentCode.PHQ9
    )
    start_date = models.DateField()
    preferred_time = models.TimeField(help_text="Clinic-local wall-clock time.")
    preferred_chair = models.ForeignKey(
        Chair, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The psychiatrist's prescription where it differs from the protocol's defaults
    # (empty: the protocol's pulses and intensity). The coil position is the one found
    # at mapping, e.g. "F3 (Beam method)"; empty: none prescribed beyond the protocol's
    # target. courses.prescription reads these with their defaults.
    prescribed_pulses = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100_000)],
        help_text="Pulses per session; empty: the protocol's.",
    )
    prescribed_intensity_pct_mt = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(200)],
        help_text="Intensity, % of motor threshold; empty: the protocol's.",
    )
    prescribed_coil_position = models.CharField(
        max_length=120, blank=True, help_text="e.g. F3 (Beam method); empty: none prescribed."
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
            models.CheckConstraint(
                condition=Q(prescribed_pulses__isnull=True)
                | Q(prescribed_pulses__gte=1, prescribed_pulses__lte=100_000),
                name="course_prescribed_pulses_range",
            ),
            models.CheckConstraint(
                condition=Q(prescribed_intensity_pct_mt__isnull=True)
                | Q(prescribed_intensity_pct_mt__gte=1, prescribed_intensity_pct_mt__lte=200),
                name="course_prescribed_intensity_range",
            ),
            models.CheckConstraint(
                condition=Q(type__in=CourseType.values), name="course_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(type=CourseType.ACUTE) | Q(follows__isnull=False),
                name="course_follows_required",
            ),
            models.CheckConstraint(condition=~Q(follows=F("id")), name="course_follows_another"),
            models.CheckConstraint(
                condition=Q(added_sessions__lte=MAX_SESSIONS_TOTAL),
                name="course_added_sessions_bounded",
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


class AuthorizationCode(models.Model):
    """What an authorization allows of one procedure code, e.g. 36 x 90868 or 1 x 90867.
    An authorization without lines allows ``sessions_authorized`` sessions of any code."""

    authorization = models.ForeignKey(Authorization, on_delete=models.CASCADE, related_name="codes")
    code = models.CharField(max_length=5, choices=BillingCode.choices)
    units = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["authorization", "code"], name="authorization_code_once"
            ),
            models.CheckConstraint(
                condition=Q(code__in=BillingCode.values), name="authorization_code_valid"
            ),
            models.CheckConstraint(condition=Q(units__gte=1), name="authorization_code_units"),
        ]

    def __str__(self) -> str:
        return f"{self.units} x {self.code}"
