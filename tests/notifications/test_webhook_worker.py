"""Webhooks end to end, with a real Celery worker process, the real Redis and a local
HTTP receiver that verifies each request with the recipe of docs/webhooks.md (the code
is taken from the document and run as written; a request it refuses is answered 400):

- every event type the services raise is delivered, each event once, with a valid
  signature;
- an event answered 500 is sent again, and accepted on the retry;
- after the endpoint is disabled through the API, nothing is sent: neither the
  deliveries still waiting in the database nor those already queued on the broker.

The events are made with the clock in the past (the course's first week); the worker
runs on the real clock, so the signatures' timestamps are the real time the receiver
checks them against.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
import time_machine
from django.utils import timezone

from clinic.celery import app as celery_app
from clinic.models import Role
from courses.models import RiskLevel, TreatmentCourse
from courses.services import assessment_record
from notifications import tasks
from notifications.models import DeliveryStatus, WebhookDelivery, WebhookEvent
from scheduling import services as scheduling
from scheduling.risk import recompute_risk
from tests.celery_worker import celery_worker, forget_queue, require_redis, unique_queue
from tests.factories import MembershipFactory
from tests.webhook_receiver import WebhookReceiver, documented_verify

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

REAL_SEND = tasks.send_webhook
NOW = dt.datetime(2026, 11, 25, 17, 0, tzinfo=dt.UTC)  # a Wednesday, noon in New York
RECORD = {"pulses_delivered": 3000, "intensity_pct_mt": 120, "coil_position": "F3"}


@pytest.fixture
def queue(monkeypatch: Any, settings: Any) -> Iterator[str]:
    """The worker's environment (loopback http allowed, retries after about a second)
    and a queue of this test's own that dispatch_webhooks sends to."""
    broker = require_redis()
    settings.WEBHOOK_ALLOW_LOOPBACK_HTTP = True
    monkeypatch.setenv("WEBHOOK_ALLOW_LOOPBACK_HTTP", "true")
    monkeypatch.setenv("WEBHOOK_RETRY_BASE_SECONDS", "1")
    name = unique_queue("webhooks")

    class ToOurQueue:
        @staticmethod
        def delay(delivery_id: int) -> None:
            with celery_app.connection_for_write(broker) as connection:
                REAL_SEND.apply_async(
                    (delivery_id,), queue=name, ignore_result=True, connection=connection
                )

    monkeypatch.setattr(tasks, "send_webhook", ToOurQueue)
    yield name
    forget_queue(broker, name)


def _wait_for(
    condition: Callable[[], bool], what: str, worker: Any, timeout: float = 90, tick: float = 3
) -> None:
    """Poll ``condition``, running the dispatcher's beat tick (every minute in a
    deployment) every ``tick`` seconds."""
    deadline = time.monotonic() + timeout
    next_tick = time.monotonic()
    while not condition():
        if worker.poll() is not None:
            pytest.fail(f"the worker exited ({worker.returncode}) while waiting for {what}")
        if time.monotonic() > deadline:
            statuses = Counter(WebhookDelivery.objects.values_list("status", flat=True))
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}: {statuses}")
        if time.monotonic() >= next_tick:
            tasks.dispatch_webhooks()
            next_tick = time.monotonic() + tick
        time.sleep(0.1)


def _every_event(make_course: Callable[..., Any], clinic: Any, psychiatrist: Any) -> None:
    """Each event type, from the services that make the changes."""
    with time_machine.travel(NOW, tick=False) as clock:
        course = make_course()
        booked = sorted(scheduling.course_schedule(course), key=lambda s: s.starts_at)
        scheduling.session_move(booked[1], starts_at=booked[1].starts_at + dt.timedelta(hours=2))
        scheduling.session_cancel(booked[2], reason="")
        technician = MembershipFactory(clinic=clinic, role=Role.TECHNICIAN).user
        clock.move_to(booked[0].starts_at + dt.timedelta(minutes=5))
        scheduling.session_check_in(booked[0], by=technician)  # the course starts
        scheduling.session_complete(booked[0], technician=technician, **RECORD)
        clock.move_to(booked[3].starts_at + dt.timedelta(minutes=5))
        scheduling.session_mark_missed(booked[3])
        assessment_record(
            course, instrument="gad7", score=9, administered_on=NOW.date(), by=psychiatrist
        )
        TreatmentCourse.objects.filter(pk=course.pk).update(risk_level=RiskLevel.AT_RISK)
        recompute_risk([course.pk])
    _due_now()


