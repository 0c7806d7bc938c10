from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from courses.instruments import INSTRUMENTS, InstrumentCode
from courses.models.course import TreatmentCourse


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


class AssessmentSource(models.TextChoices):
    CLINIC = "clinic", "Entered by the clinic"
    PATIENT_REPORTED = "patient_reported", "Reported by the patient (relapse watch)"


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
    source = models.CharField(
        max_length=20, choices=AssessmentSource.choices, default=AssessmentSource.CLINIC
    )
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
            models.CheckConstraint(
                condition=Q(source__in=AssessmentSource.values), name="assessment_source_valid"
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
