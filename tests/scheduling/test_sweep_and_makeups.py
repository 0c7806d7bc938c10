"""Missed-session detection, make-ups, and closures added after booking."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import F

from clinic.models import BeyondAuthorization, ChairBlock, Closure, Role
from courses.models import TreatmentCourse
from courses.services import authorization_add
from notifications.models import Notification
from notifications.services import plan_reminders, policy_update
from scheduling import services
from scheduling.models import OCCUPYING, Session, SessionKind, SessionStatus
from scheduling.risk import recompute_risk
from scheduling.selectors import course_progress
from scheduling.services import (
    arrange_makeups,
    arrange_makeups_and_refresh,
    attendance,
    course_schedule,
    makeups,
    session_cancel,
    session_mark_missed,
    sessions_hit_by_closure,
    sweep_missed_sessions,
)
from tests.factories import AssessmentFactory
from tests.scheduling.conftest import NOW

pytestmark = pytest.mark.usefixtures("frozen_now")

NEW_YORK = dt.timezone(dt.timedelta(hours=-5))  # EST: every date used here is after 1 Nov
STARTED = dt.date(2026, 11, 2)  # a Monday; by NOW sessions 1-18 (2-25 Nov) lie behind us
# Today's session of a course begun on STARTED runs 09:30-10:10 in New York.
TODAY_SESSION_ENDS = dt.datetime(2026, 11, 25, 10, 10, tzinfo=NEW_YORK)


def _local(day: dt.date, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK)


def _day(session: Session) -> dt.date:
    return session.starts_at.astimezone(NEW_YORK).date()


def _sessions(course: Any, **filters: Any) -> list[Session]:
    return list(
        Session.objects.filter(course=course, **filters).with_sequence().order_by("starts_at", "id")
    )


def _on(course: Any, day: dt.date) -> Session:
    return Session.objects.get(
        course=course, starts_at__gte=_local(day), starts_at__lt=_local(day, 23, 59)
    )


def _occupying(course: Any) -> int:
    return Session.objects.filter(course=course, status__in=OCCUPYING).count()


def _makeups(course: Any) -> list[Session]:
    return _sessions(course, kind=SessionKind.MAKEUP)


@pytest.fixture
def started(make_course: Callable[..., Any], chairs: list[Any]) -> Callable[..., Any]:
    """A course begun on STARTED, booked in full; nothing attended yet."""

    def make(**fields: Any) -> Any:
        course = make_course(start=STARTED, **fields)
        course_schedule(course, allow_past=True)
        return course

    return make


@pytest.fixture
def booked(make_course: Callable[..., Any], chairs: list[Any]) -> Callable[..., Any]:
    """A course starting Monday 30 November, booked in full: acute 30 Nov-8 Jan, taper
    11, 13, 15 Jan, then 19, 21 Jan, then 25 Jan."""

    def make(**fields: Any) -> Any:
        course = make_course(**fields)
        course_schedule(course)
        AssessmentFactory(course=course, administered_on=dt.date(2026, 11, 25))
        return course

    return make


# --- the sweep -------------------------------------------------------------------------


def test_sweep_marks_overdue_sessions_missed_once(
    started: Any, booked: Any, frozen_now: Any
) -> None:
    course, untouched = started(), booked()
    earlier = [s for s in _sessions(course) if s.ends_at < _local(dt.date(2026, 11, 25))]
    assert len(earlier) == 17
    completed, checked_in, cancelled = earlier[0], earlier[1], earlier[2]
    Session.objects.filter(pk=completed.pk).update(
        status=SessionStatus.COMPLETED, checked_in_at=F("starts_at"), completed_at=F("ends_at")
    )
    Session.objects.filter(pk=checked_in.pk).update(
        status=SessionStatus.CHECKED_IN, checked_in_at=F("starts_at")
    )
    Session.objects.filter(pk=cancelled.pk).update(
        status=SessionStatus.CANCELLED, cancelled_at=F("starts_at")
    )
    today = _on(course, dt.date(2026, 11, 25))

    ten_past = TODAY_SESSION_ENDS + dt.timedelta(minutes=10)
    frozen_now.move_to(ten_past)
    assert sweep_missed_sessions() == [course.pk]
    missed = _sessions(course, status=SessionStatus.MISSED)
    assert {s.pk for s in missed} == {s.pk for s in earlier[3:]}
    assert all(s.missed_at == ten_past for s in missed)
    statuses = dict(Session.objects.filter(course=course).values_list("id", "status"))
    assert statuses[completed.pk] == SessionStatus.COMPLETED
    assert statuses[checked_in.pk] == SessionStatus.CHECKED_IN
    assert statuses[cancelled.pk] == SessionStatus.CANCELLED
    assert statuses[today.pk] == SessionStatus.SCHEDULED  # ended 10 minutes ago: in grace
    assert not Session.objects.filter(course=untouched).exclude(status="scheduled").exists()
    # Missed sessions no longer count: the rest are numbered 1, 2, 3 ...
    occupying = _sessions(course, status__in=OCCUPYING)
    assert [s.sequence for s in occupying] == list(range(1, len(occupying) + 1))

    before = list(Session.objects.order_by("id").values_list("id", "status", "updated_at"))
    assert sweep_missed_sessions() == []
    assert list(Session.objects.order_by("id").values_list("id", "status", "updated_at")) == (
        before
    )

    frozen_now.move_to(TODAY_SESSION_ENDS + dt.timedelta(minutes=20))
    assert sweep_missed_sessions() == [course.pk]
    today.refresh_from_db()
    assert today.status == SessionStatus.MISSED
    assert sweep_missed_sessions() == []


@pytest.mark.parametrize(("minutes_after", "missed"), [(29, False), (31, True)])
def test_sweep_uses_the_clinic_grace(
    started: Any, clinic: Any, frozen_now: Any, minutes_after: int, missed: bool
) -> None:
    clinic.missed_grace_minutes = 30
    clinic.save()
    course = started()
    Session.objects.filter(course=course, ends_at__lt=_local(dt.date(2026, 11, 25))).update(
        status=SessionStatus.COMPLETED
    )
    frozen_now.move_to(TODAY_SESSION_ENDS + dt.timedelta(minutes=minutes_after))
    assert sweep_missed_sessions() == ([course.pk] if missed else [])
    assert _on(course, dt.date(2026, 11, 25)).status == (
        SessionStatus.MISSED if missed else SessionStatus.SCHEDULED
    )


def test_sweep_recomputes_risk_of_affected_courses_only(started: Any, booked: Any) -> None:
    behind, elsewhere = started(), booked()
    TreatmentCourse.objects.filter(pk=elsewhere.pk).update(risk_level="at_risk")  # stale
    TreatmentCourse.objects.filter(pk=behind.pk).update(risk_level="ok")  # stale too

    assert sweep_missed_sessions() == [behind.pk]
    progress = course_progress(behind)
    assert progress["missed"] == 18
    assert {"missed_consecutive", "missed_share"} <= set(progress["risk"]["reasons"])
    assert TreatmentCourse.objects.get(pk=behind.pk).risk_level == "at_risk"
    assert TreatmentCourse.objects.get(pk=elsewhere.pk).risk_level == "at_risk"  # untouched
    recompute_risk([elsewhere.pk])
    assert TreatmentCourse.objects.get(pk=elsewhere.pk).risk_level != "at_risk"


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_flip_each_row_once(
    started: Any, booked: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    courses = [started(), started(), started()]
    future = booked()
    for course in courses[1:]:  # some history the sweeps must leave alone
        first = _sessions(course)[0]
        Session.objects.filter(pk=first.pk).update(status=SessionStatus.COMPLETED)
    overdue = set(
        Session.objects.filter(
            status=SessionStatus.SCHEDULED, ends_at__lt=NOW - dt.timedelta(minutes=15)
        ).values_list("id", flat=True)
    )
    assert len(overdue) == 18 + 17 + 17

    flipped: dict[str, list[tuple[int, int]]] = {}
    update = attendance._update_returning_courses

    def recording(candidates: Any, now: dt.datetime) -> list[tuple[int, int]]:
        rows = update(candidates, now)
        flipped[threading.current_thread().name] = rows
        time.sleep(0.3)  # hold the row locks, so the other run must wait for them
        return rows

    monkeypatch.setattr(attendance, "_update_returning_courses", recording)
    barrier = threading.Barrier(2)
    moments = {"a": NOW, "b": NOW + dt.timedelta(seconds=1)}
    returned: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def sweep() -> None:
        name = threading.current_thread().name
        try:
            barrier.wait(timeout=10)
            returned[name] = sweep_missed_sessions(moments[name])
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep, name=name) for name in moments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert set(returned) == {"a", "b"}

    assert len(flipped["a"]) + len(flipped["b"]) == len(overdue)
    assert {session_id for session_id, _ in flipped["a"] + flipped["b"]} == overdue
    assert set(returned["a"]) | set(returned["b"]) == {c.pk for c in courses}
    missed = Session.objects.filter(status=SessionStatus.MISSED)
    assert set(missed.values_list("id", flat=True)) == overdue
    for name, moment in moments.items():
        assert missed.filter(missed_at=moment).count() == len(flipped[name])
        assert set(returned[name]) == {course_id for _, course_id in flipped[name]}
    assert not Session.objects.filter(course=future).exclude(status="scheduled").exists()


def test_management_command_sweeps_and_books_makeups(started: Any, booked: Any) -> None:
    course, _ = started(), booked()
    out = StringIO()
    call_command("sweep_missed_sessions", stdout=out)
    found = re.fullmatch(
        r"1 course\(s\) had sessions marked missed; (\d+) make-up\(s\) booked\.\n",
        out.getvalue(),
    )
    assert found, out.getvalue()
    makeups = _makeups(course)
    assert int(found[1]) == len(makeups) > 0
    assert {m.makeup_for.status for m in makeups} == {SessionStatus.MISSED}

    again = StringIO()
    call_command("sweep_missed_sessions", stdout=again)
    assert again.getvalue() == "0 course(s) had sessions marked missed; 0 make-up(s) booked.\n"
    assert len(_makeups(course)) == len(makeups)


@pytest.mark.parametrize(
    ("action", "reason"),
    [("discontinue", "Course discontinued"), ("complete", "Course completed")],
)
def test_an_ended_course_gives_up_its_remaining_sessions(
    booked: Any, frozen_now: Any, staff: Any, api: Any, action: str, reason: str
) -> None:
    course = booked()
    first, *rest = _sessions(course)
    # Reminders before every visit, so that the next visits have some pending.
    policy_update(course.patient.clinic, every_day=True)
    frozen_now.move_to(_local(dt.date(2026, 11, 30), 9, 35))
    services.session_check_in(first)  # the course is active; this session under way
    plan_reminders()
    pending = Notification.objects.filter(session__in=rest, status="pending")
    assert pending.exists()

    response = api(staff(Role.PSYCHIATRIST)).post(
        f"/api/v1/courses/{course.pk}/{action}/", {"reason": "moved away"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert _sessions(course, status=SessionStatus.SCHEDULED) == []
    released = _sessions(course, status=SessionStatus.CANCELLED)
    assert [s.pk for s in released] == [s.pk for s in rest]
    assert {s.cancel_reason for s in released} == {reason}
    assert Session.objects.get(pk=first.pk).status == SessionStatus.CHECKED_IN
    assert not pending.exists()  # no reminder for a visit that will not happen
    assert _makeups(course) == []
    frozen_now.move_to(_local(dt.date(2026, 12, 9), 12))
    assert sweep_missed_sessions() == []  # and no "we missed you"


# --- make-ups --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lost_on", "closed_on", "makeup_on", "phase"),
    [
        # Acute: after 8 Jan; Mon 11 Jan already holds a taper session.
        (dt.date(2026, 12, 1), None, dt.date(2027, 1, 12), 1),
        # ... and not on a closure (Wed 13 Jan holds a taper session too).
        (dt.date(2026, 12, 1), dt.date(2027, 1, 12), dt.date(2027, 1, 14), 1),
        # Taper at 3 a week (11, 13, 15 Jan): after 15 Jan, weekends closed.
        (dt.date(2027, 1, 13), None, dt.date(2027, 1, 18), 2),
    ],
)
@pytest.mark.parametrize("how", ["missed", "cancelled"])
def test_a_lost_session_gets_one_makeup_after_its_phase(
    booked: Any,
    clinic: Any,
    frozen_now: Any,
    how: str,
    lost_on: dt.date,
    closed_on: dt.date | None,
    makeup_on: dt.date,
    phase: int,
) -> None:
    course = booked()
    if closed_on is not None:
        Closure.objects.create(clinic=clinic, date=closed_on, reason="Inspection")
    lost = _on(course, lost_on)
    assert lost.phase == phase
    if how == "missed":
        frozen_now.move_to(_local(lost_on, 12))
        # Attended until then (else six weeks without a completed session are a gap).
        Session.objects.filter(course=course, starts_at__lt=lost.starts_at).update(
            status=SessionStatus.COMPLETED
        )
        session_mark_missed(lost)
    else:
        session_cancel(lost, reason="travel")

    [makeup] = _makeups(course)
    assert makeup.makeup_for_id == lost.pk
    assert makeup.phase == phase
    assert makeup.status == SessionStatus.SCHEDULED
    assert makeup.starts_at.astimezone(NEW_YORK).time() == dt.time(9, 30)
    assert makeup.ends_at - makeup.starts_at == dt.timedelta(minutes=40)
    assert _day(makeup) == makeup_on
    rest_of_phase = [
        s for s in _sessions(course, phase=phase, status__in=OCCUPYING) if s.pk != makeup.pk
    ]
    assert makeup.starts_at > rest_of_phase[-1].starts_at
    assert makeup_on.weekday() < 5 and makeup_on != closed_on
    assert _occupying(course) == 36
    occupying = _sessions(course, status__in=OCCUPYING)
    assert [s.sequence for s in occupying] == list(range(1, 37))

    assert arrange_makeups([course.pk]) == 0  # idempotent
    assert arrange_makeups_and_refresh([course.pk]) == 0
    assert len(_makeups(course)) == 1
    assert course_progress(course)["risk"]["reasons"] == []


def test_an_extension_of_the_authorization_books_the_makeup_that_did_not_fit(
    booked: Any, frozen_now: Any, staff: Any, api: Any, clinic: Any
) -> None:
    clinic.book_beyond_authorization = BeyondAuthorization.LEAVE  # else booked, pending
    clinic.save()
    course = booked()
    authorization = {
        "payer": "Cigna",
        "number": "PA-77",
        "sessions_authorized": 35,
        "valid_from": dt.date(2026, 11, 1),
        "valid_until": dt.date(2027, 6, 30),
    }
    authorization_add(course, **authorization)
    frozen_now.move_to(_local(dt.date(2026, 12, 1), 12))
    session_mark_missed(_on(course, dt.date(2026, 12, 1)))
    assert _makeups(course) == []
    assert "unscheduled_remaining" in course_progress(course)["risk"]["reasons"]

    extension = {**authorization, "number": "PA-78", "sessions_authorized": 5}
    response = api(staff(Role.PSYCHIATRIST)).post(
        f"/api/v1/courses/{course.pk}/authorizations/", extension, format="json"
    )
    assert response.status_code == 201, response.content
    [makeup] = _makeups(course)
    assert makeup.makeup_for == _on(course, dt.date(2026, 12, 1))
    assert "unscheduled_remaining" not in course_progress(course)["risk"]["reasons"]


def test_no_makeup_when_the_clinic_turned_auto_makeup_off(booked: Any, clinic: Any) -> None:
    clinic.auto_makeup = False
    clinic.save()
    course = booked()
    session_cancel(_on(course, dt.date(2026, 12, 2)), reason="")
    assert _makeups(course) == []
    assert arrange_makeups([course.pk]) == 0
    progress = course_progress(course)
    assert progress["unscheduled"] == 1
    assert progress["risk"]["reasons"] == ["unscheduled_remaining"]


@pytest.mark.parametrize(
    ("authorized", "valid_until", "makeups"),
    [
        (36, dt.date(2027, 6, 30), 1),
        (35, dt.date(2027, 6, 30), 0),
        # The make-up would come after the acute phase's last session (8 January).
        (36, dt.date(2027, 1, 8), 0),
    ],
)
def test_makeups_stay_within_the_authorization(
    booked: Any, frozen_now: Any, authorized: int, valid_until: dt.date, makeups: int, clinic: Any
) -> None:
    # A clinic that leaves sessions beyond the authorization unbooked (the other
    # setting books them, marked pending: tests/scheduling/test_authorization_rule.py).
    clinic.book_beyond_authorization = BeyondAuthorization.LEAVE
    clinic.save()
    course = booked()
    authorization_add(
        course,
        payer="Cigna",
        number="PA-77",
        sessions_authorized=authorized,
        valid_from=dt.date(2026, 11, 1),
        valid_until=valid_until,
    )
    frozen_now.move_to(_local(dt.date(2026, 12, 1), 12))
    session_mark_missed(_on(course, dt.date(2026, 12, 1)))
    # A missed session uses none of the authorization: with 36 authorized its make-up
    # still fits; with 35 the 35 sessions still booked use it all up; and none is booked
    # after the authorization ends.
    assert len(_makeups(course)) == makeups
    assert _occupying(course) == 35 + makeups
    assert arrange_makeups([course.pk]) == 0
    reasons = course_progress(course)["risk"]["reasons"]
    assert ("unscheduled_remaining" in reasons) is (makeups == 0)


def test_no_makeup_beyond_the_course_window(booked: Any, frozen_now: Any) -> None:
    course = booked()
    window_end = dt.date.fromisoformat(str(course_progress(course)["window_end_date"]))
    # Fill every open day after the acute phase up to the window's end with make-ups
    # by losing acute sessions one after another.
    acute = _sessions(course, phase=1)
    for session in acute[1:]:
        session_cancel(session, reason="")
    assert all(_day(m) <= window_end for m in _makeups(course))
    progress = course_progress(course)
    assert progress["unscheduled"] == 29 - len(_makeups(course)) > 0
    assert "unscheduled_remaining" in progress["risk"]["reasons"]


@pytest.mark.django_db(transaction=True)
def test_two_makeup_runs_at_once_book_one_makeup(
    booked: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    course = booked()
    clinic = course.patient.clinic
    clinic.auto_makeup = False
    clinic.save()
    session_cancel(_on(course, dt.date(2026, 12, 2)), reason="")
    clinic.auto_makeup = True
    clinic.save()

    book = makeups.book_makeups
    start = threading.Barrier(2)

    def slow_booking(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.3)  # hold the course lock while the other run arrives
        return book(*args, **kwargs)

    monkeypatch.setattr(makeups, "book_makeups", slow_booking)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait(timeout=10)
            arrange_makeups_and_refresh([course.pk])
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert len(_makeups(course)) == 1


# --- closures added after booking ------------------------------------------------------


def test_closure_after_booking_rebooks_every_session_of_that_day(
    booked: Any, clinic: Any, staff: Any, api: Any
) -> None:
    first, second = booked(), booked()
    # Courses under way: their hit sessions move after the phase like make-ups (a
    # course that has not started is planned again instead; see the next test).
    for course in (first, second):
        Session.objects.filter(pk=_on(course, dt.date(2026, 11, 30)).pk).update(
            status=SessionStatus.COMPLETED
        )
    closed = dt.date(2026, 12, 3)
    hit = {_on(first, closed).pk, _on(second, closed).pk}
    closure = Closure.objects.create(clinic=clinic, date=closed, reason="Power work")
    assert {s.pk for s in sessions_hit_by_closure(clinic, closed)} == hit

    client = api(staff(Role.FRONT_DESK))
    listed = client.get(f"/api/v1/closures/{closure.pk}/affected-sessions/")
    assert listed.status_code == 200
    assert {row["id"] for row in listed.json()} == hit

    response = client.post(f"/api/v1/closures/{closure.pk}/rebook/")
    assert response.status_code == 200, response.json()
    assert {row["id"] for row in response.json()} == hit
    assert not Session.objects.filter(
        chair__clinic=clinic,
        status__in=OCCUPYING,
        starts_at__gte=_local(closed),
        starts_at__lt=_local(closed + dt.timedelta(days=1)),
    ).exists()
    for course in (first, second):
        assert _occupying(course) == 36
        moved = Session.objects.get(pk__in=hit, course=course)
        # After the acute phase's last session (8 Jan); Monday 11 Jan holds a taper one.
        assert _day(moved) == dt.date(2027, 1, 12)
        assert moved.starts_at.astimezone(NEW_YORK).time() == dt.time(9, 30)
        occupying = _sessions(course, status__in=OCCUPYING)
        assert [s.sequence for s in occupying] == list(range(1, 37))
    assert sessions_hit_by_closure(clinic, closed) == []
    again = client.get(f"/api/v1/closures/{closure.pk}/affected-sessions/")
    assert again.status_code == 200 and again.json() == []


# --- losing the mapping session --------------------------------------------------------


def _starts_with_mapping(course: Any) -> bool:
    first = _sessions(course, status__in=OCCUPYING)[0]
    return first.ends_at - first.starts_at == dt.timedelta(minutes=60)


def test_a_chair_block_over_booked_sessions_is_refused_until_they_move(
    booked: Any, staff: Any, api: Any
) -> None:
    course = booked()
    first, second = _sessions(course)[:2]
    client = api(staff(Role.CLINIC_ADMIN))
    block = {
        "chair": first.chair_id,
        "starts_at": _local(dt.date(2026, 11, 30), 8).isoformat(),
        "ends_at": _local(dt.date(2026, 12, 1), 12).isoformat(),
        "reason": "coil service",
    }
    refused = client.post("/api/v1/chair-blocks/", block, format="json")
    assert refused.status_code == 409
    body = refused.json()
    assert body["code"] == "slot_conflict"
    assert "Mon 30 Nov 09:30" in body["detail"]
    assert [row["session"] for row in body["conflicts"]] == [first.pk, second.pk]
    assert not ChairBlock.objects.exists()  # nothing half-written

    # Moved elsewhere (cancelled here), the chair can be blocked.
    session_cancel(first, reason="")
    session_cancel(second, reason="")
    assert client.post("/api/v1/chair-blocks/", block, format="json").status_code == 201
    # Stretching the block over a booked session is refused the same way.
    later = _on(course, dt.date(2026, 12, 2))
    stretched = client.patch(
        f"/api/v1/chair-blocks/{ChairBlock.objects.get().pk}/",
        {"ends_at": _local(dt.date(2026, 12, 2), 12).isoformat()},
        format="json",
    )
    assert stretched.status_code == 409
    assert [row["session"] for row in stretched.json()["conflicts"]] == [later.pk]


def test_closure_on_the_first_day_keeps_the_mapping_session_first(booked: Any, clinic: Any) -> None:
    course = booked()
    assert _starts_with_mapping(course)
    Closure.objects.create(clinic=clinic, date=dt.date(2026, 11, 30), reason="Flood")
    services.closure_rebook(clinic, dt.date(2026, 11, 30))
    assert _starts_with_mapping(course)


def test_a_lost_mapping_session_is_made_up_as_a_mapping_session(booked: Any) -> None:
    course = booked()
    mapping = _sessions(course)[0]
    assert mapping.kind == SessionKind.MAPPING
    session_cancel(mapping, reason="flu")
    assert _starts_with_mapping(course)
