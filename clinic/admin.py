from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from clinic import (
    services,
    user_admin,  # noqa: F401  (its own user pages: nobody sets another's password)
)
from clinic.models import (
    ApiToken,
    AuditEvent,
    Chair,
    ChairBlock,
    Clinic,
    Closure,
    OpeningHours,
    Patient,
    StaffMembership,
)


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    extra = 0


class ChairInline(admin.TabularInline):
    model = Chair
    extra = 0


@admin.register(Clinic)
class ClinicAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "timezone", "display_name", "phone"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [OpeningHoursInline, ChairInline]


@admin.register(Closure)
class ClosureAdmin(admin.ModelAdmin):
    list_display = ["clinic", "date", "reason"]
    list_filter = ["clinic"]
    date_hierarchy = "date"


@admin.register(Chair)
class ChairAdmin(admin.ModelAdmin):
    list_display = ["name", "clinic", "device", "coils", "active"]
    list_filter = ["clinic", "active"]


@admin.register(ChairBlock)
class ChairBlockAdmin(admin.ModelAdmin):
    list_display = ["chair", "starts_at", "ends_at", "reason"]
    list_filter = ["chair__clinic"]
    list_select_related = ["chair"]


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ["mrn", "last_name", "first_name", "clinic", "sms_consent", "email_consent"]
    list_filter = ["clinic", "sms_consent", "email_consent", "preferred_channel", "daily_reminders"]
    search_fields = ["mrn", "last_name", "first_name"]
    list_select_related = ["clinic"]
    # Consent changes only through the consent ledger (the API, STOP/START replies),
    # which records who, when, how and under which text.
    readonly_fields = ["sms_consent", "email_consent"]

    def save_model(self, request: HttpRequest, obj: Patient, form: Any, change: bool) -> None:
        # Through the service, as the API and the pages: a new phone, email or preferred
        # channel moves the messages still due (the form has already set them on ``obj``,
        # so the service is given the row as stored).
        stored = Patient.objects.get(pk=obj.pk) if change else None
        names = form.changed_data if change else list(form.cleaned_data)
        saved = services.patient_save(
            stored, by=request.user, **{name: form.cleaned_data[name] for name in names}
        )
        obj.pk = saved.pk


@admin.register(StaffMembership)
class StaffMembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "clinic", "role"]
    list_filter = ["clinic", "role"]
    list_select_related = ["user", "clinic"]
    autocomplete_fields = ["user"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit trail is append-only."""

    list_display = [
        "at",
        "action",
        "outcome",
        "username",
        "actor_role",
        "clinic_id",
        "object_type",
        "object_id",
        "client_address",
        "channel",
    ]
    list_filter = ["action", "outcome", "channel"]
    search_fields = ["username", "client_address", "request_id", "object_type"]
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """A superuser sees who has which tokens and revokes them (delete); nobody adds or
    edits one here, and only the digest is stored, never the token."""

    list_display = ["user", "name", "created", "last_used", "expires"]
    search_fields = ["user__username", "name"]
    list_select_related = ["user"]
    fields = readonly_fields = ("user", "name", "created", "last_used", "expires")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