def _queued(queue: str) -> int:
    return int(redis.Redis.from_url(require_redis()).llen(queue))


def _due_now() -> None:
    """Deliveries written on the test's clock are due at once on the worker's (the real
    clock, which may be before or after the test's)."""
    WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).update(
        scheduled_for=timezone.now()
    )


def test_every_event_once_signed_retried_and_nothing_after_disabling(
    clinic: Any,
    make_course: Callable[..., Any],
    chairs: Any,
    psychiatrist: Any,
    queue: str,
    api: Any,
) -> None:
    verify = documented_verify()
    secret: list[str] = []
    receiver = WebhookReceiver(
        check=lambda headers, body: verify(secret[0], headers["cadence-signature"], body)
    )
    admin = MembershipFactory(clinic=clinic, role=Role.CLINIC_ADMIN).user
    with receiver:
        created = api(admin).post(
            "/api/v1/webhook-endpoints/",
            {"clinic": clinic.pk, "url": receiver.url, "events": WebhookEvent.values},
            format="json",
        )
        assert created.status_code == 201, created.content
        endpoint_id, secret[:] = created.json()["id"], [created.json()["secret"]]

        _every_event(make_course, clinic, psychiatrist)
        rows = WebhookDelivery.objects.filter(endpoint_id=endpoint_id)
        assert set(rows.values_list("event", flat=True)) == set(WebhookEvent.values)
        expected = {str(event_id) for event_id in rows.values_list("event_id", flat=True)}
        receiver.answers.append(500)  # the first request fails; it is sent again

        with celery_worker(queue) as worker:
            _wait_for(
                lambda: not rows.exclude(status=DeliveryStatus.SENT).exists(),
                "every delivery to be sent",
                worker,
            )
            # Ids the dispatcher queued again before the worker got to them: taken, and
            # not sent again (the claim), below.
            _wait_for(lambda: _queued(queue) == 0, "the queue to drain", worker, tick=3600)

        accepted = Counter(r.headers["cadence-event-id"] for r in receiver.accepted())
        assert set(accepted) == expected
        assert set(accepted.values()) == {1}, "an event was accepted twice"
        assert [r.answered for r in receiver.received].count(400) == 0  # all signed right
        assert len(receiver.received) == len(expected) + 1
        first = receiver.received[0]
        assert first.answered == 500
        retried = rows.get(event_id=first.headers["cadence-event-id"])
        assert (retried.attempts, retried.response_code) == (2, 204)
        assert {json.loads(r.body)["type"] for r in receiver.accepted()} == set(WebhookEvent.values)

        # Disabled: deliveries already on the broker, and ones waiting in the database.
        with time_machine.travel(NOW, tick=False):
            course = TreatmentCourse.objects.get()
            scheduled = course.sessions.filter(status="scheduled").order_by("starts_at")
            for session in list(scheduled[:3]):
                scheduling.session_cancel(session, reason="")
        _due_now()
        queued = rows.filter(status=DeliveryStatus.PENDING).count()
        assert queued >= 3
        assert tasks.dispatch_webhooks() == queued  # on the broker; no worker yet
        assert _queued(queue) == queued
        with time_machine.travel(NOW, tick=False):
            scheduling.session_cancel(scheduled.last(), reason="")
        _due_now()
        waiting = rows.filter(status=DeliveryStatus.PENDING).count()
        assert waiting > queued
        disabled = api(admin).patch(
            f"/api/v1/webhook-endpoints/{endpoint_id}/", {"active": False}, format="json"
        )
        assert disabled.status_code == 200 and disabled.json()["active"] is False
        sent_before = len(receiver.received)
        with celery_worker(queue) as worker:
            _wait_for(lambda: _queued(queue) == 0, "the queued deliveries to be taken", worker)
        # The worker stopped warm: what it had taken, it finished (and sent nothing).
        assert len(receiver.received) == sent_before
        cancelled = rows.filter(status=DeliveryStatus.CANCELLED)
        assert cancelled.count() == waiting
        assert set(cancelled.values_list("last_error", flat=True)) == {"endpoint disabled"}
        assert not rows.filter(status__in=["pending", "sending"]).exists()
