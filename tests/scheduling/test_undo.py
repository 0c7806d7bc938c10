"""Undoing a mistaken check-in, missed mark or cancellation within the clinic's day,
and a late patient checked in after a missed mark: each puts the session back and undoes
what the mark caused (its make-up, the patient's text), with the reason recorded."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db.models import F
from django.test import Client

from clinic.errors import Conflict
from clinic.models import Role
from courses.models import CourseStatus
from notifications.models import Kind, Notification, Status
from scheduling import services
from scheduling.models import (
    OCCUPYING,
    Session,
    SessionEvent,
    SessionEventAction,
    SessionKind,
    SessionStatus,
)
from scheduling.services import course_schedule, sweep_missed_sessions
from tests.factories import SessionFactory

pytestmark = pytest.mark.usefixtures("frozen_now")

NEW_YORK = dt.timezone(dt.timedelta(hours=-5))  # EST: every date used here is after 1 Nov
STARTED = dt.date(2026, 11, 2)  # a Monday; frozen_now is Wed 25 Nov, 12:00 in New York
TODAY = dt.date(2026, 11, 25)
HTMX = {"HX-Request": "true"}


def _local(day: dt.date, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK)


def _on(course: Any, day: dt.date) -> Session:
    return Session.objects.get(
        course=course, starts_at__gte=_local(day), starts_at__lt=_local(day, 23, 59)
    )


def _occupying(course: Any) -> int:
    return Session.objects.filter(course=course, status__in=OCCUPYING).count()


def _makeup_of(session: Session) -> Session:
    return Session.objects.get(makeup_for=session)


@pytest.fixture
def course(make_course: Callable[..., Any], chairs: list[Any]) -> Any:
    """Begun on STARTED, booked in full, attended until yesterday; today's session runs
    09:30-10:10."""
    course = make_course(start=STARTED)
    course_schedule(course, allow_past=True)
    Session.objects.filter(course=course, ends_at__lt=_local(TODAY)).update(
        status=SessionStatus.COMPLETED, checked_in_at=F("starts_at"), completed_at=F("ends_at")
    )
    return course


@pytest.fixture
def desk(staff: Callable[..., Any]) -> Any:
    return staff(Role.FRONT_DESK)


def _missed_today(course: Any) -> tuple[Session, Session]:
    """Today's session marked missed by hand: its make-up is booked, the patient texted."""
    session = services.session_mark_missed(_on(course, TODAY))
    makeup = _makeup_of(session)
    assert makeup.status == SessionStatus.SCHEDULED
    assert Notification.objects.filter(
        session=session, kind=Kind.MISSED_FOLLOWUP, status=Status.PENDING
    ).exists()
    return session, makeup


# --- a missed mark undone --------------------------------------------------------------


def test_undoing_a_missed_mark_withdraws_its_makeup_and_the_unsent_text(
    course: Any, desk: Any
) -> None:
    before = _occupying(course)
    session, makeup = _missed_today(course)
    assert _occupying(course) == before  # one lost, one made up

    undone = services.session_undo(session, reason="She was in the waiting room", by=desk)

    assert undone.status == SessionStatus.SCHEDULED and undone.missed_at is None
    makeup.refresh_from_db()
    assert makeup.status == SessionStatus.CANCELLED and makeup.makeup_for_id is None
    assert _occupying(course) == before  # the visit is back, its make-up gone
    assert not Notification.objects.filter(
        session=session, kind=Kind.MISSED_FOLLOWUP, status=Status.PENDING
    ).exists()
    # Never told of the make-up: nothing about it goes out.
    assert not Notification.objects.filter(session=makeup, status=Status.PENDING).exists()
    event = SessionEvent.objects.get(session=session)
    assert (event.action, event.from_status, event.to_status) == (
        SessionEventAction.UNDO_MISSED,
        SessionStatus.MISSED,
        SessionStatus.SCHEDULED,
    )
    assert event.reason == "She was in the waiting room" and event.by == desk
    assert SessionEvent.objects.get(session=makeup).action == SessionEventAction.MAKEUP_WITHDRAWN
    # The sweep leaves the corrected session alone, and the withdrawn make-up gets none.
    assert sweep_missed_sessions() == []
    assert _on(course, TODAY).status == SessionStatus.SCHEDULED
    assert services.arrange_makeups([course.pk]) == 0


