from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models import Q

from courses.models.course import TreatmentCourse
from courses.models.protocols import Protocol


class CourseChangeKind(models.TextChoices):
    LENGTHENED = "lengthened", "Lengthened"
    PROTOCOL_SWITCHED = "protocol_switched", "Protocol switched"


class CourseChange(models.Model):
    """A change to a course's plan a psychiatrist made mid-course: sessions added, or
    the protocol switched; who, when, why, and how many remaining sessions were
    re-planned from which day. The course page's timeline of changes. Append-only."""

    course = models.ForeignKey(TreatmentCourse, on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(max_length=20, choices=CourseChangeKind.choices)
    sessions_added = models.PositiveSmallIntegerField(default=0)
    from_protocol = models.ForeignKey(
        Protocol, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_protocol = models.ForeignKey(
        Protocol, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    replanned_from = models.DateField()
    sessions_replanned = models.PositiveSmallIntegerField()
    reason = models.TextField(validators=[MaxLengthValidator(1000)])
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=CourseChangeKind.values), name="course_change_kind_valid"
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="course_change_has_reason"),
            # A lengthening adds sessions; a switch names both protocols.
            models.CheckConstraint(
                condition=(
                    Q(kind=CourseChangeKind.LENGTHENED, sessions_added__gte=1)
                    | Q(
                        kind=CourseChangeKind.PROTOCOL_SWITCHED,
                        from_protocol__isnull=False,
                        to_protocol__isnull=False,
                    )
                ),
                name="course_change_whole",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on course {self.course_id}"

    @property
    def in_words(self) -> str:
        if self.kind == CourseChangeKind.LENGTHENED:
            what = f"{self.sessions_added} session{'s' if self.sessions_added != 1 else ''} added"
        else:
            what = f"Protocol switched from {self.from_protocol} to {self.to_protocol}"
        replanned = f"{self.sessions_replanned} remaining re-planned"
        return f"{what}; {replanned} from {self.replanned_from:%a %d %b %Y}"
