"""Exactly once under faults, with a real Celery worker process, the real Redis and a
local fake of Twilio's Messages API: a worker killed mid-batch, Redis losing the queue
mid-batch, two dispatchers at once.

The fake provider deduplicates on the I-Twilio-Idempotency-Token header the transport
sends (a repeated token gets the first message's sid back and is not a new delivery),
so "exactly once" here means: every row's key reached the provider as one delivery, the
row ended "sent" with that delivery's sid, and the outbox recovered on its own (expired
leases returned, due rows queued again) after the fault.

Tasks go to a queue of their own (parallel runs stay apart) and carry no results. The
Redis test runs its worker on a Redis database of its own (``FLUSHED_REDIS_DB``, empty
when the test starts) and loses it with a real FLUSHDB mid-batch: everything queued,
everything delivered but unacknowledged, every binding is gone, as after a restart of a
Redis that keeps nothing on disk.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from django.db import connection
from django.db.models import Max
from django.utils import timezone

from clinic.celery import app as celery_app
from clinic.models import Role
from notifications import tasks
from notifications.models import Notification, Status
from tests.celery_worker import celery_worker, forget_queue, require_redis, unique_queue
from tests.factories import ChairFactory, ClinicFactory, MembershipFactory
from tests.sms_fakes import FakeTwilio, create_due_sms, midday_timezone

pytestmark = [
    pytest.mark.celery,
    pytest.mark.django_db(transaction=True),
]

ACCOUNT_SID = "AC" + uuid.uuid4().hex
AUTH_TOKEN = uuid.uuid4().hex
FROM_NUMBER = "+17185550199"
LEASE_SECONDS = 5
REAL_SEND = tasks.send_batch
BATCH_SIZE = 10  # small batches: many tasks queued, several in one test
FLUSHED_REDIS_DB = int(os.environ.get("CADENCE_TEST_FLUSHED_REDIS_DB", "14"))


# --- the fake provider -----------------------------------------------------------------


@pytest.fixture
def provider(monkeypatch: Any) -> Iterator[FakeTwilio]:
    """The fake provider, and the worker's environment pointing at it (set before any
    worker starts: the worker process reads it into its settings)."""
    fake = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN)
    fake.thread.start()
    for name, value in {
        "SMS_TRANSPORT": "notifications.transports.TwilioTransport",
        "EMAIL_TRANSPORT": "notifications.transports.ConsoleTransport",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": FROM_NUMBER,
        "TWILIO_BASE_URL": fake.url,
        "NOTIFICATION_LEASE_SECONDS": str(LEASE_SECONDS),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SMS_STATUS_CALLBACK_URL", raising=False)
    yield fake
    fake.stop()


@pytest.fixture
def broker(request: pytest.FixtureRequest) -> Iterator[str]:
    """The broker URL a test's worker and dispatcher use: the suite's Redis database, or,
    for a test marked ``own_redis_db``, a database of its own that the test may flush."""
    shared = require_redis()
    if request.node.get_closest_marker("own_redis_db") is None:
        yield shared
        return
    own = urlsplit(shared)._replace(path=f"/{FLUSHED_REDIS_DB}").geturl()
    client = redis.Redis.from_url(own)
    if client.dbsize():
        pytest.fail(
            f"Redis database {FLUSHED_REDIS_DB} holds data; this test flushes it. Empty it "
            "or pick another with CADENCE_TEST_FLUSHED_REDIS_DB."
        )
    yield own
    client.flushdb()


@pytest.fixture
def queue(monkeypatch: Any, broker: str, settings: Any) -> Iterator[str]:
    """A queue of this test's own on ``broker``; dispatch_due sends its batches (of
    BATCH_SIZE ids) to it. Whatever Redis still holds for it at the end is removed."""
    name = unique_queue("outbox")

    class ToOurQueue:
        @staticmethod
        def apply_async(args: tuple[Any, ...], **options: Any) -> None:
            # A connection per task: the two-dispatchers test sends from two threads,
            # and an explicit URL because CELERY_BROKER_URL in the environment would win
            # over any app setting.
            with celery_app.connection_for_write(broker) as connection_:
                REAL_SEND.apply_async(args, queue=name, ignore_result=True, connection=connection_)

    monkeypatch.setattr(tasks, "send_batch", ToOurQueue)
    settings.NOTIFICATION_BATCH_SIZE = BATCH_SIZE
    yield name
    forget_queue(broker, name)


# --- helpers ---------------------------------------------------------------------------


def _due_sms(count: int) -> list[Notification]:
    clinic = ClinicFactory(timezone=midday_timezone())
    return create_due_sms(
        count,
        clinic=clinic,
        chair=ChairFactory(clinic=clinic),
        psychiatrist=MembershipFactory(clinic=clinic, role=Role.PSYCHIATRIST).user,
    )


def _enqueue(rows: list[Notification]) -> None:
    """Queue the rows as dispatch_due does: batches, to this test's queue (``queue``)."""
    tasks.enqueue([row.pk for row in rows])


