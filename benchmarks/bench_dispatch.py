"""Dispatch throughput through Celery and the real Redis, with a fake SMS provider.

2,000 due missed-session follow-ups by SMS (one per consenting patient with a phone of
their own) are queued as the dispatcher queues them (``tasks.enqueue``: ``send_batch``
tasks of NOTIFICATION_BATCH_SIZE ids) for real ``celery worker`` processes (each
prefork, concurrency 1, on a queue of this run's own) against Redis (database 13, or
CADENCE_BENCH_REDIS_URL), and a local HTTP server that answers like Twilio's Messages
API (201, immediately, keeping the connection open). Timed from the first enqueue until
the database shows every row "sent", for 1 and 2 worker processes. The machine running
it may have few cores (2 here): the benchmark itself, the provider, PostgreSQL and Redis
share them with the workers.
"""

from __future__ import annotations

import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from typing import Any

from benchmarks.harness import ROOT, process_cpu_seconds, setup_django, throwaway_database

COUNT = 2_000
WORKER_COUNTS = (1, 2)
# Another Redis database with CADENCE_BENCH_REDIS_URL (runs side by side stay apart).
REDIS_URL = os.environ.get("CADENCE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = secrets.token_hex(16)
FROM_NUMBER = "+15005550006"
POLL_SECONDS = 0.2
TIMEOUT_SECONDS = 300.0


def _worker_env(provider_url: str) -> dict[str, str]:
    from django.db import connection

    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "clinic.settings",
        "DATABASE_URL": f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": REDIS_URL,
        "CELERY_RESULT_BACKEND": REDIS_URL,
        "SMS_TRANSPORT": "notifications.transports.TwilioTransport",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": FROM_NUMBER,
        "TWILIO_BASE_URL": provider_url,
    }
    env.pop("SMS_STATUS_CALLBACK_URL", None)
    return env


def _start_worker(queue: str, node: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own worker command
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "clinic",
            "--quiet",
            "worker",
            "--queues",
            queue,
            "--hostname",
            node,
            "--concurrency",
            "1",
            "--pool",
            "prefork",
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
    )


def _stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for process in workers:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in workers:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(nodes: list[str], workers: list[subprocess.Popen[bytes]]) -> None:
    from clinic.celery import app

    deadline = time.monotonic() + 60
    waiting = set(nodes)
    while waiting:
        for process in workers:
            if process.poll() is not None:
                raise RuntimeError(f"a worker exited ({process.returncode}) while starting")
        if time.monotonic() > deadline:
            raise RuntimeError(f"workers not ready after 60 s: {sorted(waiting)}")
        for reply in app.control.ping(destination=sorted(waiting), timeout=1.0):
            waiting -= set(reply)


def _own_cpu_ms() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return (usage.ru_utime + usage.ru_stime) * 1000


def _tasks_per_worker(nodes: list[str]) -> str:
    """How many tasks each worker process ran (from the workers' own stats)."""
    from clinic.celery import app

    stats = app.control.inspect(destination=nodes, timeout=2.0).stats() or {}
    counts = [
        sum(stats.get(node, {}).get("total", {}).values()) if node in stats else "?"
        for node in nodes
    ]
    return "/".join(f"{count:,}" if isinstance(count, int) else count for count in counts)


