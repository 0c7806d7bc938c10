from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Collection
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from clinic import identifiers
from clinic.audit_scope import note_loaded_patient
from clinic.coils import Coil, default_coils, validate_coils  # noqa: F401 (Coil re-exported)
from clinic.dates import validate_date_in_range
from clinic.identifiers import validate_timezone
from clinic.patient_text import validate_display_name
from clinic.phones import validate_e164
from clinic.relapse_settings import RELAPSE_SETTINGS_IN_RANGE, RelapseWatchSettings

MAX_ESCALATION_MINUTES = 10080  # a week of opening hours


class Role(models.TextChoices):
    FRONT_DESK = "front_desk", "Front desk"
    TECHNICIAN = "technician", "Technician"
    PSYCHIATRIST = "psychiatrist", "Psychiatrist"
    CLINIC_ADMIN = "clinic_admin", "Clinic admin"


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class BeyondAuthorization(models.TextChoices):
    """What booking does with a course's sessions that no payer authorization covers
    (scheduling.coverage): the count is used up, or the day is outside its dates."""

    PENDING = "pending", "Book them, marked pending authorization"
    LEAVE = "leave", "Leave them unbooked"


class Clinic(RelapseWatchSettings, models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    timezone = models.CharField(max_length=64, validators=[validate_timezone])
    display_name = models.CharField(
        max_length=30,
        validators=[validate_display_name],
        help_text=(
            "Neutral name used in patient messages; never names the treatment. Short, so "
            "a text message stays within one 160-character SMS."
        ),
    )
    phone = models.CharField(max_length=20, validators=[validate_e164])
    required_failed_trials = models.PositiveSmallIntegerField(
        default=2,
        help_text="Adequate failed antidepressant trials a screening needs before clearing.",
    )
    course_window_grace_weeks = models.PositiveSmallIntegerField(
        default=2, help_text="Weeks a course may run past its planned length."
    )
    missed_grace_minutes = models.PositiveSmallIntegerField(
        default=15, help_text="A session with no check-in this long after its end is missed."
    )
    auto_makeup = models.BooleanField(
        default=True, help_text="Book a make-up session when a course session is missed."
    )
    patient_cancel_hours = models.PositiveSmallIntegerField(
        default=24, help_text="Patients may cancel from a reminder link until this long before."
    )
    # Pending by default: the patient keeps their chair and daily rhythm while the
    # extension is requested (routine for the taper), and the board shows every such
    # session; "leave" suits payers that refuse to pay for any session booked without one.
    book_beyond_authorization = models.CharField(
        max_length=10,
        choices=BeyondAuthorization.choices,
        default=BeyondAuthorization.PENDING,
        help_text=(
            "Sessions of a course beyond its authorization's count or dates: booked and "
            "marked pending authorization, or left unbooked."
        ),
    )
    escalation_minutes = models.PositiveSmallIntegerField(
        default=120,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_ESCALATION_MINUTES)],
        help_text=(
            "A safety flag or adverse event alert nobody acknowledged after this many "
            "minutes of opening hours alerts the clinic's other psychiatrists and admins."
        ),
    )
    check_in_early_minutes = models.PositiveSmallIntegerField(
        default=60,
        validators=[MaxValueValidator(720)],
        help_text="A patient may be checked in at most this many minutes before the session.",
    )
    motor_threshold_valid_days = models.PositiveSmallIntegerField(
        default=90,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text=(
            "A continuation, maintenance or booster course reuses a motor threshold "
            "measured this many days before it starts, instead of a mapping session."
        ),
    )
    npi = identifiers.npi_field()
    tax_id = identifiers.tax_id_field()
    require_mfa_for_all_staff = models.BooleanField(
        default=False,
        help_text=(
            "Front desk and technicians log in with a second factor too (psychiatrists "
            "and clinic admins always do)."
        ),
    )
    # Kept by the webhook services (notifications): whether the clinic has an active
    # endpoint. A booking reads it with the clinic it already loads, so a clinic with
    # none writes no deliveries without looking endpoints up (docs/webhooks.md).
    has_webhooks = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(book_beyond_authorization__in=BeyondAuthorization.values),
                name="clinic_book_beyond_authorization_valid",
            ),
            models.CheckConstraint(
                condition=Q(escalation_minutes__gte=1, escalation_minutes__lte=10080),
                name="clinic_escalation_minutes_range",
            ),
            models.CheckConstraint(
                condition=Q(motor_threshold_valid_days__gte=1, motor_threshold_valid_days__lte=365),
                name="clinic_motor_threshold_valid_days_range",
            ),
            RELAPSE_SETTINGS_IN_RANGE,
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def today(self) -> dt.date:
        """The date on the clinic's own wall clock (not UTC's)."""
        return timezone.localdate(timezone=self.tz)