def _wait_for(
    condition: Callable[[], bool],
    what: str,
    timeout: float,
    worker: subprocess.Popen[bytes] | None = None,
    every: Callable[[], Any] | None = None,
    every_seconds: float = 3.0,
) -> None:
    """Poll ``condition``; run ``every`` (a dispatcher's tick) now and then."""
    deadline = time.monotonic() + timeout
    next_tick = time.monotonic() + every_seconds
    while not condition():
        if worker is not None and worker.poll() is not None:
            pytest.fail(f"the worker exited ({worker.returncode}) while waiting for {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        if every is not None and time.monotonic() >= next_tick:
            every()
            next_tick = time.monotonic() + every_seconds
        time.sleep(0.05)


def _all_sent(rows: list[Notification]) -> Callable[[], bool]:
    ids = [row.pk for row in rows]
    return lambda: Notification.objects.filter(pk__in=ids, status=Status.SENT).count() == len(ids)


def _dispatch() -> int:
    """One tick of the beat entry a deployment runs every minute: dispatch_due returns
    expired leases and queues what is due (to this test's queue, see ``queue``)."""
    return tasks.dispatch_due()


def _stuck(rows: list[Notification]) -> tuple[list[int], dt.datetime | None]:
    """The rows a dead worker left "sending", and when the last of their leases ends."""
    stuck = Notification.objects.filter(pk__in=[r.pk for r in rows], status=Status.SENDING)
    latest = stuck.aggregate(latest=Max("lease_expires_at"))["latest"]
    return list(stuck.values_list("pk", flat=True)), latest


def _wait_until_quiet(provider: FakeTwilio, quiet: float = 1.5, timeout: float = 30) -> None:
    """Wait until the provider has seen no new delivery for ``quiet`` seconds."""
    seen, since = provider.delivered(), time.monotonic()
    deadline = since + timeout
    while time.monotonic() - since < quiet:
        if time.monotonic() > deadline:
            pytest.fail("the worker never went quiet")
        time.sleep(0.05)
        if provider.delivered() != seen:
            seen, since = provider.delivered(), time.monotonic()


def _pool_processes(pid: int) -> list[int]:
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(entry))
    return children


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def _kill_worker(worker: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker and its pool processes (a crash of the whole worker: no warm
    shutdown, nothing acknowledged, no lease given back)."""
    pool = _pool_processes(worker.pid)
    assert pool, "the worker has no pool processes"
    worker.send_signal(signal.SIGKILL)
    for pid in pool:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    worker.wait(timeout=10)
    _wait_for(lambda: all(_gone(pid) for pid in pool), "the pool processes to die", 10)


def _assert_exactly_once(provider: FakeTwilio, rows: list[Notification]) -> None:
    keys = {row.idempotency_key for row in rows}
    delivered = Counter(key for key, _, _ in provider.deliveries)
    assert None not in delivered, "a message reached the provider without its key"
    assert set(delivered) == keys
    assert max(delivered.values()) == 1, "a key was delivered twice"
    assert len(provider.deliveries) == len(rows)
    assert provider.refused == 0
    final = {
        n.idempotency_key: n
        for n in Notification.objects.filter(pk__in=[row.pk for row in rows]).select_related(
            "patient"
        )
    }
    assert {n.status for n in final.values()} == {Status.SENT}
    assert all(n.provider_message_id == provider.sid_by_key[key] for key, n in final.items())
    to_by_key = {key: to for key, to, _ in provider.deliveries}
    assert all(to_by_key[key] == n.patient.phone for key, n in final.items())
    assert all(n.body and n.attempts >= 1 for n in final.values())


# --- the faults ------------------------------------------------------------------------


def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(
    provider: FakeTwilio, queue: str
) -> None:
    rows = _due_sms(500)
    # After a third, the provider accepts messages but does not answer yet: the worker
    # dies between the provider's "accepted" and recording it, in the middle of the
    # batches its two pool processes hold.
    provider.hold_after = len(rows) // 3
    with celery_worker(queue, concurrency=2) as worker:
        _enqueue(rows)
        _wait_for(lambda: provider.held >= 2, "a third to be delivered", 60, worker)
        _kill_worker(worker)
    provider.release.set()
    assert len(rows) // 3 < provider.delivered() < len(rows)
    held = {key for key, _, _ in provider.deliveries[provider.hold_after :]}
    assert len(held) == 2  # accepted by the provider, never recorded
    stuck, latest = _stuck(rows)
    assert latest is not None
    stuck_keys = set(
        Notification.objects.filter(pk__in=stuck).values_list("idempotency_key", flat=True)
    )
    # Each batch in flight holds its message at the provider and the rows it had not
    # reached yet (claimed with the batch, never sent).
    assert held <= stuck_keys
    assert len(stuck) <= 2 * BATCH_SIZE

    with celery_worker(queue, concurrency=2) as worker:
        _wait_for(lambda: timezone.now() > latest, "the leases to expire", LEASE_SECONDS + 5)
        assert _dispatch() >= len(stuck)  # the sweeper's part of dispatch_due gave them back
        _wait_for(_all_sent(rows), "every row to be sent", 60, worker, every=_dispatch)

    _assert_exactly_once(provider, rows)
    # Only the two messages in flight at the crash reached the provider twice, and the
    # second time was recognised by the key; the rest of their batches went once.
    assert {key for key, n in provider.requests.items() if n > 1} == held
    assert set(provider.requests.values()) == {1, 2}


def test_a_batch_cut_short_by_a_crash_sends_each_row_once(provider: FakeTwilio, queue: str) -> None:
    """One pool process, batches in order: the crash comes at the sixth message of the
    second batch. The first five of that batch are recorded and never go again; the
    sixth reached the provider (held there), the last four were claimed and never sent:
    all five come back when the lease runs out, and each goes once."""
    rows = sorted(_due_sms(3 * BATCH_SIZE), key=lambda n: n.pk)
    provider.hold_after = BATCH_SIZE + 5
    with celery_worker(queue, concurrency=1) as worker:
        _enqueue(rows)
        _wait_for(lambda: provider.held >= 1, "the sixth message of the second batch", 60, worker)
        _kill_worker(worker)
    provider.release.set()
    second = rows[BATCH_SIZE : 2 * BATCH_SIZE]
    statuses = dict(
        Notification.objects.filter(pk__in=[n.pk for n in rows]).values_list("pk", "status")
    )
    assert [statuses[n.pk] for n in rows[:BATCH_SIZE]] == [Status.SENT] * BATCH_SIZE
    assert [statuses[n.pk] for n in second] == [Status.SENT] * 5 + [Status.SENDING] * 5
    assert [statuses[n.pk] for n in rows[2 * BATCH_SIZE :]] == [Status.PENDING] * BATCH_SIZE
    assert [key for key, _, _ in provider.deliveries] == [n.idempotency_key for n in rows[:16]]
    stuck, latest = _stuck(rows)
    assert sorted(stuck) == [n.pk for n in second[5:]] and latest is not None

    with celery_worker(queue, concurrency=1) as worker:
        _wait_for(lambda: timezone.now() > latest, "the lease to expire", LEASE_SECONDS + 5)
        _wait_for(_all_sent(rows), "every row to be sent", 60, worker, every=_dispatch)

    _assert_exactly_once(provider, rows)
    assert {key for key, n in provider.requests.items() if n > 1} == {second[5].idempotency_key}


@pytest.mark.own_redis_db
def test_redis_flushed_mid_batch_loses_and_duplicates_nothing(
    provider: FakeTwilio, broker: str, queue: str
) -> None:
    rows = _due_sms(200)
    client = redis.Redis.from_url(broker)
    with celery_worker(queue, concurrency=2, broker_url=broker) as worker:
        _enqueue(rows)
        _wait_for(lambda: provider.delivered() >= len(rows) // 3, "a third", 60, worker)
        queued = client.llen(queue)
        assert queued > 0
        client.flushdb()  # Redis lost everything: queued, unacknowledged, bindings
        # The queue is gone (the worker may write keys of its own again at once, so the
        # database as a whole need not stay empty).
        assert client.llen(queue) == 0
        # The worker finishes what it holds; the rest is only in the database now.
        _wait_until_quiet(provider)
        left = Notification.objects.filter(pk__in=[r.pk for r in rows], status=Status.PENDING)
        pending = left.count()
        assert pending > 0
        assert provider.delivered() == len(rows) - pending
        assert _dispatch() == pending
        _wait_for(_all_sent(rows), "every row to be sent", 60, worker, every=_dispatch)
    _assert_exactly_once(provider, rows)


def test_two_dispatchers_at_once_send_each_message_once(
    provider: FakeTwilio, broker: str, queue: str
) -> None:
    rows = _due_sms(150)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    dispatched: list[int] = []

    def dispatcher() -> None:
        try:
            barrier.wait(timeout=30)
            dispatched.append(_dispatch())
        except BaseException as exc:  # reported in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    with celery_worker(queue, concurrency=2) as worker:
        threads = [threading.Thread(target=dispatcher) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors, errors
        assert all(0 < count <= len(rows) for count in dispatched)
        assert sum(dispatched) > len(rows)  # ids were queued twice
        # The beat's next ticks queue what a batch short of time gave back (on a busy
        # machine a batch can run past half of LEASE_SECONDS).
        _wait_for(_all_sent(rows), "every row to be sent", 60, worker, every=_dispatch)
        _wait_for(
            lambda: redis.Redis.from_url(broker).llen(queue) == 0,
            "the duplicates to drain",
            30,
            worker,
        )

    _assert_exactly_once(provider, rows)
    # No crash here: the claim alone keeps each id's second task away from the
    # provider, not even a retry with the same key reaches it.
    assert set(provider.requests.values()) == {1}