def _forget_queue(queue: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    bindings = [f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}"]
    client.zrem("_kombu.binding_deadlines", *bindings)
    client.delete(queue, *bindings)


def _create_due_sms(count: int) -> None:
    from django.contrib.auth import get_user_model

    from clinic.models import Chair, Clinic
    from tests.sms_fakes import create_due_sms, midday_timezone

    clinic = Clinic.objects.create(
        name="Bench",
        slug="bench-dispatch",
        timezone=midday_timezone(),  # sends respect the send window
        display_name="Bench Wellness",
        phone="+17185550100",
    )
    create_due_sms(
        count,
        clinic=clinic,
        chair=Chair.objects.create(clinic=clinic, name="Chair 01"),
        psychiatrist=get_user_model().objects.create_user("bench-psychiatrist"),
    )


def _run(workers_wanted: int, provider: Any, ids: list[int]) -> float:
    """Messages per second with ``workers_wanted`` worker processes."""
    from django.db.models import Count

    from notifications import tasks
    from notifications.models import Notification, Status

    Notification.objects.update(
        status=Status.PENDING,
        attempts=0,
        provider_message_id="",
        sent_at=None,
        body="",
        reason="",
        last_error="",
        claim_token=None,
        lease_expires_at=None,
    )
    queue = f"bench-dispatch-{uuid.uuid4().hex[:12]}"
    host = socket.gethostname()
    nodes = [f"bench-{uuid.uuid4().hex[:8]}@{host}" for _ in range(workers_wanted)]
    env = _worker_env(provider.url)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        workers = [_start_worker(queue, node, env) for node in nodes]
        _wait_ready(nodes, workers)
        requests_before = provider.requests_total()
        started_cpu_ms = sum(process_cpu_seconds(process.pid) for process in workers) * 1000
        started_own_ms = _own_cpu_ms()
        started = time.perf_counter()
        batches = tasks.enqueue(ids, queue=queue, ignore_result=True)
        enqueued = time.perf_counter() - started
        deadline = started + TIMEOUT_SECONDS
        while True:
            sent = Notification.objects.filter(status=Status.SENT).count()
            if sent == len(ids):
                break
            if any(process.poll() is not None for process in workers):
                raise RuntimeError("a worker exited during the run")
            if time.perf_counter() > deadline:
                raise RuntimeError(f"timed out: {sent:,} of {len(ids):,} sent")
            time.sleep(POLL_SECONDS)
        elapsed = time.perf_counter() - started
        per_worker = _tasks_per_worker(nodes)
        cpu_ms = (
            sum(process_cpu_seconds(process.pid) for process in workers) * 1000 - started_cpu_ms
        )
        own_ms = _own_cpu_ms() - started_own_ms
    finally:
        _stop_workers(workers)
        _forget_queue(queue)
    statuses = dict(Notification.objects.values_list("status").annotate(n=Count("id")).order_by())
    rate = len(ids) / elapsed
    print(
        f"  {workers_wanted} worker process{'es' if workers_wanted > 1 else ''}: "
        f"{len(ids):,} sent in {elapsed:.2f} s = {rate:,.0f} messages/s, "
        f"CPU a message: workers {cpu_ms / len(ids):.2f} ms, fake provider and this process "
        f"{own_ms / len(ids):.2f} ms "
        f"(enqueueing {batches} tasks took {enqueued:.2f} s; tasks per worker {per_worker}; "
        f"provider requests "
        f"{provider.requests_total() - requests_before:,}; statuses {statuses})",
        flush=True,
    )
    return rate


def main() -> None:
    # The benchmark process enqueues onto the same Redis the workers read.
    os.environ["CELERY_BROKER_URL"] = REDIS_URL
    os.environ["CELERY_RESULT_BACKEND"] = REDIS_URL
    setup_django()
    import redis
    from django.conf import settings

    from notifications.models import Notification

    redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    from tests.sms_fakes import FakeTwilio

    provider = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN)
    provider.thread.start()
    try:
        with throwaway_database():
            _create_due_sms(COUNT)
            ids = list(Notification.objects.order_by("id").values_list("id", flat=True))
            print(
                f"dispatch: {len(ids):,} due SMS in batches of {settings.NOTIFICATION_BATCH_SIZE} "
                f"through Celery (Redis {REDIS_URL}, prefork, concurrency 1 per process) to a "
                f"fake Twilio; {os.cpu_count()} CPU cores"
            )
            rates = {n: _run(n, provider, ids) for n in WORKER_COUNTS}
            print(
                f"  scaling 1 -> 2 worker processes: x{rates[2] / rates[1]:.2f} "
                f"(ideal x2.00; {os.cpu_count()} cores shared with PostgreSQL, Redis, "
                "the provider and this process)"
            )
    finally:
        provider.stop()


if __name__ == "__main__":
    main()
