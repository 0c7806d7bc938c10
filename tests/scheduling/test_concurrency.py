"""Concurrent bookings on the real database: one winner, clean 409s for the rest, and the
database never holds two occupying sessions on a chair (or for a patient) at once. On
PostgreSQL the exclusion constraints back the services' checks; on SQLite (a file, see
tests/conftest.py) IMMEDIATE transactions make the racing writers take turns.

Each thread runs its request on its own connection (Django gives every thread one) and
closes it when done. Dates are a few weeks ahead of the real clock, so nothing here
freezes time across threads.

Django's test client is not fully thread-safe: a request that raises in one thread can be
re-raised by another thread's client too (``got_request_exception`` is a global signal),
so a server error is reported per race, not per thread.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from clinic.errors import Conflict
from clinic.models import Role
from scheduling import services
from scheduling.models import OCCUPYING, Session
from scheduling.services import attendance
from tests.conftest import bearer_client
from tests.factories import ChairFactory, CourseFactory

# Transactional: threads need committed data. (tests/conftest.py re-seeds the protocol
# catalog that the flush after each such test empties.)
pytestmark = pytest.mark.django_db(transaction=True)

NEW_YORK = ZoneInfo("America/New_York")
THREAD_TIMEOUT = 120
DEADLOCK = "40P01"  # PostgreSQL's deadlock_detected


def _monday_weeks_ahead(weeks: int = 3) -> dt.date:
    today = timezone.now().astimezone(NEW_YORK).date()
    return today + dt.timedelta(days=7 * weeks - today.weekday())


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=NEW_YORK)


def _in_parallel(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run every call in its own thread, released together by a barrier; re-raise the
    first exception a thread hit (an unhandled server error included)."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(index, call), daemon=True)
        for index, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(THREAD_TIMEOUT)
    if any(thread.is_alive() for thread in threads):
        raise RuntimeError("a thread hung")  # not an AssertionError: xfails expect those
    if errors:
        raise errors[0]
    return results


def _post(client: Any, path: str, body: dict[str, Any]) -> Callable[[], tuple[int, Any]]:
    """A POST for a thread. A deadlock surfaces as the test client re-raising the view's
    OperationalError (a 500); it comes back as (500, {"code": "deadlock"}) so the test can
    name it. Any other server error propagates and fails the test."""

    def call() -> tuple[int, Any]:
        try:
            response = client.post(path, body, format="json")
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) != DEADLOCK:
                raise
            return 500, {"code": "deadlock", "detail": str(exc).splitlines()[0]}
        return response.status_code, response.json()

    return call


def _no_server_error(results: list[tuple[int, Any]]) -> None:
    # A deadlock between racing inserts is answered 409 concurrent_update now; any 500
    # is a regression.
    assert not any(status == 500 for status, _ in results), results


def _overlapping_pairs(field: str, value: int) -> list[tuple[int, int]]:
    """Pairs of occupying sessions that overlap on one chair (or for one patient)."""
    rows = list(
        Session.objects.filter(**{field: value}, status__in=OCCUPYING)
        .order_by("starts_at", "id")
        .values_list("id", "starts_at", "ends_at")
    )
    # Sorted by start, any overlap shows up between neighbours.
    return [(a[0], b[0]) for a, b in itertools.pairwise(rows) if b[1] < a[2]]


def test_many_clients_race_for_one_chair_and_one_start(
    clinic: Any, staff: Callable[..., Any], make_course: Callable[..., Any]
) -> None:
    monday = _monday_weeks_ahead()
    chair = ChairFactory(clinic=clinic, name="Chair 1")
    ChairFactory(clinic=clinic, name="Chair 2")  # free, but not the one asked for
    courses = [make_course(start=monday, at=dt.time(10)) for _ in range(24)]
    assert len({course.patient_id for course in courses}) == 24
    front_desk = staff(Role.FRONT_DESK)
    starts_at = _at(monday, 10).isoformat()
    calls = [
        _post(
            bearer_client(front_desk),
            "/api/v1/sessions/",
            {"course": course.pk, "chair": chair.pk, "starts_at": starts_at},
        )
        for course in courses
    ]

    results = _in_parallel(calls)

    _no_server_error(results)
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 1, 409: 23}, results
    assert {body["code"] for status, body in results if status == 409} == {"slot_conflict"}
    # Refused by a service's check (what it clashed with) or by the exclusion constraint
    # (nothing from the database): the body has the same shape either way.
    assert all(
        set(body) == {"code", "detail", "conflicts"} and isinstance(body["conflicts"], list)
        for status, body in results
        if status == 409
    )
    (winner,) = [body for status, body in results if status == 201]
    assert winner["chair"] == chair.pk and winner["status"] == "scheduled"
    occupying = Session.objects.filter(chair=chair, status__in=OCCUPYING)
    assert list(occupying.values_list("id", flat=True)) == [winner["id"]]
    assert _overlapping_pairs("chair", chair.pk) == []
    assert Session.objects.count() == 1


def test_two_courses_scheduled_at_once_on_the_only_chair(
    clinic: Any, staff: Callable[..., Any], make_course: Callable[..., Any]
) -> None:
    monday = _monday_weeks_ahead()
    only = ChairFactory(clinic=clinic, name="Chair 1")
    courses = [make_course(start=monday, at=dt.time(10), preferred_chair=only) for _ in range(2)]
    front_desk = staff(Role.FRONT_DESK)
    calls = [
        _post(bearer_client(front_desk), f"/api/v1/courses/{course.pk}/schedule/", {})
        for course in courses
    ]

    results = _in_parallel(calls)

    _no_server_error(results)
    assert sorted(status for status, _ in results) == [201, 409], results
    winner_index = next(i for i, (status, _) in enumerate(results) if status == 201)
    winner, loser = courses[winner_index], courses[1 - winner_index]
    _, loser_body = results[1 - winner_index]
    assert loser_body["code"] == "slot_conflict", loser_body
    assert len(results[winner_index][1]["sessions"]) == 36
    assert Session.objects.filter(course=winner, status__in=OCCUPYING).count() == 36
    assert not Session.objects.filter(course=loser).exists()  # all or nothing
    assert set(Session.objects.values_list("chair_id", flat=True)) == {only.pk}
    assert _overlapping_pairs("chair", only.pk) == []


def test_one_patient_booked_twice_at_once_on_two_chairs(
    clinic: Any, staff: Callable[..., Any], make_course: Callable[..., Any]
) -> None:
    monday = _monday_weeks_ahead()
    chairs = [ChairFactory(clinic=clinic, name=f"Chair {n}") for n in (1, 2)]
    course = make_course(start=monday, at=dt.time(10))
    front_desk = staff(Role.FRONT_DESK)
    starts_at = _at(monday, 10).isoformat()
    calls = [
        _post(
            bearer_client(front_desk),
            "/api/v1/sessions/",
            {"course": course.pk, "chair": chair.pk, "starts_at": starts_at},
        )
        for chair in chairs
    ]

    results = _in_parallel(calls)

    assert sorted(status for status, _ in results) == [201, 409], results
    (refused,) = [body for status, body in results if status == 409]
    assert refused["code"] == "patient_conflict", refused
    assert isinstance(refused["conflicts"], list)
    assert Session.objects.filter(course=course, status__in=OCCUPYING).count() == 1
    assert _overlapping_pairs("patient", course.patient_id) == []


# Watches pg_stat_activity for the blocked booking and needs PostgreSQL's deadlock
# detector; SQLite's IMMEDIATE transactions never deadlock, they wait their turn.
@pytest.mark.postgres
def test_a_deadlock_victim_gets_a_409_not_a_500(
    clinic: Any, staff: Callable[..., Any], make_course: Callable[..., Any]
) -> None:
    """The interleaving that makes PostgreSQL pick a booking as its deadlock victim,
    made deterministic: another writer's open transaction holds a row the booking
    collides with, the booking waits for it, then that writer inserts a second row that
    collides with the booking's (uncommitted) row and waits in turn. The booking waited
    first, so after deadlock_timeout (1 s) it is the one aborted; the API must still
    answer with a 4xx, never a 500."""
    monday = _monday_weeks_ahead()
    chair = ChairFactory(clinic=clinic, name="Chair 1")
    course = make_course(start=monday, at=dt.time(10))
    # The other writer's rows belong to the patient's finished course: a row on the open
    # course would share-lock it, and the booking would queue on its course lock instead.
    earlier = CourseFactory(
        patient=course.patient, psychiatrist=course.psychiatrist, status="completed"
    )
    client = bearer_client(staff(Role.FRONT_DESK))
    first_row_written = threading.Event()
    booking_waits = threading.Event()

    def row(start: dt.datetime, end: dt.datetime) -> Session:
        # Both rows overlap the booking [10:00, 10:40) on its chair and its patient, not
        # each other, whichever exclusion constraint PostgreSQL checks first.
        return Session.objects.create(
            course=earlier,
            patient=course.patient,
            chair=chair,
            starts_at=start,
            ends_at=end,
            kind="treatment",
            phase=1,
        )

    def other_writer() -> None:
        with transaction.atomic():
            # This writer waits second; a longer deadlock_timeout than the booking's 1 s
            # makes sure the booking is the victim even on a loaded machine, where the
            # booking's backend could otherwise check for the deadlock after this one.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL deadlock_timeout = '10s'")
            row(_at(monday, 10, 30), _at(monday, 11, 10))
            first_row_written.set()
            if not booking_waits.wait(10):
                raise RuntimeError("the booking never waited")
            row(_at(monday, 9, 40), _at(monday, 10, 10))  # waits for the booking
            transaction.set_rollback(True)

    def watcher() -> None:
        deadline = time.monotonic() + 10
        with connection.cursor() as cursor:
            while time.monotonic() < deadline:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query LIKE %s",
                    ['INSERT INTO "scheduling_session"%'],
                )
                if cursor.fetchone()[0]:
                    booking_waits.set()
                    return
                time.sleep(0.01)

    book = _post(
        client,
        "/api/v1/sessions/",
        {"course": course.pk, "chair": chair.pk, "starts_at": _at(monday, 10).isoformat()},
    )

    def booking() -> tuple[int, Any]:
        if not first_row_written.wait(10):
            raise RuntimeError("the other writer never wrote")
        return book()

    _, (status, body), _ = _in_parallel([other_writer, booking, watcher])

    assert status in (201, 409), (status, body)
    assert not Session.objects.filter(course=earlier).exists()


@pytest.mark.parametrize("other", ["book", "move"])
def test_racing_writes_keep_the_protocols_sessions_per_day(
    other: str, clinic: Any, make_course: Callable[..., Any], monkeypatch: Any
) -> None:
    """10hz-standard allows one session a day. Two writes that each put one of the
    patient's sessions on the same Tuesday (at different times, so no overlap) must not
    both succeed. Both threads are held just after reading the calendar until the other
    has read it too (or 3 s have passed, should a lock keep the other one waiting)."""
    monday = _monday_weeks_ahead()
    tuesday = monday + dt.timedelta(days=1)
    chairs = [ChairFactory(clinic=clinic, name=f"Chair {n}") for n in (1, 2)]
    course = make_course(start=monday, at=dt.time(10))
    moving = services.session_book(course, starts_at=_at(monday, 10), chair=chairs[0])
    if other == "move":
        second = services.session_book(
            course, starts_at=_at(monday + dt.timedelta(days=2), 10), chair=chairs[1]
        )

        def rival() -> Any:
            return services.session_move(second, starts_at=_at(tuesday, 14), chair=chairs[1])
    else:

        def rival() -> Any:
            return services.session_book(course, starts_at=_at(tuesday, 14), chair=chairs[1])

    real_load_calendar = attendance.load_calendar
    both_read = threading.Barrier(2)

    def load_calendar_then_wait(*args: Any, **kwargs: Any) -> Any:
        calendar = real_load_calendar(*args, **kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            both_read.wait(timeout=3)
        return calendar

    monkeypatch.setattr(attendance, "load_calendar", load_calendar_then_wait)

    def attempt(call: Callable[[], Any]) -> Callable[[], str]:
        def run() -> str:
            try:
                call()
            except Conflict as exc:
                return exc.code
            return "ok"

        return run

    outcomes = _in_parallel(
        [
            attempt(lambda: services.session_move(moving, starts_at=_at(tuesday, 10))),
            attempt(rival),
        ]
    )

    on_tuesday = [
        session
        for session in Session.objects.filter(course=course, status__in=OCCUPYING)
        if session.starts_at.astimezone(NEW_YORK).date() == tuesday
    ]
    assert len(on_tuesday) == 1, (outcomes, on_tuesday)
    assert sorted(outcomes) == ["ok", "patient_conflict"]
