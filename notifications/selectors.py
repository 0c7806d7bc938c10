"""Reads of the notifications app that pages share."""

from __future__ import annotations

from django.db.models import F, QuerySet

from clinic.models import Clinic
from notifications.models import PatientReply


def replies_of(clinic: Clinic) -> QuerySet[PatientReply]:
    """The clinic's patient texts, those still to handle first, then newest first."""
    return (
        PatientReply.objects.filter(clinic=clinic)
        .select_related("patient", "handled_by")
        .order_by(F("handled_at").asc(nulls_first=True), "-received_at", "-id")
    )


def unhandled_reply_count(clinic: Clinic) -> int:
    return PatientReply.objects.filter(clinic=clinic, handled_at__isnull=True).count()
