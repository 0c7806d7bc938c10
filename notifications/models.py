from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q

from clinic.models import Clinic, Patient
from scheduling.models import Session


class Channel(models.TextChoices):
    SMS = "sms", "SMS"
    EMAIL = "email", "Email"


class Kind(models.TextChoices):
    COURSE_BOOKED = "course_booked", "Course booked"
    FIRST_SESSION = "first_session", "First session"
    SESSION_MOVED = "session_moved", "Session moved"
    DAY_BEFORE = "day_before", "Day-before reminder"
    SAME_DAY = "same_day", "Same-day reminder"
    MISSED_FOLLOWUP = "missed_followup", "Missed-session follow-up"
    MAKEUP_BOOKED = "makeup_booked", "Make-up booked"
    SESSION_CANCELLED = "session_cancelled", "Session cancelled by staff"
    WATCH_CHECKIN = "watch_checkin", "Questionnaire link (relapse watch)"
    WAITLIST_OFFER = "waitlist_offer", "Waitlist: an earlier start came up"


# Changes always go out; routine reminders give way when a frequency cap is reached.
CHANGE_KINDS = (
    Kind.COURSE_BOOKED,
    Kind.SESSION_MOVED,
    Kind.MAKEUP_BOOKED,
    Kind.SESSION_CANCELLED,
)
# Messages about one event each (a change, a missed visit): never held back by the
# frequency caps, and not counted against them; the caps ration routine reminders.
UNCAPPED_KINDS = (*CHANGE_KINDS, Kind.MISSED_FOLLOWUP)
# Messages about a session that is no longer upcoming, which still go.
PAST_SESSION_KINDS = (Kind.MISSED_FOLLOWUP, Kind.SESSION_CANCELLED)


