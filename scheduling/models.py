from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from clinic.models import Chair, Clinic, Patient
from courses.billing import BillingCode
from courses.models import TreatmentCourse


class SessionStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    CHECKED_IN = "checked_in", "Checked in"
    COMPLETED = "completed", "Completed"
    MISSED = "missed", "Missed"
    CANCELLED = "cancelled", "Cancelled"


# Sessions that hold their chair (and their patient); missed and cancelled ones free both.
OCCUPYING = (SessionStatus.SCHEDULED, SessionStatus.CHECKED_IN, SessionStatus.COMPLETED)
UPCOMING = (SessionStatus.SCHEDULED, SessionStatus.CHECKED_IN)


class SessionKind(models.TextChoices):
    MAPPING = "mapping", "Mapping (motor threshold)"
    TREATMENT = "treatment", "Treatment"
    TAPER = "taper", "Taper"
    CONTINUATION = "continuation", "Continuation"
    MAKEUP = "makeup", "Make-up"
    # A repeat motor threshold determination with that day's treatment (CPT 90869),
    # booked as one extra session of a course after its mapping session.
    REMAP = "remap", "Motor threshold re-determination"


class SessionQuerySet(models.QuerySet["Session"]):
    def with_sequence(self) -> SessionQuerySet:
        """Annotate ``sequence``: the session's position among its course's sessions that
        count (scheduled, checked in, completed), in time order; 12 of 36 on the board.

        Computed when read, not stored: a missed session would otherwise renumber every
        later session of its course, and rewriting those rows is what made the missed-
        session sweep slow."""
        earlier = (
            Session.objects.filter(
                course=OuterRef("course"), status__in=OCCUPYING, starts_at__lt=OuterRef("starts_at")
            )
            .order_by()
            .values("course")
            .annotate(count=Count("pk"))
            .values("count")
        )
        return self.annotate(sequence=Coalesce(Subquery(earlier), 0) + 1)


class Session(models.Model):
    """One treatment session on one chair.

    Two PostgreSQL exclusion constraints (migration 0002) guarantee that no two
    occupying sessions overlap on a chair or for a patient; the services check the same
    first so people get a useful message.
    """

    course = models.ForeignKey(TreatmentCourse, on_delete=models.PROTECT, related_name="sessions")
    # Denormalized from the course so the database can hold the patient-overlap rule.
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="sessions")
    chair = models.ForeignKey(Chair, on_delete=models.PROTECT, related_name="sessions")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(
        max_length=12, choices=SessionStatus.choices, default=SessionStatus.SCHEDULED
    )
    kind = models.CharField(max_length=20, choices=SessionKind.choices)
    phase = models.PositiveSmallIntegerField(help_text="The protocol phase (1 = acute).")
    makeup_for = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="makeup"
    )
    checked_in_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    missed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=200, blank=True)
    patient_confirmed_at = models.DateTimeField(null=True, blank=True)
    # Booked beyond the course's payer authorization (scheduling.coverage); kept up to
    # date by scheduling.services.authorization whenever sessions or authorizations change.
    pending_authorization = models.BooleanField(default=False)
    # Stored when the session is completed (scheduling.billing), never changed after:
    # the code and the clinic-local date of service are what a claim was made of.
    billing_code = models.CharField(max_length=5, choices=BillingCode.choices, blank=True)
    service_date = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SessionQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [
            models.Index(fields=["chair", "starts_at"]),
            models.Index(fields=["course", "starts_at"]),
            models.Index(fields=["patient", "starts_at"]),
            models.Index(
                fields=["ends_at"],
                condition=Q(status="scheduled"),
                name="session_scheduled_ends_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="session_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(status__in=SessionStatus.values), name="session_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=SessionKind.values), name="session_kind_valid"
            ),
            # Only a delivered session carries a code, with its date of service.
            models.CheckConstraint(
                condition=Q(billing_code="", service_date__isnull=True)
                | Q(
                    billing_code__in=BillingCode.values,
                    service_date__isnull=False,
                    status=SessionStatus.COMPLETED,
                ),
                name="session_billing_code_when_delivered",
            ),
            # 90867 once per course; 90867 and 90869 never on the same day (nor
            # either twice): docs/billing.md.
            models.UniqueConstraint(
                fields=["course"],
                condition=Q(billing_code=BillingCode.INITIAL),
                name="session_initial_code_once_per_course",
            ),
            models.UniqueConstraint(
                fields=["patient", "service_date"],
                condition=Q(billing_code__in=[BillingCode.INITIAL, BillingCode.REDETERMINATION]),
                name="session_threshold_code_once_per_day",
            ),
        ]

    def __str__(self) -> str:
        return f"Session {self.pk} ({self.status})"