def test_a_patient_told_of_the_makeup_is_told_it_is_cancelled(course: Any, desk: Any) -> None:
    session, makeup = _missed_today(course)
    told = Notification.objects.filter(session=makeup, kind=Kind.MAKEUP_BOOKED)
    assert told.exists()
    told.update(status=Status.SENT)

    services.session_undo(session, reason="Marked the wrong patient", by=desk)

    assert Notification.objects.filter(
        session=makeup, kind=Kind.SESSION_CANCELLED, status=Status.PENDING
    ).exists()


def test_a_visit_missed_again_after_an_undo_gets_a_new_makeup(course: Any, desk: Any) -> None:
    session, first_makeup = _missed_today(course)
    services.session_undo(session, reason="Slip", by=desk)
    again = services.session_mark_missed(session)
    second = _makeup_of(again)
    assert second.pk != first_makeup.pk and second.status == SessionStatus.SCHEDULED


def test_a_makeup_already_begun_cannot_be_withdrawn(course: Any, desk: Any) -> None:
    session, makeup = _missed_today(course)
    Session.objects.filter(pk=makeup.pk).update(status=SessionStatus.CHECKED_IN)
    with pytest.raises(Conflict) as refused:
        services.session_undo(session, reason="Slip", by=desk)
    assert refused.value.code == "makeup_taken"
    assert Session.objects.get(pk=session.pk).status == SessionStatus.MISSED


def test_a_mark_made_on_an_earlier_day_cannot_be_undone(course: Any, desk: Any) -> None:
    yesterday = _on(course, TODAY - dt.timedelta(days=1))
    Session.objects.filter(pk=yesterday.pk).update(
        status=SessionStatus.MISSED, missed_at=_local(TODAY - dt.timedelta(days=1), 11)
    )
    yesterday.refresh_from_db()
    with pytest.raises(Conflict) as refused:
        services.session_undo(yesterday, reason="Slip", by=desk)
    assert refused.value.code == "undo_too_late"


def test_an_undo_needs_a_reason_and_a_mark(course: Any, desk: Any) -> None:
    session, _ = _missed_today(course)
    with pytest.raises(ValidationError):
        services.session_undo(session, reason="   ", by=desk)
    tomorrow = _on(course, TODAY + dt.timedelta(days=1))
    with pytest.raises(Conflict) as refused:
        services.session_undo(tomorrow, reason="Slip", by=desk)
    assert refused.value.code == "invalid_transition"


# --- a late patient --------------------------------------------------------------------


def test_a_late_patient_marked_missed_is_checked_in(course: Any, desk: Any) -> None:
    before = _occupying(course)
    session, makeup = _missed_today(course)

    checked = services.session_check_in(session, by=desk)

    assert checked.status == SessionStatus.CHECKED_IN
    assert checked.missed_at is None and checked.checked_in_at is not None
    makeup.refresh_from_db()
    assert makeup.status == SessionStatus.CANCELLED
    assert _occupying(course) == before
    assert SessionEvent.objects.get(session=session).action == SessionEventAction.LATE_CHECK_IN
    assert not Notification.objects.filter(
        session=session, kind=Kind.MISSED_FOLLOWUP, status=Status.PENDING
    ).exists()
    course.refresh_from_db()
    assert course.status == CourseStatus.ACTIVE


def test_a_missed_session_of_an_earlier_day_is_not_checked_in(course: Any, desk: Any) -> None:
    yesterday = _on(course, TODAY - dt.timedelta(days=1))
    Session.objects.filter(pk=yesterday.pk).update(
        status=SessionStatus.MISSED, missed_at=_local(TODAY - dt.timedelta(days=1), 11)
    )
    yesterday.refresh_from_db()
    with pytest.raises(Conflict) as refused:
        services.session_check_in(yesterday, by=desk)
    assert refused.value.code == "too_late"


def test_a_late_check_in_is_refused_when_the_chair_was_taken_meanwhile(
    course: Any, desk: Any, make_course: Callable[..., Any]
) -> None:
    session, _ = _missed_today(course)
    other = make_course(start=TODAY)
    SessionFactory(
        course=other, chair=session.chair, starts_at=session.starts_at, ends_at=session.ends_at
    )
    with pytest.raises(Conflict) as refused:
        services.session_check_in(session, by=desk)
    assert refused.value.code == "slot_conflict"
    assert Session.objects.get(pk=session.pk).status == SessionStatus.MISSED


# --- a check-in and a cancellation undone ----------------------------------------------