class Status(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    SUPPRESSED = "suppressed", "Suppressed"


FINAL_STATUSES = (Status.DELIVERED, Status.FAILED, Status.CANCELLED, Status.SUPPRESSED)


class ReminderPolicy(models.Model):
    """What a clinic sends, when, and how often (clinic admins edit it)."""

    clinic = models.OneToOneField(Clinic, on_delete=models.CASCADE, related_name="reminder_policy")
    course_booked = models.BooleanField(default=True)
    first_session = models.BooleanField(default=True)
    session_moved = models.BooleanField(default=True)
    day_before = models.BooleanField(default=True)
    same_day = models.BooleanField(default=True)
    missed_followup = models.BooleanField(default=True)
    makeup_booked = models.BooleanField(default=True)
    session_cancelled = models.BooleanField(
        default=True, help_text="Tell the patient when staff cancel a visit."
    )
    waitlist_offer = models.BooleanField(
        default=False,
        help_text="Text a waiting patient asking them to call when an earlier start "
        "comes up (the front desk sees the offer on the board either way).",
    )
    every_day = models.BooleanField(
        default=False,
        help_text="Remind before every visit. Off: before the first visit of each run of "
        "daily visits (each week's first), and before any changed visit; patients who "
        "ask get every day (Patient.daily_reminders).",
    )
    day_before_at = models.TimeField(
        default=dt.time(17, 0), help_text="Patient-local time the day before the session."
    )
    same_day_minutes_before = models.PositiveSmallIntegerField(default=120)
    window_start = models.TimeField(default=dt.time(8, 0))
    window_end = models.TimeField(default=dt.time(21, 0))
    # Caps are a safety net, not the schedule: a patient with daily reminders gets a
    # day-before and a same-day text on a treatment day, ten in a week (docs/reminders.md).
    sms_per_day = models.PositiveSmallIntegerField(default=2)
    sms_per_week = models.PositiveSmallIntegerField(default=10)
    email_per_day = models.PositiveSmallIntegerField(default=3)
    email_per_week = models.PositiveSmallIntegerField(default=10)

    class Meta:
        verbose_name_plural = "reminder policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(window_end__gt=models.F("window_start")),
                name="policy_window_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"Reminder policy of {self.clinic}"

    def kind_enabled(self, kind: str) -> bool:
        return bool(getattr(self, kind))


class Notification(models.Model):
    """One message to one patient on one channel: the outbox row.

    Written in the same transaction as the change that causes it; the unique
    idempotency key makes every writer and every retry land on the same row.
    """

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    # Indexed by (patient, channel, sent_at) below; an index of its own only slows inserts.
    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="notifications", db_index=False
    )
    session = models.ForeignKey(
        Session, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    # The relapse watch's questionnaire this message links to (Kind.WATCH_CHECKIN).
    watch_point = models.ForeignKey(
        "courses.WatchPoint",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(max_length=200, blank=True, help_text="Why suppressed or failed.")
    idempotency_key = models.CharField(max_length=120)  # unique: see Meta.constraints
    scheduled_for = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(
        null=True, blank=True, help_text="Identifies the worker's claim holding the lease."
    )
    provider_message_id = models.CharField(max_length=64, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True, help_text="What was sent (rendered when sending).")
    previous_starts_at = models.DateTimeField(
        null=True, blank=True, help_text="A moved session's start before the move."
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["scheduled_for", "id"]
        indexes = [
            models.Index(
                fields=["scheduled_for"], condition=Q(status="pending"), name="notif_due_idx"
            ),
            models.Index(
                fields=["lease_expires_at"], condition=Q(status="sending"), name="notif_lease_idx"
            ),
            models.Index(fields=["patient", "channel", "sent_at"]),
            models.Index(fields=["provider_message_id"]),
        ]
        constraints = [
            # A constraint, not unique=True: on PostgreSQL that adds a second (LIKE
            # pattern) index to every insert, and nothing searches keys by prefix.
            models.UniqueConstraint(
                fields=["idempotency_key"], name="notification_idempotency_key_unique"
            ),
            models.CheckConstraint(
                condition=Q(status__in=Status.values), name="notification_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="sending") | Q(lease_expires_at__isnull=False),
                name="notification_sending_has_lease",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.channel} ({self.status})"


class ConsentEvent(models.Model):
    """The consent ledger: every grant and revocation, who, how and under which text."""

    class Source(models.TextChoices):
        STAFF = "staff", "Recorded by staff"
        API = "api", "Via the API"
        INBOUND_SMS = "inbound_sms", "Patient's SMS keyword"
        IMPORT = "import", "Imported"
        WRITTEN = "written", "Written consent, recorded by staff"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="consent_events")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    granted = models.BooleanField()
    source = models.CharField(max_length=20, choices=Source.choices)
    text_version = models.CharField(max_length=20, default="2026-11")
    # Written consent: which document the patient signed, and on which day.
    document = models.CharField(max_length=200, blank=True)
    given_on = models.DateField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return (
            f"{'grant' if self.granted else 'revoke'} {self.channel} for patient {self.patient_id}"
        )


class InboundMessage(models.Model):
    """A provider message id seen at the inbound webhook, so each text is processed
    once: a replayed request (a captured, validly signed START posted again) changes
    nothing. Neither the number nor the text is kept."""

    provider_message_id = models.CharField(max_length=64, unique=True)
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.provider_message_id


class PatientReply(models.Model):
    """A text from a patient that is not a keyword ("running late"), for the front desk
    of the patient's clinic to read and mark handled. Nothing acts on it by itself."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="sms_replies")
    body = models.TextField(max_length=1600)
    received_at = models.DateTimeField(auto_now_add=True)
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "patient replies"
        ordering = ["-received_at", "-id"]
        indexes = [
            # The navigation counts each page view's unhandled replies of one clinic.
            models.Index(
                fields=["clinic"], condition=Q(handled_at__isnull=True), name="reply_unhandled_idx"
            ),
            models.Index(fields=["clinic", "-received_at"], name="reply_clinic_recent_idx"),
        ]
        # No "handled means handled_by" constraint: a staff account may be deleted later.

    def __str__(self) -> str:
        return f"Reply from patient {self.patient_id}"


# --- Signed outbound webhooks (docs/webhooks.md) ------------------------------------


class WebhookEvent(models.TextChoices):
    SESSION_BOOKED = "session.booked", "A session was booked"
    SESSION_MOVED = "session.moved", "A session moved to another time"
    SESSION_CANCELLED = "session.cancelled", "A session was cancelled"
    SESSION_COMPLETED = "session.completed", "A session was completed"
    SESSION_MISSED = "session.missed", "A session was missed"
    COURSE_RISK_CHANGED = "course.risk_changed", "A course's risk level changed"
    COURSE_STATUS_CHANGED = "course.status_changed", "A course's status changed"
    ASSESSMENT_RECORDED = "assessment.recorded", "A rating-scale score was recorded"


class WebhookEndpoint(models.Model):
    """A URL of the clinic's that receives signed events (clinic admins register it).

    The signing secret is not stored: it is derived from ``secret_salt`` and the
    server's ``WEBHOOK_KEY`` (notifications/services/webhooks.py), so the database alone
    does not give it away; it is shown once, when the endpoint is registered.
    """

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, help_text="The event types sent to it.")
    active = models.BooleanField(default=True)
    secret_salt = models.CharField(max_length=64)
    secret_hint = models.CharField(max_length=16, help_text="The secret's first characters.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["clinic", "active"], name="webhook_endpoint_clinic_idx")]

    def __str__(self) -> str:
        return f"Webhook endpoint {self.pk} of clinic {self.clinic_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class WebhookDelivery(models.Model):
    """One event to one endpoint: the webhook outbox row, written in the transaction of
    the change. ``event_id`` is the event's idempotency id (the same for every endpoint
    that receives it); ``body`` is the JSON sent, byte for byte, on every attempt."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    event_id = models.UUIDField()
    event = models.CharField(max_length=40, choices=WebhookEvent.choices)
    body = models.TextField()
    status = models.CharField(
        max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    scheduled_for = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["scheduled_for"], condition=Q(status="pending"), name="webhook_due_idx"
            ),
            models.Index(
                fields=["lease_expires_at"],
                condition=Q(status="sending"),
                name="webhook_lease_idx",
            ),
            # An endpoint's delivery log, newest first.
            models.Index(fields=["endpoint", "-created_at", "-id"], name="webhook_log_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event_id"], name="webhook_delivery_once_per_event"
            ),
            models.CheckConstraint(
                condition=Q(status__in=DeliveryStatus.values), name="webhook_delivery_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="sending") | Q(lease_expires_at__isnull=False),
                name="webhook_delivery_sending_has_lease",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} to endpoint {self.endpoint_id} ({self.status})"
