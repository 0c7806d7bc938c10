"""What the lower apps announce, as webhook events (docs/webhooks.md): receivers of the
clinic, courses and scheduling signals that write the deliveries, in the transaction of
the change. Connected in NotificationsConfig.ready(), beside the patient messages'
receivers (notifications/receivers.py).

Each receiver asks first which endpoints take the event (one query, usually none) and
loads the rows only when some do; a whole course's booking asks only when its clinic
(already read) has an active endpoint (``Clinic.has_webhooks``). The data is ids and
states: never a name, a phone number, an email address, a score or anything billed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from django.db.models import F, QuerySet

from clinic.models import Clinic, Patient
from courses.models import Assessment, TreatmentCourse
from notifications.models import WebhookEvent
from notifications.services.webhooks import iso, subscribed_endpoints, webhook_emit
from scheduling.models import Session

SESSION_FIELDS = (
    "id",
    "course_id",
    "patient_id",
    "chair_id",
    "kind",
    "status",
    "starts_at",
    "ends_at",
    "makeup_for_id",
)
COURSE_FIELDS = ("id", "patient_id", "status", "risk_level")


def _emit(event: str, rows: QuerySet[Any, Any], build: Callable[[Any], Any]) -> None:
    """``rows``: values() with the row's clinic as ``clinic_ref``."""
    endpoints = subscribed_endpoints(event, rows.values("clinic_ref"))
    if endpoints:
        webhook_emit(event, ((row["clinic_ref"], build(row)) for row in rows), endpoints)


def _session(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "course": row["course_id"],
        "patient": row["patient_id"],
        "chair": row["chair_id"],
        "kind": row["kind"],
        "status": row["status"],
        "starts_at": iso(row["starts_at"]),
        "ends_at": iso(row["ends_at"]),
        "makeup_for": row["makeup_for_id"],
    }


def _sessions(event: str, ids: Iterable[int], **extra: Any) -> None:
    rows = (
        Session.objects.filter(pk__in=list(ids))
        .annotate(clinic_ref=F("patient__clinic_id"))
        .order_by("starts_at", "id")
        .values(*SESSION_FIELDS, "clinic_ref")
    )
    _emit(event, rows, lambda row: {"session": _session(row), **extra})


def _course(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "patient": row["patient_id"],
        "status": row["status"],
        "risk_level": row["risk_level"],
    }


def _courses(course_ids: Iterable[int]) -> QuerySet[Any, dict[str, Any]]:
    return (
        TreatmentCourse.objects.filter(pk__in=list(course_ids))
        .annotate(clinic_ref=F("patient__clinic_id"))
        .order_by("id")
        .values(*COURSE_FIELDS, "clinic_ref")
    )


# --- the receivers -----------------------------------------------------------------------


def sessions_booked(sender: Any, *, sessions: list[Session], clinic: Clinic, **_: Any) -> None:
    # A whole course: its clinic was read in the booking's transaction, and says
    # whether the clinic has an active endpoint at all (kept by services.webhooks).
    if clinic.has_webhooks:
        _sessions(WebhookEvent.SESSION_BOOKED, (session.pk for session in sessions))


def _session_without_endpoints(session: Session) -> bool:
    """Whether the session's clinic, loaded with it (through its patient or its
    course's), says it has no active endpoint; False when it is not loaded."""
    for path in (("patient", "clinic"), ("course", "patient", "clinic")):
        row: Any = session
        for hop in path:
            if not row._meta.get_field(hop).is_cached(row):
                break
            row = getattr(row, hop)
        else:
            return not row.has_webhooks
    return False


def session_booked(sender: Any, *, session: Session, **_: Any) -> None:
    if not _session_without_endpoints(session):
        _sessions(WebhookEvent.SESSION_BOOKED, [session.pk])


def makeups_booked(sender: Any, *, session_ids: list[int], **_: Any) -> None:
    _sessions(WebhookEvent.SESSION_BOOKED, session_ids)


def session_changed(
    sender: Any,
    *,
    session: Session,
    moved: bool,
    previous_start: dt.datetime | None = None,
    by_patient: bool = False,
    **_: Any,
) -> None:
    if _session_without_endpoints(session):
        return
    if moved:
        _sessions(WebhookEvent.SESSION_MOVED, [session.pk], previous_starts_at=iso(previous_start))
    else:
        _sessions(
            WebhookEvent.SESSION_CANCELLED,
            [session.pk],
            cause="patient" if by_patient else "staff",
        )


def sessions_released(sender: Any, *, session_ids: list[int], **_: Any) -> None:
    # The reason is the clinic's own words (a closure's): not sent.
    _sessions(WebhookEvent.SESSION_CANCELLED, session_ids, cause="released")


def sessions_withdrawn(sender: Any, *, session_ids: list[int], **_: Any) -> None:
    _sessions(WebhookEvent.SESSION_CANCELLED, session_ids, cause="withdrawn")


def session_completed(sender: Any, *, session: Session, **_: Any) -> None:
    _sessions(WebhookEvent.SESSION_COMPLETED, [session.pk])


def sessions_missed(sender: Any, *, session_ids: list[int], **_: Any) -> None:
    _sessions(WebhookEvent.SESSION_MISSED, session_ids)


def course_status_changed(sender: Any, *, course: TreatmentCourse, previous: str, **_: Any) -> None:
    _emit(
        WebhookEvent.COURSE_STATUS_CHANGED,
        _courses([course.pk]),
        lambda row: {"course": _course(row), "previous_status": previous},
    )


def _without_endpoints(courses: Sequence[TreatmentCourse]) -> bool:
    """Whether the courses' clinics, loaded with them in this transaction, all say they
    have no active endpoint (``Clinic.has_webhooks``); False when one is not loaded."""
    return bool(courses) and all(
        TreatmentCourse.patient.is_cached(course)
        and Patient.clinic.is_cached(course.patient)
        and not course.patient.clinic.has_webhooks
        for course in courses
    )


def course_risk_changed(
    sender: Any,
    *,
    changes: list[tuple[int, str, str]],
    courses: Sequence[TreatmentCourse] = (),
    **_: Any,
) -> None:
    if _without_endpoints(courses):
        return
    previous = {course_id: before for course_id, before, _ in changes}
    _emit(
        WebhookEvent.COURSE_RISK_CHANGED,
        _courses(previous),
        lambda row: {"course": _course(row), "previous_risk_level": previous[row["id"]]},
    )


def assessment_recorded(sender: Any, *, assessment: Assessment, **_: Any) -> None:
    rows = (
        Assessment.objects.filter(pk=assessment.pk)
        .annotate(clinic_ref=F("course__patient__clinic_id"), patient_ref=F("course__patient_id"))
        .values("id", "course_id", "patient_ref", "instrument", "administered_on", "clinic_ref")
    )
    _emit(
        WebhookEvent.ASSESSMENT_RECORDED,
        rows,
        lambda row: {
            "assessment": {
                "id": row["id"],
                "course": row["course_id"],
                "patient": row["patient_ref"],
                "instrument": row["instrument"],
                "administered_on": row["administered_on"].isoformat(),
            }
        },
    )
