from __future__ import annotations

from typing import Any

import pytest

from clinic.celery import app
from clinic.tasks import ping
from tests.celery_worker import celery_worker, unique_queue


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_real_worker_answers_through_redis() -> None:
    queue = unique_queue("smoke")
    with celery_worker(queue):
        result = ping.apply_async((41,), queue=queue)
        assert result.get(timeout=60) == 42


def test_celery_is_configured_for_safety() -> None:
    conf = app.conf
    assert conf.task_serializer == "json"
    assert conf.accept_content == ["json"]
    assert conf.timezone == "UTC" and conf.enable_utc
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit
    assert {queue.name for queue in conf.task_queues} == {"default", "reminders"}
    assert conf.task_default_queue == "default"


def test_every_beat_entry_names_a_registered_task() -> None:
    app.loader.import_default_modules()
    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in app.tasks, entry


def test_purge_task_runs_the_service(db: None, monkeypatch: Any) -> None:
    from clinic import tasks

    assert tasks.purge_expired_logins.apply().get() == {"tokens": 0, "sessions": 0}
