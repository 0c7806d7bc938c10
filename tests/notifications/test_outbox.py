"""The outbox: rows written with the changes that cause them, planned reminders, the
send window (across DST), frequency caps, claims and leases, and what send() does.

Messages go to the in-memory transport; the clock is frozen at NOW (Wednesday
25 November 2026, 12:00 in New York) unless a test moves it. A course booked at NOW
starts on Monday 30 November at 09:30 (one session a weekday).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import inspect
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from clinic.errors import Conflict
from clinic.models import Clinic, Closure, Patient
from clinic.patient_text import GSM7
from notifications import content, services, tasks
from notifications.models import Channel, Kind, Notification, ReminderPolicy, Status
from notifications.services import dispatch
from notifications.transports import LocmemTransport, Outgoing, TransientError, reset_transports
from scheduling import services as scheduling
from scheduling.models import Session, SessionStatus
from scheduling.services import booking
from tests.scheduling.conftest import NOW  # its fixtures come through ./conftest.py

NEW_YORK = ZoneInfo("America/New_York")
LOCMEM = "notifications.transports.LocmemTransport"
SUN, MON, TUE, WED = (dt.date(2026, 11, 29) + dt.timedelta(days=n) for n in range(4))
BOTH = {Channel.SMS, Channel.EMAIL}
WINDOW_AFTER_START = "the send window opens only after the session starts"
THREAD_TIMEOUT = 60


def _local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=NEW_YORK)


@pytest.fixture(autouse=True)
def outbox(settings: Any) -> Iterator[list[Outgoing]]:
    settings.NOTIFICATION_TRANSPORTS = {"sms": LOCMEM, "email": LOCMEM}
    LocmemTransport.outbox.clear()
    reset_transports()
    yield LocmemTransport.outbox
    LocmemTransport.outbox.clear()
    reset_transports()


@pytest.fixture(autouse=True)
def _every_day_and_the_former_caps(clinic: Any) -> None:
    """These tests are about the outbox's mechanics, on a reminder before every visit
    and the caps of one SMS a day and three a week; which visits get reminders by
    default, and the default caps, are tested in test_reminder_days.py."""
    services.policy_update(clinic, every_day=True, sms_per_day=1, sms_per_week=3)


@pytest.fixture
def book(make_course: Callable[..., Any], chairs: list[Any], frozen_now: Any) -> Any:
    """Book a course at NOW; the patient's consents can be set first."""

    def make(sms: bool = True, email: bool = True, **patient: Any) -> list[Session]:
        course = make_course()
        Patient.objects.filter(pk=course.patient_id).update(
            sms_consent=sms, email_consent=email, **patient
        )
        return sorted(scheduling.course_schedule(course), key=lambda s: s.starts_at)

    return make


@pytest.fixture
def sessions(book: Callable[..., list[Session]]) -> list[Session]:
    booked = book()
    assert booked[0].starts_at == _local(MON, 9, 30)
    assert booked[1].starts_at == _local(TUE, 9, 30)
    return booked


def _notification(session: Session, kind: str, channel: str = Channel.SMS, **fields: Any) -> Any:
    fields.setdefault("scheduled_for", timezone.now())
    return Notification.objects.create(
        clinic=session.chair.clinic,
        patient=session.patient,
        session=session,
        channel=channel,
        kind=kind,
        idempotency_key=(
            f"test:{session.pk}:{kind}:{channel}:{fields['scheduled_for'].timestamp():.0f}"
        ),
        **fields,
    )


def _rows(**filters: Any) -> set[tuple[int | None, str, str, dt.datetime, str]]:
    return {
        (n.session_id, n.kind, n.channel, n.scheduled_for, n.status)
        for n in Notification.objects.filter(**filters)
    }


def _status(notification: Notification) -> tuple[str, str]:
    notification.refresh_from_db()
    return notification.status, notification.reason


