"""Signed, expiring links for patients (no account): confirm or cancel one session,
or download the course's calendar. The token names the session and its start time, so
a link dies when the session moves."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core import signing
from django.urls import reverse

from courses.models import TreatmentCourse
from scheduling.models import Session

SALT = "cadence.patient-link"
SESSION_LINK_DAYS = 14
CALENDAR_LINK_DAYS = 120


def session_token(session: Session) -> str:
    return signing.dumps({"s": session.pk, "t": int(session.starts_at.timestamp())}, salt=SALT)


def calendar_token(course: TreatmentCourse) -> str:
    return signing.dumps({"c": course.pk}, salt=SALT)


def session_from_token(token: str) -> Session | None:
    """The session a valid, unexpired token names, if it has not moved since."""
    try:
        data = signing.loads(token, salt=SALT, max_age=dt.timedelta(days=SESSION_LINK_DAYS))
    except signing.BadSignature:  # includes SignatureExpired
        return None
    if not isinstance(data, dict) or "s" not in data:
        return None
    session = (
        Session.objects.select_related("patient", "chair__clinic", "course")
        .filter(pk=data["s"])
        .first()
    )
    if session is None or int(session.starts_at.timestamp()) != data.get("t"):
        return None
    return session


def course_from_token(token: str) -> TreatmentCourse | None:
    try:
        data = signing.loads(token, salt=SALT, max_age=dt.timedelta(days=CALENDAR_LINK_DAYS))
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or "c" not in data:
        return None
    return TreatmentCourse.objects.select_related("patient__clinic").filter(pk=data["c"]).first()


def absolute(path: str) -> str:
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}{path}" if settings.PUBLIC_BASE_URL else ""


def session_link(session: Session) -> str:
    return absolute(reverse("patient-session", args=[session_token(session)]))


def calendar_link(course: TreatmentCourse) -> str:
    return absolute(reverse("patient-calendar", args=[calendar_token(course)]))