class SideEffect(models.TextChoices):
    HEADACHE = "headache", "Headache"
    SCALP_DISCOMFORT = "scalp_discomfort", "Scalp discomfort at the site"
    FACIAL_TWITCHING = "facial_twitching", "Facial twitching"
    LIGHTHEADEDNESS = "lightheadedness", "Lightheadedness"
    FATIGUE = "fatigue", "Fatigue"
    NAUSEA = "nausea", "Nausea"
    HEARING_CHANGE = "hearing_change", "Hearing change"
    MOOD_CHANGE = "mood_change", "Mood change (e.g. hypomania)"
    SYNCOPE = "syncope", "Fainting"
    SEIZURE = "seizure", "Seizure"


def validate_side_effects(value: object) -> None:
    if not isinstance(value, list) or any(item not in SideEffect.values for item in value):
        raise ValidationError("Choose side effects from the list.", code="unknown_side_effect")


class TreatmentRecord(models.Model):
    """What a completed session delivered."""

    session = models.OneToOneField(Session, on_delete=models.CASCADE, related_name="record")
    pulses_delivered = models.PositiveIntegerField(validators=[MaxValueValidator(100_000)])
    intensity_pct_mt = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(200)]
    )
    coil_position = models.CharField(max_length=120)
    side_effects = models.JSONField(default=list, blank=True, validators=[validate_side_effects])
    side_effects_other = models.CharField(max_length=300, blank=True)
    adverse_event = models.BooleanField(default=False)
    technician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    notes = models.TextField(blank=True, validators=[MaxLengthValidator(2000)])
    # How the record departs from the course's prescription (courses.prescription's
    # codes, in its order), stored when the session is completed so the psychiatrist's
    # pages read them without recomputing; all but a lower intensity need a reason.
    deviations = models.JSONField(default=list, blank=True)
    deviation_reason = models.TextField(blank=True, validators=[MaxLengthValidator(1000)])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(intensity_pct_mt__gte=1, intensity_pct_mt__lte=200),
                name="record_intensity_range",
            ),
            models.CheckConstraint(
                condition=~Q(deviation_reason="")
                | Q(deviations=[])
                | Q(deviations=["intensity_below"]),
                name="record_deviation_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"Record of session {self.session_id}"

    @property
    def side_effect_labels(self) -> list[str]:
        labels = [str(SideEffect(code).label) for code in self.side_effects]
        return [*labels, self.side_effects_other] if self.side_effects_other else labels


class AdverseEventKind(models.TextChoices):
    SEIZURE = "seizure", "Seizure"
    SYNCOPE = "syncope", "Fainting (syncope)"
    OTHER = "other", "Other adverse event"


class ReviewDecision(models.TextChoices):
    CONTINUE = "continue", "Continue treatment"
    CONTINUE_CHANGED = "continue_changed", "Continue with changed parameters"
    DISCONTINUE = "discontinue", "Discontinue the course"


class AdverseEvent(models.Model):
    """A seizure, a faint or another adverse event recorded with a session. Until a
    psychiatrist records a decision the course is on hold: its sessions can be booked
    and moved but not checked in or completed (scheduling.adverse_events)."""

    course = models.ForeignKey(
        TreatmentCourse, on_delete=models.PROTECT, related_name="adverse_events"
    )
    session = models.OneToOneField(Session, on_delete=models.PROTECT, related_name="adverse_event")
    kind = models.CharField(max_length=10, choices=AdverseEventKind.choices)
    description = models.CharField(max_length=300, blank=True)
    raised_at = models.DateTimeField()
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    decision = models.CharField(max_length=20, choices=ReviewDecision.choices, blank=True)
    decision_note = models.TextField(blank=True, validators=[MaxLengthValidator(2000)])
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-raised_at", "-id"]
        indexes = [
            models.Index(
                fields=["course"], condition=Q(reviewed_at__isnull=True), name="adverse_event_open"
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=AdverseEventKind.values), name="adverse_event_kind_valid"
            ),
            # A decision is whole or absent: what, when and who, together.
            models.CheckConstraint(
                condition=(
                    Q(decision="", reviewed_at__isnull=True, reviewed_by__isnull=True)
                    | Q(
                        decision__in=ReviewDecision.values,
                        reviewed_at__isnull=False,
                        reviewed_by__isnull=False,
                    )
                ),
                name="adverse_event_review_whole",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on course {self.course_id}"


class SessionEventAction(models.TextChoices):
    UNDO_CHECK_IN = "undo_check_in", "Check-in undone"
    UNDO_MISSED = "undo_missed", "Missed mark undone"
    UNDO_CANCEL = "undo_cancel", "Cancellation undone"
    LATE_CHECK_IN = "late_check_in", "Checked in after being marked missed"
    MAKEUP_WITHDRAWN = "makeup_withdrawn", "Make-up withdrawn (the visit it replaced took place)"


class SessionEvent(models.Model):
    """A correction to a session's attendance: an undone check-in, missed mark or
    cancellation, a late patient checked in after all, and the make-up such a correction
    withdrew; who made it, when, from which state and why. Append-only.

    Two rules read it: the missed-session sweep leaves alone a session whose missed
    mark a person undid, and a withdrawn make-up is not itself made up."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=20, choices=SessionEventAction.choices)
    from_status = models.CharField(max_length=12, choices=SessionStatus.choices)
    to_status = models.CharField(max_length=12, choices=SessionStatus.choices)
    reason = models.CharField(max_length=200, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=SessionEventAction.values), name="session_event_action_valid"
            ),
            # An undo says why; the other corrections follow from one that did.
            models.CheckConstraint(
                condition=~Q(action__startswith="undo_") | ~Q(reason=""),
                name="session_event_undo_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} on session {self.session_id}"


class TimePreference(models.TextChoices):
    AROUND = "around", "Around"
    BEFORE = "before", "Before"
    AFTER = "after", "After"


class WaitlistStatus(models.TextChoices):
    WAITING = "waiting", "Waiting"
    BOOKED = "booked", "Booked"
    REMOVED = "removed", "Removed"


ALL_WEEKDAYS = 0b1111111
MONDAY_TO_FRIDAY = 0b0011111


class WaitlistEntry(models.Model):
    """A cleared patient's prescribed, unbooked course waiting for room on the chairs.

    ``fit_start``: the earliest day from which every session of the course fits
    (scheduling.waitlist), with when it was worked out; ``offer_start`` is set when that
    day moved earlier, until the course is booked from it or the entry leaves the list.
    Times: the sessions start at ``preferred_time``, or up to ``time_flex_minutes``
    before it (``before``), after it (``after``) or either side (``around``).
    """

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    course = models.ForeignKey(
        TreatmentCourse, on_delete=models.CASCADE, related_name="waitlist_entries"
    )
    time_preference = models.CharField(
        max_length=10, choices=TimePreference.choices, default=TimePreference.AROUND
    )
    preferred_time = models.TimeField()
    time_flex_minutes = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(240)]
    )
    # Days the course may start on: bit 0 Monday ... bit 6 Sunday.
    weekdays = models.PositiveSmallIntegerField(default=MONDAY_TO_FRIDAY)
    not_before = models.DateField(help_text="The earliest day the patient can start.")
    status = models.CharField(
        max_length=10, choices=WaitlistStatus.choices, default=WaitlistStatus.WAITING
    )
    fit_start = models.DateField(null=True, blank=True)
    fit_computed_at = models.DateTimeField(null=True, blank=True)
    offer_start = models.DateField(null=True, blank=True)
    offered_at = models.DateTimeField(null=True, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "waitlist entries"
        indexes = [models.Index(fields=["clinic", "status"])]
        constraints = [
            models.UniqueConstraint(
                fields=["course"],
                condition=Q(status="waiting"),
                name="waitlist_one_waiting_entry_per_course",
            ),
            models.CheckConstraint(
                condition=Q(weekdays__gte=1, weekdays__lte=ALL_WEEKDAYS),
                name="waitlist_weekdays_valid",
            ),
            models.CheckConstraint(
                condition=Q(time_flex_minutes__lte=240), name="waitlist_flex_bounded"
            ),
            models.CheckConstraint(
                condition=Q(status__in=WaitlistStatus.values), name="waitlist_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(time_preference__in=TimePreference.values),
                name="waitlist_time_preference_valid",
            ),
            models.CheckConstraint(
                condition=Q(offer_start__isnull=True) | Q(status="waiting"),
                name="waitlist_offer_only_while_waiting",
            ),
        ]

    def __str__(self) -> str:
        return f"Waitlist entry for course {self.course_id} ({self.status})"

    def starts_on(self, day: dt.date) -> bool:
        """Whether the course may start on ``day``'s weekday."""
        return bool(self.weekdays >> day.weekday() & 1)

    @property
    def weekday_list(self) -> list[int]:
        return [day for day in range(7) if self.weekdays >> day & 1]