def _in_threads(count: int, call: Callable[[], Any]) -> list[Any]:
    """Run ``call`` in ``count`` threads released together; each closes its connection."""
    barrier = threading.Barrier(count)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=THREAD_TIMEOUT)
            results.append(call())
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(THREAD_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    if errors:
        raise errors[0]
    return results


# --- rows written with the change ------------------------------------------------------


@pytest.mark.parametrize(
    ("sms", "email", "channels"),
    [
        (True, True, BOTH),
        (True, False, {Channel.SMS}),
        (False, True, {Channel.EMAIL}),
        (False, False, set()),
    ],
)
def test_booking_a_course_writes_one_course_booked_row_per_consented_channel(
    book: Callable[..., list[Session]], sms: bool, email: bool, channels: set[str]
) -> None:
    booked = book(sms=sms, email=email)
    assert _rows() == {
        (booked[0].pk, Kind.COURSE_BOOKED, channel, NOW, Status.PENDING) for channel in channels
    }
    keys = list(Notification.objects.values_list("idempotency_key", flat=True))
    assert len(set(keys)) == len(keys)


def test_consent_without_a_phone_number_writes_no_sms_row(
    book: Callable[..., list[Session]],
) -> None:
    booked = book(phone="")
    assert _rows() == {(booked[0].pk, Kind.COURSE_BOOKED, Channel.EMAIL, NOW, Status.PENDING)}


def test_a_clinic_that_turned_course_booked_off_gets_no_row(
    book: Callable[..., list[Session]], clinic: Any
) -> None:
    services.policy_update(clinic, course_booked=False)
    book()
    assert not Notification.objects.exists()


def test_a_refused_booking_409_leaves_no_notification(
    make_course: Callable[..., Any], frozen_now: Any
) -> None:
    course = make_course()  # the clinic has no chair: nothing can be placed
    with pytest.raises(Conflict):
        scheduling.course_schedule(course)
    assert not Session.objects.exists()
    assert not Notification.objects.exists()


def test_the_row_is_rolled_back_with_the_booking(
    make_course: Callable[..., Any], chairs: list[Any], frozen_now: Any, monkeypatch: Any
) -> None:
    """The row is written inside the booking's transaction: a failure after it was
    written (here, storing the course's risk) takes the row away with the sessions."""

    def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("risk store failed")

    monkeypatch.setattr(booking, "store_risk", fail)
    course = make_course()
    with pytest.raises(RuntimeError):
        scheduling.course_schedule(course)
    assert not Session.objects.exists()
    assert not Notification.objects.exists()


# --- planned reminders -----------------------------------------------------------------


def _expected_plan(first: Session, second: Session, channels: set[str] = BOTH) -> set[Any]:
    return {
        row
        for channel in channels
        for row in (
            (first.pk, Kind.FIRST_SESSION, channel, _local(SUN, 17), Status.PENDING),
            # 09:30 minus 120 minutes is 07:30, before the window: moved to 08:00
            (first.pk, Kind.SAME_DAY, channel, _local(MON, 8), Status.PENDING),
            (second.pk, Kind.DAY_BEFORE, channel, _local(MON, 17), Status.PENDING),
            (second.pk, Kind.SAME_DAY, channel, _local(TUE, 8), Status.PENDING),
        )
    }


def test_plan_reminders_writes_first_session_day_before_and_same_day_rows(
    sessions: list[Session], frozen_now: Any
) -> None:
    frozen_now.move_to(_local(SUN, 10))  # the horizon (48 h) ends Tuesday 10:00
    services.plan_reminders()
    planned = _rows(kind__in=[Kind.FIRST_SESSION, Kind.DAY_BEFORE, Kind.SAME_DAY])
    assert planned == _expected_plan(sessions[0], sessions[1])
    assert not Notification.objects.filter(session__in=sessions[2:]).exists()


def test_an_accelerated_day_gets_one_reminder_about_its_first_session(
    make_course: Callable[..., Any], chairs: list[Any], frozen_now: Any
) -> None:
    """Ten sessions a day (SNT) are one day-before message and one same-day message,
    about the first of them; once the day has begun, later sessions get none."""
    course = make_course(protocol="snt-accelerated", at=dt.time(7, 30))
    booked = sorted(scheduling.course_schedule(course), key=lambda s: s.starts_at)
    tuesday = [s for s in booked if s.starts_at.astimezone(NEW_YORK).date() == TUE]
    assert len(tuesday) == 10
    frozen_now.move_to(_local(MON, 10))  # the horizon (48 h) covers all of Tuesday
    services.plan_reminders()
    reminded = set(
        Notification.objects.filter(
            session__in=tuesday, kind__in=[Kind.DAY_BEFORE, Kind.SAME_DAY]
        ).values_list("session_id", "kind", "channel")
    )
    first = tuesday[0].pk
    assert reminded == {
        (first, kind, channel) for kind in (Kind.DAY_BEFORE, Kind.SAME_DAY) for channel in BOTH
    }
    # Tuesday 08:00: the day's first session has begun; the planner adds nothing for
    # the nine others.
    Session.objects.filter(pk=first).update(status=SessionStatus.CHECKED_IN)
    frozen_now.move_to(tuesday[0].starts_at + dt.timedelta(minutes=30))
    services.plan_reminders()
    assert not Notification.objects.filter(
        session__in=tuesday[1:], kind__in=[Kind.DAY_BEFORE, Kind.SAME_DAY]
    ).exists()


def test_plan_reminders_is_idempotent(sessions: list[Session], frozen_now: Any) -> None:
    frozen_now.move_to(_local(SUN, 10))
    services.plan_reminders()
    before = list(Notification.objects.order_by("id").values())
    services.plan_reminders()
    frozen_now.move_to(_local(SUN, 11))
    services.plan_reminders()
    assert list(Notification.objects.order_by("id").values()) == before


def test_plan_reminders_counts_only_the_rows_it_wrote(
    sessions: list[Session], frozen_now: Any
) -> None:
    frozen_now.move_to(_local(SUN, 10))
    assert services.plan_reminders() == 8
    assert services.plan_reminders() == 0


def test_a_reminder_planned_too_late_is_skipped_and_a_late_one_goes_now(
    sessions: list[Session], frozen_now: Any
) -> None:
    # Monday 08:30: the first-session reminder (Sunday 17:00) is long past; the same-day
    # one (due 07:30, moved to 08:00) is less than an hour late and goes now.
    frozen_now.move_to(_local(MON, 8, 30))
    services.plan_reminders()
    first = sessions[0]
    assert _rows(session=first) - _rows(kind=Kind.COURSE_BOOKED) == {
        (first.pk, Kind.SAME_DAY, channel, _local(MON, 8, 30), Status.PENDING) for channel in BOTH
    }


@pytest.mark.django_db(transaction=True)
def test_two_planners_at_once_write_each_row_once(
    book: Callable[..., list[Session]], frozen_now: Any
) -> None:
    booked = [book() for _ in range(3)]
    frozen_now.move_to(_local(SUN, 10))
    _in_threads(4, services.plan_reminders)
    planned = Notification.objects.exclude(kind=Kind.COURSE_BOOKED)
    assert planned.count() == 3 * 8
    assert _rows(kind__in=[Kind.FIRST_SESSION, Kind.DAY_BEFORE, Kind.SAME_DAY]) == set().union(
        *(_expected_plan(sessions[0], sessions[1]) for sessions in booked)
    )


# --- send window -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (_local(MON, 7, 59), _local(MON, 8)),
        (_local(MON, 8), _local(MON, 8)),
        (_local(MON, 17), _local(MON, 17)),
        (_local(MON, 20, 59), _local(MON, 20, 59)),
        (_local(MON, 21), _local(TUE, 8)),
        (_local(MON, 23, 30), _local(TUE, 8)),
        (_local(TUE, 0, 15), _local(TUE, 8)),
    ],
)
def test_within_window(clinic: Any, local: dt.datetime, expected: dt.datetime) -> None:
    moved = services.within_window(local.astimezone(dt.UTC), clinic, ReminderPolicy())
    assert moved == expected
    assert moved.utcoffset() is not None


