"""Sessions, treatment records and adverse events in the audit trail
(clinic.audit_trail). A session's time, chair and status keep their old and new
values; what a treatment delivered and what an adverse event was are only named."""

from __future__ import annotations

from clinic.audit_trail import register


def register_audited_models() -> None:
    from scheduling.models import AdverseEvent, Session, TreatmentRecord, WaitlistEntry

    register(
        Session,
        patient="patient_id",
        clinic="patient.clinic_id",
        non_clinical={"starts_at", "ends_at", "status", "chair", "kind"},
    )
    register(
        TreatmentRecord,
        patient="session.patient_id",
        clinic="session.patient.clinic_id",
    )
    register(AdverseEvent, patient="course.patient_id", clinic="course.patient.clinic_id")
    register(
        WaitlistEntry,
        patient="course.patient_id",
        clinic="clinic_id",
        non_clinical={
            "time_preference",
            "preferred_time",
            "time_flex_minutes",
            "weekdays",
            "not_before",
            "status",
            "fit_start",
            "offer_start",
        },
    )
