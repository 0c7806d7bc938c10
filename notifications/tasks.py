"""Celery tasks of the outbox. Only ids travel through the broker: never a name, a
number or a message text."""

from __future__ import annotations

from celery import shared_task

from notifications import services


@shared_task(name="notifications.tasks.plan_reminders")
def plan_reminders() -> int:
    return services.plan_reminders()


@shared_task(name="notifications.tasks.dispatch_due")
def dispatch_due() -> int:
    """Every minute: return leases of crashed workers, then queue what is due."""
    services.release_expired_leases()
    ids = services.due_ids()
    for notification_id in ids:
        send_notification.delay(notification_id)
    return len(ids)


@shared_task(name="notifications.tasks.send_notification", acks_late=True)
def send_notification(notification_id: int) -> str:
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