def test_a_later_window_moves_the_day_before_reminder_and_suppresses_same_day(
    sessions: list[Session], frozen_now: Any, clinic: Any
) -> None:
    services.policy_update(clinic, window_start=dt.time(18), window_end=dt.time(21))
    frozen_now.move_to(_local(SUN, 10))
    services.plan_reminders()
    first, second = sessions[0], sessions[1]
    day_before = Notification.objects.filter(session=second, kind=Kind.DAY_BEFORE)
    assert {(n.channel, n.scheduled_for, n.status) for n in day_before} == {
        (channel, _local(MON, 18), Status.PENDING) for channel in BOTH
    }
    # A same-day reminder is due at 07:30; the window opens at 18:00, after the session.
    same_day = Notification.objects.filter(kind=Kind.SAME_DAY)
    assert {(n.session_id, n.status, n.reason) for n in same_day} == {
        (first.pk, Status.SUPPRESSED, WINDOW_AFTER_START),
        (second.pk, Status.SUPPRESSED, WINDOW_AFTER_START),
    }
    # ... and a suppressed row is never claimed
    frozen_now.move_to(_local(TUE, 18, 30))
    assert all(not services.claim(n.pk) for n in same_day)


# Spring forward: Sunday 14 March 2027 (EST -> EDT); fall back: Sunday 1 November 2026.
@pytest.mark.parametrize(
    ("monday", "day_before_utc", "same_day_utc"),
    [
        (
            dt.date(2027, 3, 15),
            dt.datetime(2027, 3, 14, 21, 0, tzinfo=dt.UTC),  # 17:00 EDT (UTC-4)
            dt.datetime(2027, 3, 15, 12, 0, tzinfo=dt.UTC),  # 08:00 EDT
        ),
        (
            dt.date(2026, 11, 2),
            dt.datetime(2026, 11, 1, 22, 0, tzinfo=dt.UTC),  # 17:00 EST (UTC-5)
            dt.datetime(2026, 11, 2, 13, 0, tzinfo=dt.UTC),  # 08:00 EST
        ),
    ],
    ids=["spring-forward", "fall-back"],
)
def test_day_before_reminder_fires_at_17_new_york_time_across_dst(
    make_course: Callable[..., Any],
    chairs: list[Any],
    monday: dt.date,
    day_before_utc: dt.datetime,
    same_day_utc: dt.datetime,
) -> None:
    friday = monday - dt.timedelta(days=3)
    course = make_course(start=friday)
    for day in (friday, monday):  # the Friday session makes Monday's the second
        start = _local(day, 9, 30)
        Session.objects.create(
            course=course,
            patient=course.patient,
            chair=chairs[0],
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=40),
            kind="treatment",
            phase=1,
        )
    sunday_morning = _local(monday - dt.timedelta(days=1), 10)
    services.plan_reminders(now=sunday_morning)
    rows = {(n.kind, n.channel): n.scheduled_for for n in Notification.objects.all()}
    assert rows == {
        **{(Kind.DAY_BEFORE, channel): day_before_utc for channel in BOTH},
        **{(Kind.SAME_DAY, channel): same_day_utc for channel in BOTH},
    }
    assert day_before_utc.astimezone(NEW_YORK).time() == dt.time(17)


def test_the_window_opens_at_08_new_york_time_on_the_dst_sunday(clinic: Any) -> None:
    policy = ReminderPolicy()
    late_saturday = dt.datetime(2027, 3, 14, 3, 30, tzinfo=dt.UTC)  # Sat 22:30 EST
    assert services.within_window(late_saturday, clinic, policy) == dt.datetime(
        2027, 3, 14, 12, 0, tzinfo=dt.UTC
    )  # Sunday 08:00 EDT
    late_saturday = dt.datetime(2026, 11, 1, 2, 30, tzinfo=dt.UTC)  # Sat 22:30 EDT
    assert services.within_window(late_saturday, clinic, policy) == dt.datetime(
        2026, 11, 1, 13, 0, tzinfo=dt.UTC
    )  # Sunday 08:00 EST


