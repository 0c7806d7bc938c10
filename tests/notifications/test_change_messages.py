"""Messages about a change to a visit the patient did not make: a visit moved (by staff
or by a closure) names the visit that moved; a visit staff cancel is told; and no
change message is held back by the frequency caps (issue 14, items 15 and 19).

The clock is frozen at Wednesday 25 November 2026, 12:00 in New York; the course
starts on Monday 30 November at 09:30, one session a weekday.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from clinic.models import Clinic, Closure, Role
from notifications import services
from notifications.models import Channel, Kind, Notification, Status
from notifications.transports import Outgoing
from scheduling import services as scheduling
from scheduling.models import Session, SessionStatus
from tests.notifications.test_outbox import (  # its autouse outbox fixture too
    MON,
    SUN,
    TUE,
    _local,
    _notification,
    book,
    outbox,
    sessions,
)

__all__ = ["book", "outbox", "sessions"]  # fixtures

BOTH = {Channel.SMS, Channel.EMAIL}


def _sms(session: Session, kind: str) -> Notification:
    return Notification.objects.get(session=session, kind=kind, channel=Channel.SMS)


def _cap_reached(session: Session, clinic: Any) -> None:
    """One routine SMS a day and a week, and today's is sent: routine texts are held."""
    services.policy_update(clinic, sms_per_day=1, sms_per_week=1)
    routine = _notification(session, Kind.SAME_DAY)
    assert services.send(routine.pk) == Status.SENT
    later = _notification(session, Kind.DAY_BEFORE, scheduled_for=routine.scheduled_for)
    assert services.send(later.pk) == Status.SUPPRESSED  # the cap holds routine texts


# --- item 19: a move names the visit that moved ---------------------------------------


