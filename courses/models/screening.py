from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from clinic.models import Patient


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