def test_a_row_due_but_sent_at_night_waits_for_the_window(
    sessions: list[Session], frozen_now: Any, outbox: list[Outgoing]
) -> None:
    # A backlog after an outage (or a retry pushed past 21:00): due since 17:00 Sunday,
    # the worker gets to it at 23:30.
    Notification.objects.all().delete()
    day_before = _notification(sessions[1], Kind.DAY_BEFORE, scheduled_for=_local(SUN, 17))
    moved = _notification(sessions[1], Kind.SESSION_MOVED, scheduled_for=_local(SUN, 17))
    frozen_now.move_to(_local(SUN, 23, 30))
    assert services.send(day_before.pk) == Status.PENDING
    assert services.send(moved.pk) == Status.PENDING  # changes too: nobody is texted at night
    for row in (day_before, moved):
        row.refresh_from_db()
        assert (row.status, row.scheduled_for, row.attempts) == (
            Status.PENDING,
            _local(MON, 8),
            0,
        )
    assert services.send(day_before.pk) == "not_claimed"  # not due before 08:00
    assert outbox == []
    frozen_now.move_to(_local(MON, 8))
    assert services.send(day_before.pk) == Status.SENT
    assert services.send(moved.pk) == Status.SENT


def test_a_reminder_whose_window_opens_after_the_session_is_suppressed_when_sent(
    sessions: list[Session], frozen_now: Any, clinic: Any, outbox: list[Outgoing]
) -> None:
    services.policy_update(clinic, window_start=dt.time(10), window_end=dt.time(21))
    Notification.objects.all().delete()
    same_day = _notification(sessions[0], Kind.SAME_DAY, scheduled_for=_local(MON, 7, 30))
    frozen_now.move_to(_local(MON, 7, 45))  # the session is at 09:30, the window opens at 10
    assert services.send(same_day.pk) == Status.SUPPRESSED
    assert _status(same_day) == (Status.SUPPRESSED, WINDOW_AFTER_START)
    assert outbox == []


# --- frequency caps --------------------------------------------------------------------


def test_second_routine_sms_the_same_day_is_capped_but_a_change_still_goes(
    sessions: list[Session], outbox: list[Outgoing]
) -> None:
    Notification.objects.all().delete()
    first = _notification(sessions[0], Kind.DAY_BEFORE)
    second = _notification(sessions[1], Kind.DAY_BEFORE)
    moved = _notification(sessions[2], Kind.SESSION_MOVED)
    email = _notification(sessions[1], Kind.DAY_BEFORE, Channel.EMAIL)

    assert services.send(first.pk) == Status.SENT
    assert services.send(second.pk) == Status.SUPPRESSED
    assert _status(second) == (Status.SUPPRESSED, "frequency cap reached")
    assert services.send(moved.pk) == Status.SENT
    assert services.send(email.pk) == Status.SENT  # the SMS cap does not touch email
    assert [m.idempotency_key for m in outbox] == [
        first.idempotency_key,
        moved.idempotency_key,
        email.idempotency_key,
    ]


def test_sms_cap_of_three_a_week_restarts_on_monday(
    sessions: list[Session], frozen_now: Any, outbox: list[Outgoing]
) -> None:
    Notification.objects.all().delete()

    def send_on(day: dt.date, kind: str = Kind.SAME_DAY, session: int = 5) -> str:
        frozen_now.move_to(_local(day, 8))
        return services.send(_notification(sessions[session], kind).pk)

    monday = dt.date(2026, 11, 23)
    assert [send_on(monday + dt.timedelta(days=n)) for n in range(3)] == [Status.SENT] * 3
    assert send_on(dt.date(2026, 11, 26)) == Status.SUPPRESSED  # Thursday: the 4th
    assert send_on(dt.date(2026, 11, 26), Kind.SESSION_MOVED) == Status.SENT
    assert send_on(dt.date(2026, 11, 27)) == Status.SUPPRESSED
    assert send_on(dt.date(2026, 11, 30)) == Status.SENT  # a new week
    assert len(outbox) == 5


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_respect_the_daily_cap(
    book: Callable[..., list[Session]], monkeypatch: Any
) -> None:
    booked = book(email=False)
    Notification.objects.all().delete()
    rows = [_notification(booked[n], Kind.DAY_BEFORE) for n in (0, 1)]
    together = threading.Barrier(2, timeout=3)
    sent: list[str] = []

    class SlowProvider:
        def send(self, message: Outgoing) -> str:
            with contextlib.suppress(threading.BrokenBarrierError):
                together.wait()  # both inside the provider call at once, if both got here
            sent.append(message.idempotency_key)
            return f"slow-{len(sent)}"

    provider = SlowProvider()
    monkeypatch.setattr(dispatch, "transport_for", lambda channel: provider)
    ids = iter([rows[0].pk, rows[1].pk])
    lock = threading.Lock()

    def send_next() -> str:
        with lock:
            notification_id = next(ids)
        return services.send(notification_id)

    assert sorted(_in_threads(2, send_next)) == sorted([Status.SENT, Status.SUPPRESSED])
    assert len(sent) == 1