class OpeningHours(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField(help_text="Clinic-local wall-clock time.")
    closes = models.TimeField(help_text="Clinic-local wall-clock time.")

    class Meta:
        ordering = ["weekday"]
        verbose_name_plural = "opening hours"
        constraints = [
            models.UniqueConstraint(fields=["clinic", "weekday"], name="opening_hours_one_per_day"),
            models.CheckConstraint(
                condition=Q(closes__gt=F("opens")), name="opening_hours_close_after_open"
            ),
            models.CheckConstraint(
                condition=Q(weekday__gte=0, weekday__lte=6), name="opening_hours_weekday_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"


class Closure(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="closures")
    date = models.DateField(validators=[validate_date_in_range])
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "date"], name="closure_one_per_day"),
        ]

    def __str__(self) -> str:
        return f"{self.clinic} closed {self.date}"


class Chair(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="chairs")
    name = models.CharField(max_length=60)
    device = models.CharField(max_length=120, blank=True, help_text="The device model.")
    coils = models.JSONField(
        default=default_coils,
        validators=[validate_coils],
        help_text="Coil types this chair's device can use; a protocol's coil must be one.",
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["clinic_id", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "name"], name="chair_name_unique_in_clinic"),
        ]

    def __str__(self) -> str:
        return self.name

    def fits(self, coil: str) -> bool:
        return coil in self.coils


class ChairBlock(models.Model):
    """A maintenance or other hold on a chair; nothing may be booked during it."""

    chair = models.ForeignKey(Chair, on_delete=models.CASCADE, related_name="blocks")
    starts_at = models.DateTimeField(validators=[validate_date_in_range])
    ends_at = models.DateTimeField(validators=[validate_date_in_range])
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="chair_block_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.chair} blocked {self.starts_at:%Y-%m-%d %H:%M}"


class PreferredChannel(models.TextChoices):
    """How a patient wants to hear from the clinic. It chooses between channels the
    patient consented to; it never grants consent: a patient who prefers texts but has
    not agreed to them (or has no phone) is emailed, if they agreed to that."""

    SMS = "sms", "Text message"
    EMAIL = "email", "Email"
    BOTH = "both", "Both: text and email"


class Patient(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="patients")
    mrn = models.CharField("MRN", max_length=40)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField(validators=[validate_date_in_range])
    phone = models.CharField(max_length=20, blank=True, validators=[validate_e164])
    email = models.EmailField(blank=True)
    sms_consent = models.BooleanField(default=False)
    email_consent = models.BooleanField(default=False)
    preferred_channel = models.CharField(
        max_length=10,
        choices=PreferredChannel.choices,
        default=PreferredChannel.SMS,
        help_text="Where messages go when the patient agreed to both texts and emails; "
        "with one consent only, they go there whatever this says.",
    )
    daily_reminders = models.BooleanField(
        default=False,
        help_text="Remind before every visit, not only the first of each week and changed "
        "ones (the patient asked for it).",
    )
    contact_problem = models.CharField(
        max_length=200, blank=True, help_text="Set when a message could not be delivered."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "mrn"], name="patient_mrn_unique_in_clinic"),
            models.CheckConstraint(
                condition=Q(preferred_channel__in=PreferredChannel.values),
                name="patient_preferred_channel_valid",
            ),
        ]
        indexes = [models.Index(fields=["clinic", "last_name", "first_name"])]

    def __str__(self) -> str:
        # Admin and logs identify a patient by MRN, not by name.
        return f"Patient {self.mrn}"

    @classmethod
    def from_db(
        cls, db: str | None, field_names: Collection[str], values: Collection[Any], **kw: Any
    ) -> Patient:
        # Every patient row loaded during a request is a read the audit trail records
        # (clinic.audit_trail), whichever page, query or relation loaded it.
        instance = super().from_db(db, field_names, values, **kw)
        note_loaded_patient(instance)
        return instance

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if self.sms_consent and not self.phone:
            errors["sms_consent"] = "SMS consent needs a phone number."
        if self.email_consent and not self.email:
            errors["email_consent"] = "Email consent needs an email address."
        if errors:
            raise ValidationError(errors)


