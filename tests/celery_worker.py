"""Start a real Celery worker process against the real Redis for a test."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def require_redis() -> str:
    """The broker URL of the real Redis; fails (never skips) when it is not there."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith("redis://"):
        pytest.fail(
            "This test needs Redis: run the suite with scripts/test (it sets "
            "CELERY_BROKER_URL=redis://127.0.0.1:6379/15)."
        )
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {url} is not reachable: {exc}")
    return url


@contextlib.contextmanager
def celery_worker(
    *queues: str, concurrency: int = 1, broker_url: str | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``celery worker`` in its own process on ``queues`` (unique names keep
    parallel test runs apart), pointed at the test database and at ``broker_url``
    (default: the suite's Redis database)."""
    broker_url = broker_url or require_redis()
    database = dict(connection.settings_dict)
    env = {
        **os.environ,
        "CELERY_BROKER_URL": broker_url,
        "DJANGO_SETTINGS_MODULE": "clinic.settings",
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
            f"{database['NAME']}"
        ),
    }
    node = f"test-{uuid.uuid4().hex[:8]}@%h"
    process = subprocess.Popen(  # noqa: S603 - our own worker command
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "clinic",
            "worker",
            "--queues",
            ",".join(queues),
            "--hostname",
            node,
            "--concurrency",
            str(concurrency),
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def unique_queue(prefix: str = "test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def forget_queue(broker: str, name: str) -> None:
    """Remove what Redis still holds for this test's queue (the shared database outlives
    the test): its lists, its bindings and its unacknowledged messages."""
    client = redis.Redis.from_url(broker)
    lists = [key for key in client.scan_iter(match=f"{name}*") if client.type(key) == b"list"]
    for tag, raw in client.hgetall("unacked").items():
        try:
            _, exchange, routing_key = json.loads(raw)
        except (ValueError, TypeError):
            continue
        if name in (exchange, routing_key):
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)
    bindings = [f"_kombu.binding.{name}", f"_kombu.binding_permanent.{name}"]
    client.zrem("_kombu.binding_deadlines", *bindings)
    client.delete(*lists, *bindings)