# --- changes to sessions ---------------------------------------------------------------


def _planned(sessions: list[Session], frozen_now: Any) -> None:
    frozen_now.move_to(_local(SUN, 10))
    services.plan_reminders()


def _assert_move_announced(session: Session, *, at: dt.datetime) -> None:
    """The moved session's old reminders are cancelled and the move is due at ``at``."""
    old = Notification.objects.filter(session=session).exclude(kind=Kind.SESSION_MOVED)
    assert {(n.kind, n.status, n.reason) for n in old} == {
        (Kind.DAY_BEFORE, Status.CANCELLED, "session changed"),
        (Kind.SAME_DAY, Status.CANCELLED, "session changed"),
    }
    assert _rows(session=session, kind=Kind.SESSION_MOVED) == {
        (session.pk, Kind.SESSION_MOVED, channel, at, Status.PENDING) for channel in BOTH
    }


def test_moving_a_session_cancels_its_reminders_and_announces_the_move(
    sessions: list[Session], frozen_now: Any, outbox: list[Outgoing]
) -> None:
    _planned(sessions, frozen_now)
    first, second = sessions[0], sessions[1]
    untouched = _rows(session=first)
    new_start = _local(TUE, 11)

    scheduling.session_move(second, starts_at=new_start)
    frozen_now.move_to(_local(SUN, 12))  # the horizon now reaches Tuesday 11:00

    _assert_move_announced(second, at=_local(SUN, 10))
    assert _rows(session=first) == untouched

    # the next planning run writes the reminders of the new time
    services.plan_reminders()
    assert _rows(session=second, status=Status.PENDING) == {
        row
        for channel in BOTH
        for row in (
            (second.pk, Kind.SESSION_MOVED, channel, _local(SUN, 10), Status.PENDING),
            (second.pk, Kind.DAY_BEFORE, channel, _local(MON, 17), Status.PENDING),
            (second.pk, Kind.SAME_DAY, channel, _local(TUE, 9), Status.PENDING),
        )
    }
    announcement = Notification.objects.get(
        session=second, kind=Kind.SESSION_MOVED, channel=Channel.SMS
    )
    assert services.send(announcement.pk) == Status.SENT
    assert "11:00 AM" in outbox[0].body


def test_a_closure_moving_a_session_of_a_course_under_way_announces_the_move(
    sessions: list[Session], frozen_now: Any
) -> None:
    _planned(sessions, frozen_now)
    first, second = sessions[0], sessions[1]
    Session.objects.filter(pk=first.pk).update(status=SessionStatus.COMPLETED)
    clinic = first.chair.clinic
    Closure.objects.create(clinic=clinic, date=TUE, reason="Power work")

    (moved,) = scheduling.closure_rebook(clinic, TUE)
    assert moved.pk == second.pk and moved.starts_at.date() > TUE
    _assert_move_announced(second, at=_local(SUN, 10))


def test_a_closure_replanning_a_course_not_begun_sends_its_new_first_visit(
    sessions: list[Session], frozen_now: Any
) -> None:
    _planned(sessions, frozen_now)
    old_ids = [session.pk for session in sessions]
    told = Notification.objects.filter(session_id__in=old_ids)
    before = {n.pk: (n.kind, n.channel, n.status) for n in told}
    assert {kind for kind, _, _ in before.values()} == {
        Kind.COURSE_BOOKED,
        Kind.FIRST_SESSION,
        Kind.DAY_BEFORE,
        Kind.SAME_DAY,
    }
    clinic = sessions[0].chair.clinic
    Closure.objects.create(clinic=clinic, date=TUE, reason="Power work")

    replanned = sorted(scheduling.closure_rebook(clinic, TUE), key=lambda s: s.starts_at)
    assert not Session.objects.filter(pk__in=old_ids).exists()
    # What the patient was told stays on record, detached from the deleted sessions;
    # nothing still pending about them will go.
    kept = Notification.objects.filter(pk__in=before)
    assert {n.pk: (n.kind, n.channel, n.status) for n in kept} == {
        pk: (kind, channel, Status.CANCELLED) for pk, (kind, channel, _) in before.items()
    }
    assert {(n.session_id, n.reason) for n in kept} == {(None, "course planned again")}
    # The new plan is announced with its first visit, Monday at 09:30 as before.
    assert replanned[0].starts_at == _local(MON, 9, 30)
    assert _rows(kind=Kind.COURSE_BOOKED, status=Status.PENDING) == {
        (replanned[0].pk, Kind.COURSE_BOOKED, channel, _local(SUN, 10), Status.PENDING)
        for channel in BOTH
    }


def test_moving_twice_keeps_only_the_latest_announcement(
    sessions: list[Session], frozen_now: Any
) -> None:
    _planned(sessions, frozen_now)
    second = sessions[1]
    scheduling.session_move(second, starts_at=_local(TUE, 11))
    scheduling.session_move(second, starts_at=_local(TUE, 13))
    announcements = Notification.objects.filter(session=second, kind=Kind.SESSION_MOVED)
    assert {(n.channel, n.status) for n in announcements} == {
        (Channel.SMS, Status.CANCELLED),
        (Channel.EMAIL, Status.CANCELLED),
        (Channel.SMS, Status.PENDING),
        (Channel.EMAIL, Status.PENDING),
    }


