"""Putting a session back where a mistaken mark took it from: the chair and the patient
taken again (409 when someone else has them now), the make-up the mark had booked
withdrawn, the correction recorded (SessionEvent), the outbox told, the course's
authorization marks and risk recomputed. Used by the undo actions and by a late
patient's check-in after a missed mark."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from clinic.errors import Conflict
from scheduling import signals
from scheduling.models import OCCUPYING, Session, SessionEvent, SessionEventAction, SessionStatus
from scheduling.risk import recompute_risk
from scheduling.services.authorization import refresh_pending_authorization

MAKEUP_WITHDRAWN_REASON = "Make-up withdrawn: the visit it replaced took place after all"


def _require_free(session: Session) -> None:
    """The chair and the patient must still be free for the session's time: a missed or
    cancelled session freed both, and another booking may have taken them since."""
    overlapping = Session.objects.filter(
        Q(chair_id=session.chair_id) | Q(patient_id=session.patient_id),
        status__in=OCCUPYING,
        starts_at__lt=session.ends_at,
        ends_at__gt=session.starts_at,
    ).exclude(pk=session.pk)
    if overlapping.exists():
        raise _taken()


def _taken() -> Conflict:
    return Conflict(
        "The chair or the patient has another session at that time now; "
        "book a new session instead.",
        code="slot_conflict",
    )


def _withdraw_makeup(session: Session, by: Any, now: dt.datetime) -> Session | None:
    """The make-up booked for the session, cancelled while it is still to come (409
    ``makeup_taken`` once it has begun: the course had the visit twice)."""
    makeup = Session.objects.select_for_update(of=("self",)).filter(makeup_for=session).first()
    if makeup is None or makeup.status in (SessionStatus.MISSED, SessionStatus.CANCELLED):
        return None
    if makeup.status != SessionStatus.SCHEDULED or makeup.starts_at <= now:
        raise Conflict(
            "The make-up session booked for this visit has already begun.",
            code="makeup_taken",
        )
    # The link goes (the visit could be missed again and need a make-up of its own);
    # the event keeps what happened, and keeps the make-up from being made up itself.
    Session.objects.filter(pk=makeup.pk).update(
        status=SessionStatus.CANCELLED,
        cancelled_at=now,
        cancel_reason=MAKEUP_WITHDRAWN_REASON,
        makeup_for=None,
        updated_at=now,
    )
    SessionEvent.objects.create(
        session=makeup,
        action=SessionEventAction.MAKEUP_WITHDRAWN,
        from_status=SessionStatus.SCHEDULED,
        to_status=SessionStatus.CANCELLED,
        reason=f"for session {session.pk}",
        by=by,
        at=now,
    )
    makeup.refresh_from_db()
    return makeup


def reinstate(
    session: Session,
    *,
    to_status: str,
    action: str,
    reason: str,
    by: Any,
    **changes: Any,
) -> Session:
    """Move a locked session from its current status to ``to_status`` (with
    ``changes``) and undo what its missed mark or cancellation caused."""
    now = timezone.now()
    from_status = session.status
    lost = from_status in (SessionStatus.MISSED, SessionStatus.CANCELLED)
    if lost:
        _require_free(session)
    makeup = _withdraw_makeup(session, by, now) if lost else None
    try:
        with transaction.atomic():  # the exclusion constraints have the last word
            updated = Session.objects.filter(pk=session.pk, status=from_status).update(
                status=to_status, updated_at=now, **changes
            )
    except IntegrityError as error:
        raise _taken() from error
    if not updated:  # _lock_session holds the row; kept as a guard
        raise Conflict("The session changed meanwhile; reload the page.", code="invalid_transition")
    SessionEvent.objects.create(
        session=session,
        action=action,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        by=by,
        at=now,
    )
    session.refresh_from_db()
    signals.announce_session_reinstated(session, withdrawn_makeup=makeup)
    refresh_pending_authorization([session.course_id])
    recompute_risk([session.course_id])
    return session