# What staff set on a patient: the API's writable fields, the registration form's, and
# (with ``contact_problem``) the values the audit trail may copy (none clinical).
PATIENT_DETAILS = (
    "mrn",
    "first_name",
    "last_name",
    "date_of_birth",
    "phone",
    "email",
    "sms_consent",
    "email_consent",
    "preferred_channel",
    "daily_reminders",
)


class StaffMembership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)

    class Meta:
        ordering = ["clinic_id", "user_id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "clinic"], name="membership_one_per_clinic"),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} at {self.clinic}"


class ApiToken(models.Model):
    """One API login (one device, named by its client). Only the token's SHA-256 digest
    is stored; the token itself is shown once, in the login's answer (clinic/tokens.py).
    Revoking a token deletes its row."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created = models.DateTimeField(default=timezone.now)
    # When it last authenticated a request (at most a minute stale), or was issued.
    last_used = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires__gt=F("created")), name="api_token_expires_after_created"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"


class AuditAction(models.TextChoices):
    """What an audit event records (the names of API.md's audit events)."""

    VIEW = "view", "Viewed"
    CREATE = "create", "Created"
    UPDATE = "update", "Changed"
    DELETE = "delete", "Deleted"
    EXPORT = "export", "Exported"
    LOGIN = "login", "Logged in"
    LOGIN_FAILED = "login_failed", "Login refused"
    DENIED = "denied", "Refused by permissions"
    MFA_VERIFIED = "mfa_verified", "Second factor accepted"
    MFA_FAILED = "mfa_failed", "Second factor refused"
    MFA_CHANGED = "mfa_changed", "Second factor set up, renewed or removed"


class AuditOutcome(models.TextChoices):
    OK = "ok", "Allowed"
    REFUSED = "refused", "A wrong password or code, or an inactive account"
    LOCKED_OUT = "locked_out", "Too many failed logins: locked out for a while"


class AuditEvent(models.Model):
    """One thing that happened, kept as it was written: who, when, what, from where, how
    it ended. Append-only: the model refuses updates and deletes (the database role's own
    refusal comes with the audit trail, issue 15 item 3). On SQLite a migration that
    rebuilds this table drops its patient-links trigger: recreate it (see 0021)."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who; empty when nobody was recognised (a login with an unknown name).",
    )
    username = models.CharField(max_length=150, blank=True, help_text="The name as given.")
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    outcome = models.CharField(max_length=16, choices=AuditOutcome.choices)
    client_address = models.GenericIPAddressField(
        null=True, blank=True, help_text="Per TRUSTED_PROXY_COUNT (clinic/client_address.py)."
    )
    channel = models.CharField(
        max_length=16, help_text="page, admin, api, patient_link, webhook or system."
    )
    actor_role = models.CharField(
        max_length=20, blank=True, help_text="The actor's role in the event's clinic then."
    )
    # No database constraint: the trail outlives what it names.
    clinic = models.ForeignKey(
        Clinic,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    object_type = models.CharField(
        max_length=64, blank=True, help_text="A model label (scheduling.session) or page:<name>."
    )
    object_id = models.CharField(max_length=64, blank=True, help_text="Empty for a list.")
    patient_ids = models.JSONField(
        default=list, blank=True, help_text="Every patient whose data the event touched."
    )
    fields = models.JSONField(default=list, blank=True, help_text="Changed field names.")
    changes = models.JSONField(
        default=dict, blank=True, help_text="{field: [old, new]} for non-clinical fields only."
    )
    request_id = models.CharField(max_length=64, blank=True)
    path = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["clinic", "-at"], name="audit_clinic_at"),
            models.Index(fields=["actor", "-at"], name="audit_actor_at"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=AuditAction.values), name="audit_action_valid"
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=AuditOutcome.values), name="audit_outcome_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.username} ({self.outcome})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValueError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ValueError("Audit events are append-only.")


class AuditEventPatient(models.Model):
    """One patient an event touched: the index behind ``?patient=`` (a JSON list cannot
    be searched by an index on SQLite, and a list read names up to 500 patients)."""

    event = models.ForeignKey(AuditEvent, on_delete=models.DO_NOTHING, related_name="+")
    patient_id = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["patient_id", "event"], name="audit_patient_event")]

    def __str__(self) -> str:
        return f"event {self.event_id}: patient {self.patient_id}"