def test_a_session_moved_back_to_its_old_time_gets_its_reminders_again(
    sessions: list[Session], frozen_now: Any
) -> None:
    _planned(sessions, frozen_now)
    second = sessions[1]
    scheduling.session_move(second, starts_at=_local(TUE, 11))
    scheduling.session_move(second, starts_at=_local(TUE, 9, 30))
    services.plan_reminders()
    pending = Notification.objects.filter(session=second, status=Status.PENDING)
    assert {(n.kind, n.channel) for n in pending.exclude(kind=Kind.SESSION_MOVED)} == {
        (kind, channel) for kind in (Kind.DAY_BEFORE, Kind.SAME_DAY) for channel in BOTH
    }


def test_moving_back_and_forth_announces_every_move(
    sessions: list[Session], frozen_now: Any
) -> None:
    _planned(sessions, frozen_now)
    second = sessions[1]
    for start in (_local(TUE, 11), _local(TUE, 13), _local(TUE, 11)):
        scheduling.session_move(second, starts_at=start)
    latest = Notification.objects.filter(
        session=second, kind=Kind.SESSION_MOVED, status=Status.PENDING
    )
    # the patient must learn that the session is at 11:00 again
    assert latest.count() == 2


def test_a_chair_change_alone_leaves_the_session_with_its_reminders(
    sessions: list[Session], frozen_now: Any, chairs: list[Any]
) -> None:
    _planned(sessions, frozen_now)
    second = sessions[1]
    other = next(chair for chair in chairs if chair.pk != second.chair_id)
    scheduling.session_move(second, chair=other)
    services.plan_reminders()
    pending = Notification.objects.filter(session=second, status=Status.PENDING)
    assert {(n.kind, n.channel) for n in pending.exclude(kind=Kind.SESSION_MOVED)} == {
        (kind, channel) for kind in (Kind.DAY_BEFORE, Kind.SAME_DAY) for channel in BOTH
    }


def test_cancelling_a_session_cancels_its_pending_reminders(
    sessions: list[Session], frozen_now: Any
) -> None:
    _planned(sessions, frozen_now)
    first, second = sessions[0], sessions[1]
    untouched = _rows(session=first)
    scheduling.session_cancel(second, reason="patient asked")
    assert {(n.kind, n.status, n.reason) for n in Notification.objects.filter(session=second)} == {
        (Kind.DAY_BEFORE, Status.CANCELLED, "session changed"),
        (Kind.SAME_DAY, Status.CANCELLED, "session changed"),
        (Kind.SESSION_CANCELLED, Status.PENDING, ""),  # staff cancelled: the patient is told
    }
    assert _rows(session=first) == untouched
    frozen_now.move_to(_local(MON, 17))
    services.plan_reminders()  # a cancelled session is not planned again
    assert not Notification.objects.filter(
        session=second, status=Status.PENDING, kind__in=[Kind.DAY_BEFORE, Kind.SAME_DAY]
    ).exists()


@pytest.mark.parametrize(
    ("marked_at", "scheduled_for"),
    [(_local(MON, 11), _local(MON, 11)), (_local(MON, 21, 30), _local(TUE, 8))],
)
def test_marking_a_session_missed_writes_a_followup(
    sessions: list[Session],
    frozen_now: Any,
    outbox: list[Outgoing],
    marked_at: dt.datetime,
    scheduled_for: dt.datetime,
) -> None:
    first = sessions[0]
    frozen_now.move_to(marked_at)
    scheduling.session_mark_missed(first)
    assert _rows(kind=Kind.MISSED_FOLLOWUP) == {
        (first.pk, Kind.MISSED_FOLLOWUP, channel, scheduled_for, Status.PENDING) for channel in BOTH
    }
    scheduling.sweep_missed_sessions()  # the sweeper does not write it again
    assert Notification.objects.filter(kind=Kind.MISSED_FOLLOWUP).count() == 2
    frozen_now.move_to(scheduled_for)
    followup = Notification.objects.get(kind=Kind.MISSED_FOLLOWUP, channel=Channel.SMS)
    assert services.send(followup.pk) == Status.SENT  # the session is past: still goes
    assert "Mon Nov 30" in outbox[0].body


def test_a_missed_visit_made_up_is_told_its_new_time_and_not_asked_to_call(
    sessions: list[Session], frozen_now: Any, outbox: list[Outgoing]
) -> None:
    """The make-up booked for a missed visit is announced with its date and time, even
    past the day's cap (a change, not a routine reminder); the missed-visit text then
    does not ask the patient to call to rebook."""
    first = sessions[0]
    frozen_now.move_to(_local(MON, 11))
    routine = _notification(sessions[2], Kind.DAY_BEFORE)
    assert services.send(routine.pk) == Status.SENT  # the day's one routine SMS
    scheduling.session_mark_missed(first)
    makeup = Session.objects.get(makeup_for=first)
    announced = Notification.objects.get(
        kind=Kind.MAKEUP_BOOKED, channel=Channel.SMS, session=makeup
    )
    assert Notification.objects.filter(kind=Kind.MAKEUP_BOOKED).count() == 2  # SMS, email
    assert services.send(announced.pk) == Status.SENT  # not held back by the cap
    local = makeup.starts_at.astimezone(NEW_YORK)
    when = f"{content.human_date(local.date())} at {content.human_time(local.time())}"
    assert when in outbox[-1].body
    missed = Notification.objects.get(kind=Kind.MISSED_FOLLOWUP, channel=Channel.EMAIL)
    assert services.send(missed.pk) == Status.SENT
    assert "We booked a visit to make up for it." in outbox[-1].body
    assert "to rebook" not in outbox[-1].body


