"""Reading the audit trail: clinic admins, for their clinics only.

``GET /api/v1/audit-events/`` and the page ``/audit/`` (with its CSV export) take the
same filters, parsed by one form: ``patient``, ``actor`` (ids), ``action``, ``from`` and
``to`` (dates, clinic-local, both included).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django import forms
from django.db import connections
from django.db.models import QuerySet

from clinic import dates
from clinic.models import AuditAction, AuditEvent, AuditEventPatient, Clinic

EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2100, 12, 31)


class AuditFilterForm(forms.Form):
    patient = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    actor = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    action = forms.ChoiceField(required=False, choices=[("", "Any"), *AuditAction.choices])
    date_widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    from_ = dates.DateFormField(
        required=False, label="From", input_formats=["%Y-%m-%d"], widget=date_widget
    )
    to = dates.DateFormField(
        required=False, label="To", input_formats=["%Y-%m-%d"], widget=date_widget
    )

    def __init__(self, data: Any = None, **kwargs: Any) -> None:
        # "from" is a keyword in Python: the field is from_, the parameter "from".
        if data is not None:
            data = data.copy()
            if "from" in data:
                data["from_"] = data.get("from")
        super().__init__(data, **kwargs)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in ("from_", "to"):
            day = cleaned.get(name)
            if day is not None and not EARLIEST <= day <= LATEST:
                self.add_error(
                    name,
                    forms.ValidationError(
                        f"Give a date from {EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}.",
                        code="date_out_of_range",
                    ),
                )
        start, end = cleaned.get("from_"), cleaned.get("to")
        if start and end and start > end and not self.errors:
            raise forms.ValidationError("'from' is after 'to'.", code="bad_range")
        return cleaned

    def problems(self) -> dict[str, list[str]]:
        """The errors keyed by the parameters' own names."""
        return {
            ("from" if name == "from_" else name): [str(message) for message in messages]
            for name, messages in self.errors.items()
        }


def naming_patient(events: QuerySet[AuditEvent], patient_id: int) -> QuerySet[AuditEvent]:
    """The events that touched this patient: on PostgreSQL by the GIN index on
    ``patient_ids`` (migration 0020), on SQLite by the link rows its trigger writes
    (migration 0016)."""
    if connections[events.db].vendor == "postgresql":
        return events.filter(patient_ids__contains=[patient_id])
    linked = AuditEventPatient.objects.filter(patient_id=patient_id)
    return events.filter(id__in=linked.values("event_id"))


def audit_events(
    clinic_ids: Iterable[int] | None, filters: dict[str, Any], clinic: Clinic | None
) -> QuerySet[AuditEvent]:
    """The events of these clinics (None: every clinic) that pass the filters, newest
    first; dates are days of ``clinic``'s wall clock (UTC without one)."""
    events = AuditEvent.objects.all()
    if clinic_ids is not None:
        events = events.filter(clinic_id__in=list(clinic_ids))
    if filters.get("patient"):
        events = naming_patient(events, filters["patient"])
    if filters.get("actor"):
        events = events.filter(actor_id=filters["actor"])
    if filters.get("action"):
        events = events.filter(action=filters["action"])
    zone = clinic.tz if clinic is not None else dt.UTC
    if filters.get("from_"):
        events = events.filter(at__gte=dt.datetime.combine(filters["from_"], dt.time(), zone))
    if filters.get("to"):
        after = filters["to"] + dt.timedelta(days=1)
        events = events.filter(at__lt=dt.datetime.combine(after, dt.time(), zone))
    return events.order_by("-at", "-id")


CSV_HEADER = [
    "id",
    "at",
    "actor_id",
    "username",
    "role",
    "clinic_id",
    "action",
    "outcome",
    "object_type",
    "object_id",
    "patient_ids",
    "fields",
    "client_address",
    "request_id",
    "channel",
]


def csv_row(event: AuditEvent) -> list[Any]:
    return [
        event.pk,
        event.at.isoformat(),
        event.actor_id or "",
        event.username,
        event.actor_role,
        event.clinic_id or "",
        event.action,
        event.outcome,
        event.object_type,
        event.object_id,
        " ".join(str(p) for p in event.patient_ids),
        " ".join(event.fields),
        event.client_address or "",
        event.request_id,
        event.channel,
    ]
