"""Celery tasks of the outbox. Only ids travel through the broker: never a name, a
number or a message text."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from celery import shared_task
from django.conf import settings

from notifications import services
from notifications.services.dispatch import DUE_PER_TICK


@shared_task(name="notifications.tasks.plan_reminders")
def plan_reminders() -> int:
    """The sessions' reminders, and the relapse watch's questionnaire links."""
    return services.plan_reminders() + services.plan_watch_checkins()


@shared_task(name="notifications.tasks.dispatch_due")
def dispatch_due() -> int:
    """Every minute: return leases of crashed workers, then queue what is due."""
    services.release_expired_leases()
    ids = services.due_ids(limit=DUE_PER_TICK)
    enqueue(ids)
    return len(ids)


def enqueue(notification_ids: Sequence[int], **options: Any) -> int:
    """Queue ``send_batch`` tasks of at most NOTIFICATION_BATCH_SIZE ids each (``options``
    go to apply_async); returns how many tasks."""
    size = settings.NOTIFICATION_BATCH_SIZE
    chunks = [list(notification_ids[i : i + size]) for i in range(0, len(notification_ids), size)]
    for chunk in chunks:
        send_batch.apply_async((chunk,), **options)
    return len(chunks)


@shared_task(name="notifications.tasks.send_batch", acks_late=True)
def send_batch(notification_ids: list[int]) -> dict[str, int]:
    """Send the due rows among ``notification_ids``; how many ended in each status. Rows
    the batch had no time left for are pending again: the next dispatch_due queues them."""
    return dict(Counter(services.send_batch(notification_ids).statuses.values()))


@shared_task(name="notifications.tasks.send_notification", acks_late=True)
def send_notification(notification_id: int) -> str:
    """One message (tasks queued by releases before batches existed still name it)."""
    return services.send(notification_id)


@shared_task(name="notifications.tasks.dispatch_webhooks")
def dispatch_webhooks() -> int:
    """Every minute: return leases of crashed workers, then queue the due deliveries."""
    services.release_expired_webhook_leases()
    ids = services.due_webhook_ids()
    for delivery_id in ids:
        send_webhook.delay(delivery_id)
    return len(ids)


@shared_task(name="notifications.tasks.send_webhook", acks_late=True)
def send_webhook(delivery_id: int) -> str:
    return services.webhook_send(delivery_id)