def test_a_missed_visit_without_a_make_up_asks_the_patient_to_call(
    sessions: list[Session], frozen_now: Any, outbox: list[Outgoing]
) -> None:
    first = sessions[0]
    Clinic.objects.filter(pk=first.chair.clinic_id).update(auto_makeup=False)
    frozen_now.move_to(_local(MON, 11))
    scheduling.session_mark_missed(first)
    assert not Notification.objects.filter(kind=Kind.MAKEUP_BOOKED).exists()
    missed = Notification.objects.get(kind=Kind.MISSED_FOLLOWUP, channel=Channel.SMS)
    assert services.send(missed.pk) == Status.SENT
    assert "to rebook" in outbox[-1].body


# --- claims and leases -----------------------------------------------------------------


@pytest.fixture
def row(sessions: list[Session]) -> Any:
    Notification.objects.all().delete()
    return _notification(sessions[1], Kind.DAY_BEFORE)


def test_claim_twice_only_the_first_wins(row: Notification) -> None:
    assert services.claim(row.pk) is not None
    assert services.claim(row.pk) is None
    row.refresh_from_db()
    assert row.status == Status.SENDING
    assert row.lease_expires_at == NOW + dt.timedelta(seconds=settings.NOTIFICATION_LEASE_SECONDS)


def test_a_row_not_due_yet_is_not_claimed(sessions: list[Session]) -> None:
    later = _notification(sessions[1], Kind.DAY_BEFORE, scheduled_for=NOW + dt.timedelta(hours=1))
    assert services.claim(later.pk) is None
    assert services.due_ids() == [n.pk for n in Notification.objects.filter(scheduled_for=NOW)]


def test_an_expired_lease_goes_back_to_pending(
    row: Notification, sessions: list[Session], frozen_now: Any
) -> None:
    assert services.claim(row.pk)
    lease = dt.timedelta(seconds=settings.NOTIFICATION_LEASE_SECONDS)
    frozen_now.move_to(NOW + lease - dt.timedelta(seconds=1))
    fresh = _notification(sessions[2], Kind.DAY_BEFORE)
    assert services.claim(fresh.pk)
    assert services.release_expired_leases() == 0  # not expired yet

    frozen_now.move_to(NOW + lease + dt.timedelta(seconds=1))
    assert services.release_expired_leases() == 1
    row.refresh_from_db()
    assert (row.status, row.lease_expires_at) == (Status.PENDING, None)
    assert _status(fresh)[0] == Status.SENDING  # its lease runs a while longer
    assert services.due_ids() == [row.pk]
    assert services.send(row.pk) == Status.SENT


def test_a_result_is_stored_only_while_the_row_is_still_sending(
    row: Notification, monkeypatch: Any
) -> None:
    class OtherWorkerFinishes:
        """While this worker talks to the provider, another one finishes the row."""

        def send(self, message: Outgoing) -> str:
            Notification.objects.filter(pk=row.pk).update(
                status=Status.SENT,
                provider_message_id="other-worker",
                sent_at=timezone.now(),
                lease_expires_at=None,
                body="sent by the other worker",
            )
            return "late"

    monkeypatch.setattr(dispatch, "transport_for", lambda channel: OtherWorkerFinishes())
    services.send(row.pk)
    row.refresh_from_db()
    assert (row.status, row.provider_message_id, row.body) == (
        Status.SENT,
        "other-worker",
        "sent by the other worker",
    )


def test_a_worker_whose_lease_ran_out_leaves_the_new_holder_alone(
    row: Notification, monkeypatch: Any
) -> None:
    later = NOW + dt.timedelta(seconds=settings.NOTIFICATION_LEASE_SECONDS + 60)

    class SlowThenFails:
        def send(self, message: Outgoing) -> str:
            # meanwhile the lease runs out, the sweeper returns the row, B claims it
            assert services.release_expired_leases(now=later) == 1
            assert services.claim(row.pk, now=later)
            raise TransientError("twilio unreachable: ReadTimeout")

    monkeypatch.setattr(dispatch, "transport_for", lambda channel: SlowThenFails())
    services.send(row.pk)
    row.refresh_from_db()
    assert row.status == Status.SENDING
    assert row.lease_expires_at == later + dt.timedelta(seconds=settings.NOTIFICATION_LEASE_SECONDS)


# --- send() ----------------------------------------------------------------------------


def test_a_reminder_whose_session_was_cancelled_meanwhile_is_not_sent(
    row: Notification, outbox: list[Outgoing]
) -> None:
    Session.objects.filter(pk=row.session_id).update(status=SessionStatus.CANCELLED)
    assert services.send(row.pk) == Status.CANCELLED
    assert _status(row) == (Status.CANCELLED, "session no longer upcoming")
    assert outbox == []


