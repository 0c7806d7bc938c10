"""The course record's rows in the audit trail (clinic.audit_trail): every create,
update and delete. Only administrative fields keep their old and new values; clinical
ones (scores, answers, thresholds, decisions) are named, never copied into the trail."""

from __future__ import annotations

from clinic.audit_trail import register


def register_audited_models() -> None:
    from courses.models import (
        Assessment,
        Authorization,
        AuthorizationCode,
        CourseChange,
        FailedTrial,
        MotorThreshold,
        Relapse,
        RelapseWatch,
        SafetyFlag,
        Screening,
        StaffAlert,
        TreatmentCourse,
        WatchPoint,
    )

    course_patient = {"patient": "course.patient_id", "clinic": "course.patient.clinic_id"}
    register(
        TreatmentCourse,
        patient="patient_id",
        clinic="patient.clinic_id",
        non_clinical={
            "status",
            "start_date",
            "preferred_time",
            "preferred_chair",
            "psychiatrist",
            "type",
            "follows",
            "added_sessions",
        },
    )
    register(CourseChange, **course_patient, non_clinical={"kind", "sessions_added", "by"})
    register(
        Authorization,
        **course_patient,
        non_clinical={"payer", "number", "sessions_authorized", "valid_from", "valid_until"},
    )
    register(
        AuthorizationCode,
        patient="authorization.course.patient_id",
        clinic="authorization.course.patient.clinic_id",
        non_clinical={"code", "units"},
    )
    register(Screening, patient="patient_id", clinic="patient.clinic_id")
    register(FailedTrial, patient="screening.patient_id", clinic="screening.patient.clinic_id")
    register(RelapseWatch, **course_patient, non_clinical={"started_on", "active"})
    register(
        WatchPoint,
        patient="watch.course.patient_id",
        clinic="watch.course.patient.clinic_id",
        non_clinical={"number", "due_on", "expires_on", "answered_at"},
    )
    register(Relapse, **course_patient, non_clinical={"detected_at", "closed_at", "closed_by"})
    for model in (MotorThreshold, Assessment, SafetyFlag):
        register(model, **course_patient)
    register(StaffAlert, **course_patient, non_clinical={"kind", "recipient", "escalates"})
