"""The relapse watch (docs/relapse-watch.md): after an acute course is completed, the
patient answers a PHQ-9 from a signed link at each point of the clinic's schedule; an
answer that meets the clinic's relapse rule puts the course on the relapse list."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from courses.models.clinical import Assessment
from courses.models.course import TreatmentCourse


class RelapseWatch(models.Model):
    """One per completed acute course (the clinic's setting decides whether it starts)."""

    course = models.OneToOneField(
        TreatmentCourse, on_delete=models.CASCADE, related_name="relapse_watch"
    )
    started_on = models.DateField(help_text="The clinic-local day the course ended.")
    active = models.BooleanField(default=True)
    stopped_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-started_on", "-id"]

    def __str__(self) -> str:
        return f"Relapse watch of course {self.course_id}"


class WatchPoint(models.Model):
    """One questionnaire the patient is asked for: its link is sent on ``due_on`` (in
    the send window), works until the end of ``expires_on`` and only once."""

    watch = models.ForeignKey(RelapseWatch, on_delete=models.CASCADE, related_name="points")
    number = models.PositiveSmallIntegerField()
    due_on = models.DateField()
    expires_on = models.DateField()
    answered_at = models.DateTimeField(null=True, blank=True)
    assessment = models.OneToOneField(
        Assessment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="watch_point",
    )

    class Meta:
        ordering = ["due_on", "id"]
        indexes = [
            models.Index(
                fields=["due_on"],
                condition=Q(answered_at__isnull=True),
                name="watch_point_open_idx",
            )
        ]
        constraints = [
            models.UniqueConstraint(fields=["watch", "number"], name="watch_point_number_once"),
            models.CheckConstraint(
                condition=Q(expires_on__gt=F("due_on")), name="watch_point_expires_after_due"
            ),
        ]

    def __str__(self) -> str:
        return f"Watch point {self.number} of watch {self.watch_id}"


class RelapseRule(models.TextChoices):
    REMITTER = "remitter", "A remitter's score reached the clinic's threshold"
    RISE = "rise", "The score rose from the course's last score"
    BOTH = "both", "Both: a remitter's score reached the threshold, and it rose"


class Relapse(models.Model):
    """An entry of the relapse list: a patient-reported score that met the rule. Open
    until a psychiatrist closes it (with a note: a booster booked, a call made)."""

    course = models.ForeignKey(TreatmentCourse, on_delete=models.CASCADE, related_name="relapses")
    assessment = models.OneToOneField(Assessment, on_delete=models.CASCADE, related_name="relapse")
    rule = models.CharField(max_length=10, choices=RelapseRule.choices)
    score = models.PositiveSmallIntegerField()
    baseline = models.PositiveSmallIntegerField(help_text="The course's last clinic score.")
    detected_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    close_note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-detected_at", "-id"]
        indexes = [
            models.Index(
                fields=["course"], condition=Q(closed_at__isnull=True), name="relapse_open_idx"
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(rule__in=RelapseRule.values), name="relapse_rule_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Relapse on course {self.course_id}"