def test_a_reminder_of_a_session_cancelled_through_the_service_is_never_claimed(
    row: Notification, outbox: list[Outgoing]
) -> None:
    scheduling.session_cancel(Session.objects.get(pk=row.session_id))
    assert services.send(row.pk) == "not_claimed"
    assert _status(row) == (Status.CANCELLED, "session changed")
    assert outbox == []


def test_a_reminder_of_a_session_already_under_way_is_not_sent(
    row: Notification, frozen_now: Any, outbox: list[Outgoing]
) -> None:
    frozen_now.move_to(_local(TUE, 9, 35))
    assert services.send(row.pk) == Status.CANCELLED
    assert outbox == []


@pytest.mark.parametrize("change", [{"sms_consent": False}, {"phone": ""}])
def test_no_consent_or_no_number_is_suppressed(
    row: Notification, outbox: list[Outgoing], change: dict[str, Any]
) -> None:
    Patient.objects.filter(pk=row.patient_id).update(**change)
    assert services.send(row.pk) == Status.SUPPRESSED
    assert _status(row) == (Status.SUPPRESSED, "no consent or no contact")
    assert outbox == []


def test_the_message_goes_to_the_transport_and_its_body_is_stored(
    row: Notification, outbox: list[Outgoing]
) -> None:
    patient = Patient.objects.get(pk=row.patient_id)
    assert services.send(row.pk) == Status.SENT
    [message] = outbox
    row.refresh_from_db()
    assert message.to == patient.phone
    assert message.idempotency_key == row.idempotency_key
    assert row.body == message.body
    assert (row.status, row.provider_message_id, row.attempts) == (Status.SENT, "locmem-1", 1)
    assert row.sent_at == NOW and row.lease_expires_at is None
    assert message.body.startswith(f"Hi {patient.first_name},")
    assert row.clinic.display_name in message.body
    assert "Tue Dec 1 at 9:30 AM" in message.body
    assert patient.last_name not in message.body
    for word in ("TMS", "depress", "psychiatr", "rTMS", "magnetic"):
        assert word.lower() not in message.body.lower()
    assert len(message.body) <= 160 and set(message.body) <= GSM7
    assert services.send(row.pk) == "not_claimed"  # a second delivery of the task
    assert len(outbox) == 1


def test_a_transient_failure_goes_back_to_pending_with_a_backoff(
    row: Notification, monkeypatch: Any
) -> None:
    class Down:
        def send(self, message: Outgoing) -> str:
            raise TransientError("twilio error: 503")

    monkeypatch.setattr(dispatch, "transport_for", lambda channel: Down())
    assert services.send(row.pk) == Status.PENDING
    row.refresh_from_db()
    assert (row.status, row.attempts, row.lease_expires_at) == (Status.PENDING, 1, None)
    assert NOW + dt.timedelta(seconds=24) <= row.scheduled_for <= NOW + dt.timedelta(seconds=36)
    assert row.pk not in services.due_ids()


# --- Celery tasks carry ids only -------------------------------------------------------


def test_send_notification_takes_only_an_id(row: Notification) -> None:
    assert list(inspect.signature(tasks.send_notification.run).parameters) == ["notification_id"]
    assert tasks.send_notification.apply(args=(row.pk,)).get() == Status.SENT


def test_send_batch_takes_only_ids(row: Notification) -> None:
    assert list(inspect.signature(tasks.send_batch.run).parameters) == ["notification_ids"]
    assert tasks.send_batch.apply(args=([row.pk, row.pk + 1000],)).get() == {
        Status.SENT: 1,
        "not_claimed": 1,
    }


def test_dispatch_due_enqueues_batches_of_ids_only(
    sessions: list[Session], frozen_now: Any, monkeypatch: Any, settings: Any
) -> None:
    Notification.objects.all().delete()
    due = [_notification(s, Kind.DAY_BEFORE) for s in sessions[1:4]]
    _notification(sessions[4], Kind.DAY_BEFORE, scheduled_for=NOW + dt.timedelta(hours=1))
    stuck = _notification(sessions[5], Kind.SAME_DAY, scheduled_for=NOW - dt.timedelta(hours=1))
    assert services.claim(stuck.pk, now=NOW - dt.timedelta(hours=1))  # its worker died

    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    class Recorder:
        @staticmethod
        def apply_async(args: tuple[Any, ...], **kwargs: Any) -> None:
            calls.append((args, kwargs))

    monkeypatch.setattr(tasks, "send_batch", Recorder)
    settings.NOTIFICATION_BATCH_SIZE = 3
    assert tasks.dispatch_due() == 4
    assert [len(ids) for (ids,), _ in calls] == [3, 1]  # batches of at most 3
    assert sorted(pk for (ids,), _ in calls for pk in ids) == sorted(n.pk for n in [stuck, *due])
    assert all(type(pk) is int for (ids,), _ in calls for pk in ids)
    patient = Patient.objects.get(pk=sessions[0].patient_id)
    wire = json.dumps(calls)
    for private in (patient.first_name, patient.last_name, patient.phone, patient.email):
        assert private not in wire
