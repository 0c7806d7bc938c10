from __future__ import annotations

from celery import shared_task

from clinic import services


@shared_task(name="clinic.tasks.purge_expired_logins")
def purge_expired_logins() -> dict[str, int]:
    """Delete expired API tokens and web sessions; safe to run twice at once."""
    return services.purge_expired_logins()


@shared_task(name="clinic.tasks.ping")
def ping(value: int) -> int:
    """Round trip used by operators and the smoke test to prove a worker answers."""
    return value + 1
