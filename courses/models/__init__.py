"""The courses app's models, one module per subject; import them from here."""

from __future__ import annotations

from courses.models.alerts import (
    ESCALATING_KINDS,
    AlertKind,
    DigestSent,
    StaffAlert,
)
from courses.models.clinical import (
    Assessment,
    MotorThreshold,
    MotorThresholdMethod,
    SafetyFlag,
)
from courses.models.course import (
    ANXIETY_INDICATIONS,
    COURSE_TRANSITIONS,
    OPEN_STATUSES,
    Authorization,
    AuthorizationCode,
    CourseStatus,
    Indication,
    RiskLevel,
    TreatmentCourse,
)
from courses.models.protocols import (
    MappingSchedule,
    PhaseKind,
    Protocol,
    ProtocolPhase,
    planned_weeks,
)
from courses.models.screening import (
    ADEQUATE_TRIAL_WEEKS,
    Adherence,
    FailedTrial,
    Screening,
    ScreeningStatus,
    TrialOutcome,
)

__all__ = [
    "ADEQUATE_TRIAL_WEEKS",
    "ANXIETY_INDICATIONS",
    "COURSE_TRANSITIONS",
    "ESCALATING_KINDS",
    "OPEN_STATUSES",
    "Adherence",
    "AlertKind",
    "Assessment",
    "Authorization",
    "AuthorizationCode",
    "CourseStatus",
    "DigestSent",
    "FailedTrial",
    "Indication",
    "MappingSchedule",
    "MotorThreshold",
    "MotorThresholdMethod",
    "PhaseKind",
    "Protocol",
    "ProtocolPhase",
    "RiskLevel",
    "SafetyFlag",
    "Screening",
    "ScreeningStatus",
    "StaffAlert",
    "TreatmentCourse",
    "TrialOutcome",
    "planned_weeks",
]
