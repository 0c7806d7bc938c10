"""Signed, expiring links for patients (no account): confirm or cancel one session,
download the course's calendar, or answer a relapse watch's questionnaire (its point's
own dates say how long it works, and it works once: courses.relapse.point_state). A
session's token names the session and its start time, so its link dies when the
session moves.

A text message has room for a short link only (``/p/<token>``, a dozen characters):
the session's id in base 36 and a truncated HMAC of the id and the start time. It
carries nothing about the patient, and dies when the session moves or a day after it.
"""

from __future__ import annotations

import base64
import datetime as dt

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from clinic.models import Clinic
from courses.models import TreatmentCourse, WatchPoint
from scheduling.models import Session

SALT = "cadence.patient-link"
SESSION_LINK_DAYS = 14
CALENDAR_LINK_DAYS = 120
SHORT_SALT = "cadence.patient-short-link"
SHORT_SIGNATURE_CHARS = 10  # base64url: 60 bits, far beyond guessing one by one online
SHORT_LINK_GRACE = dt.timedelta(days=1)  # after the session starts


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


def _short_signature(session_id: int, starts_at: dt.datetime) -> str:
    digest = salted_hmac(
        SHORT_SALT, f"{session_id}:{int(starts_at.timestamp())}", algorithm="sha256"
    ).digest()
    return base64.urlsafe_b64encode(digest).decode()[:SHORT_SIGNATURE_CHARS]


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if not number:
            return text


def short_token(session: Session) -> str:
    return _base36(session.pk) + _short_signature(session.pk, session.starts_at)


def session_from_short_token(token: str) -> Session | None:
    """The session a short token names, while it is at the time the token was made for
    and has not been over for a day."""
    head, signature = token[:-SHORT_SIGNATURE_CHARS], token[-SHORT_SIGNATURE_CHARS:]
    if not head or len(head) > 12 or not head.isalnum() or not head.isascii():
        return None
    session = (
        Session.objects.select_related("patient", "chair__clinic", "course")
        .filter(pk=int(head, 36))
        .first()
    )
    if session is None or timezone.now() > session.starts_at + SHORT_LINK_GRACE:
        return None
    expected = _short_signature(session.pk, session.starts_at)
    return session if constant_time_compare(signature, expected) else None


def clinic_of_dead_link(token: str, *, short: bool) -> Clinic | None:
    """Whom a patient with a dead link should call: the clinic of an authentic link
    (signed by us; expired, or its session moved since) or, failing that, the only
    clinic of the installation. None when neither is known: a forged or mangled token
    learns nothing about which clinic a session belongs to."""
    clinic: Clinic | None = None
    if short:
        head = token[:-SHORT_SIGNATURE_CHARS]
        if head and len(head) <= 12 and head.isalnum() and head.isascii():
            session = Session.objects.select_related("chair__clinic").filter(pk=int(head, 36))
            found = session.first()
            expected = _short_signature(found.pk, found.starts_at) if found else ""
            if found and constant_time_compare(token[-SHORT_SIGNATURE_CHARS:], expected):
                clinic = found.chair.clinic
    else:
        try:
            data = signing.loads(token, salt=SALT)  # no max_age: an expired link is ours too
        except signing.BadSignature:
            data = None
        if isinstance(data, dict) and "s" in data:
            found = Session.objects.select_related("chair__clinic").filter(pk=data["s"]).first()
            clinic = found.chair.clinic if found else None
    if clinic is None:
        only = list(Clinic.objects.all()[:2])
        clinic = only[0] if len(only) == 1 else None
    return clinic


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


def short_session_link(session: Session) -> str:
    return absolute(reverse("patient-short", args=[short_token(session)]))


def calendar_link(course: TreatmentCourse) -> str:
    return absolute(reverse("patient-calendar", args=[calendar_token(course)]))


# --- The relapse watch's questionnaire ---------------------------------------------------

WATCH_SALT = "cadence.watch-link"


def _point_signature(point_id: int, due_on: dt.date) -> str:
    digest = salted_hmac(WATCH_SALT, f"{point_id}:{due_on.isoformat()}", algorithm="sha256")
    return base64.urlsafe_b64encode(digest.digest()).decode()[:SHORT_SIGNATURE_CHARS]


def watch_token(point: WatchPoint) -> str:
    """The short token (texts and emails alike): the point's id in base 36 and a
    truncated HMAC of the id and the point's day. It names no patient."""
    return _base36(point.pk) + _point_signature(point.pk, point.due_on)


def point_from_token(token: str) -> WatchPoint | None:
    """The point an authentic token names (answered, expired or not: the page says
    which), or None for a forged or mangled one."""
    head, signature = token[:-SHORT_SIGNATURE_CHARS], token[-SHORT_SIGNATURE_CHARS:]
    if not head or len(head) > 12 or not head.isalnum() or not head.isascii():
        return None
    point = (
        WatchPoint.objects.select_related("watch__course__patient__clinic")
        .filter(pk=int(head, 36))
        .first()
    )
    if point is None:
        return None
    expected = _point_signature(point.pk, point.due_on)
    return point if constant_time_compare(signature, expected) else None


def watch_link(point: WatchPoint) -> str:
    return absolute(reverse("patient-questionnaire", args=[watch_token(point)]))
