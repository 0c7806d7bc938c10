from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from clinic.models import Clinic
from courses.models.course import TreatmentCourse


class AlertKind(models.TextChoices):
    SAFETY_FLAG = "safety_flag", "Safety flag"
    AT_RISK = "at_risk", "Course at risk"
    ADVERSE_EVENT = "adverse_event", "Adverse event"
    ESCALATION = "escalation", "Unacknowledged alert"
    RELAPSE = "relapse", "Possible relapse"


# Alerts that must be seen within the clinic's escalation time (courses.escalation).
ESCALATING_KINDS = (AlertKind.SAFETY_FLAG, AlertKind.ADVERSE_EVENT)


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
    # An escalation names the alert nobody acknowledged in time; the original keeps when
    # it was escalated (the claim that escalates it once).
    escalates = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="escalations"
    )
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "acknowledged_at"]),
            models.Index(
                fields=["created_at"],
                condition=Q(acknowledged_at__isnull=True, escalated_at__isnull=True),
                name="staff_alert_escalation_due",
            ),
        ]

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
