"""The relapse watch's links in the outbox: planned by the reminders' beat task at the
right clinic-local time (across DST) inside the send window, on the channels the
patient agreed to only, sent with the short signed link, held by the caps, and not
sent once the questionnaire is answered or its channel withdrawn."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from clinic.services import patient_save
from courses import relapse as watch
from notifications import services, tasks
from notifications.models import Channel, Kind, Notification, Status
from notifications.services.watch_checkins import checkin_key
from notifications.transports import LocmemTransport, Outgoing, reset_transports
from tests.relapse.conftest import answers

pytestmark = pytest.mark.django_db

LOCMEM = "notifications.transports.LocmemTransport"
BASE = "https://cadence.example.org"
LINK = re.compile(re.escape(BASE) + r"/p/q/([0-9a-z]+[A-Za-z0-9_-]{10})(?=\s|$)")


@pytest.fixture(autouse=True)
def outbox(settings: Any) -> Iterator[list[Outgoing]]:
    settings.NOTIFICATION_TRANSPORTS = {"sms": LOCMEM, "email": LOCMEM}
    settings.PUBLIC_BASE_URL = BASE
    LocmemTransport.outbox.clear()
    reset_transports()
    yield LocmemTransport.outbox
    LocmemTransport.outbox.clear()
    reset_transports()


def _at(moment: dt.datetime) -> Any:
    return time_machine.travel(moment, tick=False)


def _local(day: dt.date, hour: int, minute: int = 0, tz: Any = None) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=tz)


def _rows(**filters: Any) -> Any:
    return Notification.objects.filter(kind=Kind.WATCH_CHECKIN, **filters)


def test_the_beat_task_plans_each_link_at_10_on_its_day_once(
    clinic: Any, complete_course: Callable[..., Any]
) -> None:
    course = complete_course(preferred_channel="both")
    first, second = course.relapse_watch.points.all()[:2]
    # Two days before: outside the 48-hour horizon, nothing yet.
    with _at(_local(first.due_on - dt.timedelta(days=2), 9, tz=clinic.tz)):
        tasks.plan_reminders()
    assert not _rows().exists()
    with _at(_local(first.due_on - dt.timedelta(days=1), 12, tz=clinic.tz)):
        tasks.plan_reminders()
        tasks.plan_reminders()  # the beat runs often: idempotent
    rows = list(_rows().order_by("channel"))
    assert [(r.channel, r.watch_point_id, r.session_id) for r in rows] == [
        (Channel.EMAIL, first.pk, None),
        (Channel.SMS, first.pk, None),
    ]
    expected = _local(first.due_on, 10, tz=clinic.tz)
    assert {r.scheduled_for for r in rows} == {expected}
    assert {r.idempotency_key for r in rows} == {
        checkin_key(first.pk, "email"),
        checkin_key(first.pk, "sms"),
    }
    assert not _rows(watch_point=second).exists()


@pytest.mark.parametrize(
    ("ended_on", "utc_hour"),
    [
        (dt.date(2027, 2, 27), 15),  # week 2: Sat 13 March, still EST (UTC-5)
        (dt.date(2027, 2, 28), 14),  # week 2: Sun 14 March, the day DST starts (UTC-4)
        (dt.date(2027, 10, 24), 15),  # week 2: Sun 7 November, DST ended at 02:00: EST
    ],
)
def test_the_send_time_is_clinic_local_across_dst(
    clinic: Any, complete_course: Callable[..., Any], ended_on: dt.date, utc_hour: int
) -> None:
    ended = _local(ended_on, 15, tz=clinic.tz)
    point = complete_course(at=ended).relapse_watch.points.first()
    assert point.due_on == ended_on + dt.timedelta(weeks=2)
    with _at(_local(point.due_on, 0, tz=clinic.tz)):
        services.plan_watch_checkins()
    row = _rows(channel=Channel.SMS).get()
    assert row.scheduled_for.astimezone(dt.UTC).hour == utc_hour
    assert row.scheduled_for.astimezone(clinic.tz).time() == dt.time(10, 0)


def test_the_link_waits_for_the_send_window(
    clinic: Any, complete_course: Callable[..., Any]
) -> None:
    services.policy_update(clinic, window_start=dt.time(11, 30), window_end=dt.time(20, 0))
    point = complete_course().relapse_watch.points.first()
    with _at(_local(point.due_on, 6, tz=clinic.tz)):
        services.plan_watch_checkins()
    assert _rows().first().scheduled_for == _local(point.due_on, 11, 30, tz=clinic.tz)
    # Planned late at night (the beat was down): the next morning's window.
    Notification.objects.all().delete()
    with _at(_local(point.due_on, 22, tz=clinic.tz)):
        services.plan_watch_checkins()
    next_day = point.due_on + dt.timedelta(days=1)
    assert _rows().first().scheduled_for == _local(next_day, 11, 30, tz=clinic.tz)


def test_no_link_to_a_patient_who_opted_out_of_every_channel(
    clinic: Any, complete_course: Callable[..., Any]
) -> None:
    point = complete_course(sms_consent=False, email_consent=False).relapse_watch.points.first()
    with _at(_local(point.due_on, 9, tz=clinic.tz)):
        assert services.plan_watch_checkins() == 0
    assert not _rows().exists()


def test_only_the_channels_agreed_to(clinic: Any, complete_course: Callable[..., Any]) -> None:
    point = complete_course(sms_consent=False).relapse_watch.points.first()
    with _at(_local(point.due_on, 9, tz=clinic.tz)):
        services.plan_watch_checkins()
    assert list(_rows().values_list("channel", flat=True)) == [Channel.EMAIL]


def test_an_opt_out_after_planning_sends_no_link(
    clinic: Any, complete_course: Callable[..., Any], outbox: list[Outgoing]
) -> None:
    """STOP after the link was planned: the row goes to the channel left (email), and
    nothing goes by text; with no channel left, nothing goes at all."""
    course = complete_course()
    patient = course.patient
    point = course.relapse_watch.points.first()
    with _at(_local(point.due_on, 9, tz=clinic.tz)):
        services.plan_watch_checkins()
        patient_save(patient, sms_consent=False)
        assert list(_rows(status=Status.PENDING).values_list("channel", flat=True)) == [
            Channel.EMAIL
        ]
        moved = _rows(status=Status.PENDING).get()
        assert moved.watch_point_id == point.pk
        patient_save(patient, email_consent=False)
    with _at(_local(point.due_on, 10, 1, tz=clinic.tz)):
        for row in _rows():
            services.send(row.pk)
    assert outbox == []
    assert not _rows(status__in=[Status.SENT, Status.PENDING]).exists()


def test_the_text_carries_the_short_signed_link_and_names_nothing(
    clinic: Any, complete_course: Callable[..., Any], outbox: list[Outgoing]
) -> None:
    course = complete_course(sms_consent=True, email_consent=False)
    point = course.relapse_watch.points.first()
    with _at(_local(point.due_on, 9, tz=clinic.tz)):
        services.plan_watch_checkins()
    with _at(_local(point.due_on, 10, 1, tz=clinic.tz)):
        assert services.send(_rows().get().pk) == Status.SENT
    (message,) = outbox
    token = LINK.search(message.body).group(1)
    assert message.to == course.patient.phone
    assert len(message.body) <= 160 and "Reply STOP" in message.body
    for word in ["tms", "magnetic", "depression", "psychiatr", "phq", course.protocol.code]:
        assert word not in message.body.lower()
    assert course.patient.last_name not in message.body
    from notifications import links

    assert links.point_from_token(token) == point


def test_an_answered_questionnaire_sends_no_more_links(
    clinic: Any, complete_course: Callable[..., Any], outbox: list[Outgoing]
) -> None:
    point = complete_course().relapse_watch.points.first()
    with _at(_local(point.due_on, 9, tz=clinic.tz)):
        services.plan_watch_checkins()
    with _at(_local(point.due_on, 10, 1, tz=clinic.tz)):
        sms = _rows(channel=Channel.SMS).get()
        assert services.send(sms.pk) == Status.SENT
        watch.watch_answer(point, answers(2))
        email = _rows(channel=Channel.EMAIL).get()
        assert services.send(email.pk) == Status.CANCELLED
        services.plan_watch_checkins()
    assert len(outbox) == 1 and _rows().count() == 2


def test_an_expired_point_is_not_planned(clinic: Any, complete_course: Callable[..., Any]) -> None:
    point = complete_course().relapse_watch.points.first()
    with _at(_local(point.expires_on + dt.timedelta(days=1), 9, tz=clinic.tz)):
        services.plan_watch_checkins()
    assert not _rows(watch_point=point).exists()


def test_the_caps_hold(clinic: Any, complete_course: Callable[..., Any]) -> None:
    """Two texts sent today already: the day's cap (2) holds the link back."""
    course = complete_course(email_consent=False)
    point = course.relapse_watch.points.first()
    with _at(_local(point.due_on, 9, tz=clinic.tz)):
        services.plan_watch_checkins()
        for number in range(2):
            Notification.objects.create(
                clinic=clinic,
                patient=course.patient,
                channel=Channel.SMS,
                kind=Kind.DAY_BEFORE,
                status=Status.SENT,
                idempotency_key=f"earlier-{number}",
                scheduled_for=timezone.now(),
                sent_at=timezone.now(),
            )
    with _at(_local(point.due_on, 10, 1, tz=clinic.tz)):
        assert services.send(_rows().get().pk) == Status.SUPPRESSED
    assert _rows().get().reason == "frequency cap reached"
