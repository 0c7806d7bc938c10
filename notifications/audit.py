"""Messages, consents and patients' replies in the audit trail (clinic.audit_trail):
the message's channel, kind and status keep their values, never its text."""

from __future__ import annotations

from clinic.audit_trail import register


def register_audited_models() -> None:
    from notifications.models import ConsentEvent, Notification, PatientReply

    register(
        Notification,
        patient="patient_id",
        clinic="clinic_id",
        non_clinical={"channel", "kind", "status", "scheduled_for", "sent_at"},
    )
    register(
        ConsentEvent,
        patient="patient_id",
        clinic="patient.clinic_id",
        non_clinical={"channel", "granted", "source", "text_version"},
    )
    register(PatientReply, patient="patient_id", clinic="clinic_id", non_clinical={"handled_by"})
