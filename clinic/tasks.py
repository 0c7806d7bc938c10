from __future__ import annotations

from celery import shared_task

from clinic import services


@shared_task(name="clinic.tasks.purge_expired_logins")
def purge_expired_logins() -> dict[str, int]:
    """Delete expired API tokens and web sessions; safe to run twice at once."""
    return services.purge_expired_logins()


@shared_task(name="clinic.tasks.purge_expired_audit_events")
def purge_expired_audit_events() -> int:
    """Delete audit events older than AUDIT_RETENTION_YEARS; safe to run twice at once."""
    from clinic import audit_retention

    return audit_retention.purge_expired_audit_events()


@shared_task(name="clinic.tasks.ping")
def ping(value: int) -> int:
    """Round trip used by operators and the smoke test to prove a worker answers."""
    return value + 1


@shared_task(
    name="clinic.tasks.send_staff_invitation",
    autoretry_for=(OSError,),  # smtplib's errors are OSErrors
    retry_backoff=True,
    max_retries=5,
)
def send_staff_invitation(user_id: int, base_url: str) -> bool:
    """Email a new staff member their set-password link (made here, never a task argument)."""
    from clinic import accounts

    return accounts.send_invitation(user_id, base_url)