def test_a_moved_visit_text_names_the_visit_that_moved(
    sessions: list[Session], frozen_now: Any, outbox: list[Outgoing], api_as: Callable[..., Any]
) -> None:
    second = sessions[1]
    response = api_as(Role.FRONT_DESK).patch(
        f"/api/v1/sessions/{second.pk}/",
        {"starts_at": _local(TUE, 11).isoformat()},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert services.send(_sms(second, Kind.SESSION_MOVED).pk) == Status.SENT
    body = outbox[-1].body
    assert "your Tue Dec 1 9:30 AM visit at " in body
    assert "is now Tue Dec 1 at 11:00 AM." in body
    email = Notification.objects.get(session=second, kind=Kind.SESSION_MOVED, channel="email")
    assert services.send(email.pk) == Status.SENT
    assert "Your Tue Dec 1 9:30 AM visit at " in outbox[-1].body


def test_a_closure_moving_a_visit_tells_the_patient_both_times_past_the_caps(
    sessions: list[Session], frozen_now: Any, outbox: list[Outgoing]
) -> None:
    first, second = sessions[0], sessions[1]
    clinic = first.chair.clinic
    _cap_reached(sessions[4], clinic)
    Session.objects.filter(pk=first.pk).update(status=SessionStatus.COMPLETED)
    Closure.objects.create(clinic=clinic, date=TUE, reason="Power work")

    (moved,) = scheduling.closure_rebook(clinic, TUE)

    assert services.send(_sms(moved, Kind.SESSION_MOVED).pk) == Status.SENT
    new = moved.starts_at.astimezone(clinic.tz)
    assert new.date() > TUE
    assert "your Tue Dec 1 9:30 AM visit at " in outbox[-1].body
    assert f"is now {new:%a %b} {new.day} at 9:30 AM." in outbox[-1].body
    assert second.pk == moved.pk


# --- item 15: a visit staff cancel is told, never held by the caps --------------------


def test_staff_cancelling_a_visit_tells_the_patient_even_past_the_caps(
    sessions: list[Session], frozen_now: Any, outbox: list[Outgoing], api_as: Callable[..., Any]
) -> None:
    second = sessions[1]
    clinic = second.chair.clinic
    Clinic.objects.filter(pk=clinic.pk).update(auto_makeup=False)
    _cap_reached(sessions[4], clinic)

    response = api_as(Role.FRONT_DESK).post(
        f"/api/v1/sessions/{second.pk}/cancel/", {"reason": "chair repair"}, format="json"
    )

    assert response.status_code == 200, response.content
    rows = Notification.objects.filter(session=second, kind=Kind.SESSION_CANCELLED)
    assert {(n.channel, n.status) for n in rows} == {(c, Status.PENDING) for c in BOTH}
    assert services.send(_sms(second, Kind.SESSION_CANCELLED).pk) == Status.SENT
    body = outbox[-1].body
    assert " on Tue Dec 1 at 9:30 AM is cancelled. To rebook call " in body
    assert "chair repair" not in body  # the reason is for staff


def test_a_cancelled_visit_made_up_says_so_instead_of_asking_to_call(
    sessions: list[Session], frozen_now: Any, outbox: list[Outgoing], page_as: Callable[..., Any]
) -> None:
    """Cancelled on the board (the page path); the clinic's auto make-up books another
    visit, which is announced with its own date and time."""
    second = sessions[1]
    response = page_as(Role.FRONT_DESK).post(
        f"/board/sessions/{second.pk}/cancel/", {"reason": "staff ill"}
    )
    assert response.status_code in (200, 302), response.content
    assert Session.objects.get(pk=second.pk).status == SessionStatus.CANCELLED
    makeup = Session.objects.get(makeup_for=second)
    assert services.send(_sms(second, Kind.SESSION_CANCELLED).pk) == Status.SENT
    assert "is cancelled. We booked another in its place." in outbox[-1].body
    assert "rebook" not in outbox[-1].body
    assert services.send(_sms(makeup, Kind.MAKEUP_BOOKED).pk) == Status.SENT


def test_a_patient_cancelling_from_their_link_is_not_told_again(
    sessions: list[Session], frozen_now: Any
) -> None:
    scheduling.session_cancel_by_patient(sessions[1])
    assert not Notification.objects.filter(kind=Kind.SESSION_CANCELLED).exists()


def test_cancelling_a_visit_already_under_way_tells_nobody(
    sessions: list[Session], frozen_now: Any
) -> None:
    first = sessions[0]
    frozen_now.move_to(_local(MON, 9, 20))
    scheduling.session_check_in(first)
    scheduling.session_cancel(first, reason="device fault")
    assert not Notification.objects.filter(kind=Kind.SESSION_CANCELLED).exists()


def test_a_clinic_may_turn_the_cancellation_message_off(
    sessions: list[Session], frozen_now: Any, clinic: Any
) -> None:
    services.policy_update(clinic, session_cancelled=False)
    scheduling.session_cancel(sessions[1], reason="x")
    assert not Notification.objects.filter(kind=Kind.SESSION_CANCELLED).exists()


@pytest.mark.parametrize("kind", [Kind.SESSION_MOVED, Kind.MAKEUP_BOOKED, Kind.SESSION_CANCELLED])
def test_no_change_message_is_held_back_by_the_daily_or_weekly_cap(
    sessions: list[Session], frozen_now: Any, outbox: list[Outgoing], kind: str
) -> None:
    clinic = sessions[0].chair.clinic
    frozen_now.move_to(_local(SUN, 10))
    _cap_reached(sessions[4], clinic)
    target = sessions[2]
    if kind == Kind.SESSION_CANCELLED:
        Session.objects.filter(pk=target.pk).update(status=SessionStatus.CANCELLED)
    change = _notification(target, kind, scheduled_for=_local(SUN, 10, 5))
    frozen_now.move_to(_local(SUN, 10, 5))
    assert services.send(change.pk) == Status.SENT
    assert outbox[-1].idempotency_key == change.idempotency_key