def test_undoing_the_first_check_in_plans_the_course_again(
    make_course: Callable[..., Any], chairs: list[Any], desk: Any
) -> None:
    course = make_course(start=TODAY)
    course_schedule(course, allow_past=True)
    session = services.session_check_in(_on(course, TODAY), by=desk)
    course.refresh_from_db()
    assert course.status == CourseStatus.ACTIVE

    undone = services.session_undo(session, reason="Wrong patient", by=desk)

    assert undone.status == SessionStatus.SCHEDULED and undone.checked_in_at is None
    course.refresh_from_db()
    assert course.status == CourseStatus.PLANNED
    assert SessionEvent.objects.get(session=session).action == SessionEventAction.UNDO_CHECK_IN


def test_undoing_a_cancellation_takes_the_chair_again(course: Any, desk: Any) -> None:
    before = _occupying(course)
    tomorrow = services.session_cancel(_on(course, TODAY + dt.timedelta(days=1)), reason="ill")
    makeup = _makeup_of(tomorrow)
    assert Notification.objects.filter(
        session=tomorrow, kind=Kind.SESSION_CANCELLED, status=Status.PENDING
    ).exists()

    undone = services.session_undo(tomorrow, reason="Cancelled the wrong day", by=desk)

    assert undone.status == SessionStatus.SCHEDULED and undone.cancel_reason == ""
    makeup.refresh_from_db()
    assert makeup.status == SessionStatus.CANCELLED
    assert _occupying(course) == before
    assert not Notification.objects.filter(
        session=tomorrow, kind=Kind.SESSION_CANCELLED, status=Status.PENDING
    ).exists()


def test_a_cancellation_is_not_undone_over_a_new_booking(
    course: Any, desk: Any, make_course: Callable[..., Any]
) -> None:
    tomorrow = services.session_cancel(_on(course, TODAY + dt.timedelta(days=1)), reason="ill")
    other = make_course(start=TODAY)
    SessionFactory(
        course=other, chair=tomorrow.chair, starts_at=tomorrow.starts_at, ends_at=tomorrow.ends_at
    )
    with pytest.raises(Conflict) as refused:
        services.session_undo(tomorrow, reason="Slip", by=desk)
    assert refused.value.code == "slot_conflict"


def test_a_cancellation_of_a_visit_already_over_is_not_undone(course: Any, desk: Any) -> None:
    today = _on(course, TODAY)  # 09:30-10:10, over at noon
    Session.objects.filter(pk=today.pk).update(
        status=SessionStatus.CANCELLED, cancelled_at=_local(TODAY, 9)
    )
    with pytest.raises(Conflict) as refused:
        services.session_undo(today, reason="Slip", by=desk)
    assert refused.value.code == "undo_too_late"


# --- through the API and the board -------------------------------------------------------


def test_api_undo_answers_with_the_session_and_codes(course: Any, api_as: Any) -> None:
    session, _ = _missed_today(course)
    client = api_as(Role.FRONT_DESK)
    url = f"/api/v1/sessions/{session.pk}/undo/"
    missing = client.post(url, {}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()["errors"]
    response = client.post(url, {"reason": "Slip"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "scheduled"
    again = client.post(url, {"reason": "Slip"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"


def test_board_offers_undo_and_late_check_in_to_front_desk(
    course: Any, client: Client, staff: Callable[..., Any], django_assert_max_num_queries: Any
) -> None:
    session, _ = _missed_today(course)
    client.force_login(staff(Role.FRONT_DESK))
    html = client.get("/board/").content.decode()
    assert f"/board/sessions/{session.pk}/undo/" in html
    assert "Check in late" in html
    client.force_login(staff(Role.TECHNICIAN))  # may check in, not undo
    html = client.get("/today/").content.decode()
    assert f"/board/sessions/{session.pk}/undo/" not in html

    client.force_login(staff(Role.FRONT_DESK))
    refused = client.post(f"/board/sessions/{session.pk}/undo/", {"reason": ""}, headers=HTMX)
    assert refused.status_code == 400 and "Say why" in refused.content.decode()
    response = client.post(
        f"/board/sessions/{session.pk}/undo/", {"reason": "Was here"}, headers=HTMX
    )
    assert response.status_code == 200
    assert "status-scheduled" in response.content.decode()
    assert Session.objects.get(pk=session.pk).status == SessionStatus.SCHEDULED


def test_board_check_in_of_a_missed_session_checks_in_late(
    course: Any, client: Client, staff: Callable[..., Any]
) -> None:
    session, _ = _missed_today(course)
    client.force_login(staff(Role.TECHNICIAN))
    response = client.post(f"/board/sessions/{session.pk}/check-in/", headers=HTMX)
    assert response.status_code == 200
    assert Session.objects.get(pk=session.pk).status == SessionStatus.CHECKED_IN
    assert Session.objects.get(pk=session.pk).kind != SessionKind.MAKEUP
