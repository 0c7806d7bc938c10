"""The courses app's models, one module per subject; import them from here."""

from __future__ import annotations

from courses.models.alerts import (
    ESCALATING_KINDS,
    AlertKind,
    DigestSent,
    StaffAlert,
)
from courses.models.changes import CourseChange, CourseChangeKind
from courses.models.clinical import (
    Assessment,
    AssessmentSource,
    MotorThreshold,
    MotorThresholdMethod,
    SafetyFlag,
)
from courses.models.course import (
    ANXIETY_INDICATIONS,
    COURSE_TRANSITIONS,
    FOLLOWING_TYPES,
    OPEN_STATUSES,
    Authorization,
    AuthorizationCode,
    CourseStatus,
    CourseType,
    Indication,
    RiskLevel,
    TreatmentCourse,
)
from courses.models.protocols import (
    EVERY_WEEKS,
    MappingSchedule,
    PhaseKind,
    Protocol,
    ProtocolPhase,
    planned_weeks,
)
from courses.models.relapse import Relapse, RelapseRule, RelapseWatch, WatchPoint
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
    "EVERY_WEEKS",
    "FOLLOWING_TYPES",
    "OPEN_STATUSES",
    "Adherence",
    "AlertKind",
    "Assessment",
    "AssessmentSource",
    "Authorization",
    "AuthorizationCode",
    "CourseChange",
    "CourseChangeKind",
    "CourseStatus",
    "CourseType",
    "DigestSent",
    "FailedTrial",
    "Indication",
    "MappingSchedule",
    "MotorThreshold",
    "MotorThresholdMethod",
    "PhaseKind",
    "Protocol",
    "ProtocolPhase",
    "Relapse",
    "RelapseRule",
    "RelapseWatch",
    "RiskLevel",
    "SafetyFlag",
    "Screening",
    "ScreeningStatus",
    "StaffAlert",
    "TreatmentCourse",
    "TrialOutcome",
    "WatchPoint",
    "planned_weeks",
]
