"""The claim and lease of an outbox row, shared by the patient messages
(``Notification``) and the webhook deliveries (``WebhookDelivery``).

A worker takes a due ``pending`` row with one conditional UPDATE (``sending``, a lease
and a claim token), so two workers handed the same id never both send it; a sweeper
returns rows whose lease ran out (a crashed worker) to the queue; a result is stored
only while the worker's claim still holds the row. Retries back off exponentially with
jitter. The models share the fields this needs: ``status``, ``scheduled_for``,
``lease_expires_at``, ``claim_token`` and ``updated_at``.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any

from django.db.models import Model

PENDING = "pending"
SENDING = "sending"


def due_ids(model: type[Model], now: dt.datetime, limit: int = 1000) -> list[int]:
    return list(
        model._default_manager.filter(status=PENDING, scheduled_for__lte=now)
        .order_by("scheduled_for", "id")
        .values_list("id", flat=True)[:limit]
    )


def release_expired(model: type[Model], now: dt.datetime) -> int:
    """Rows whose worker died mid-send go back to the queue."""
    return model._default_manager.filter(status=SENDING, lease_expires_at__lt=now).update(
        status=PENDING, lease_expires_at=None, claim_token=None, updated_at=now
    )


def claim(model: type[Model], pk: int, now: dt.datetime, lease_seconds: int) -> uuid.UUID | None:
    """Take the row for this worker: pending and due -> sending, with a lease. Returns
    the claim's token (None when another worker has it, or it is not due)."""
    token = uuid.uuid4()
    claimed = model._default_manager.filter(pk=pk, status=PENDING, scheduled_for__lte=now).update(
        status=SENDING,
        lease_expires_at=now + dt.timedelta(seconds=lease_seconds),
        claim_token=token,
        updated_at=now,
    )
    return token if claimed else None


def finish(model: type[Model], pk: int, token: uuid.UUID, now: dt.datetime, **changes: Any) -> bool:
    """Store a result only while this claim still holds the row: a worker whose lease
    ran out (and the row was claimed again) changes nothing."""
    return bool(
        model._default_manager.filter(pk=pk, status=SENDING, claim_token=token).update(
            lease_expires_at=None, claim_token=None, updated_at=now, **changes
        )
    )


def retry_at(now: dt.datetime, attempts: int, base_seconds: float) -> dt.datetime:
    """When attempt ``attempts + 1`` goes: ``base * 2^(attempts-1)`` seconds after
    ``now``, give or take a fifth (jitter, so a failed batch does not return at once)."""
    delay = base_seconds * 2 ** (attempts - 1)
    return now + dt.timedelta(seconds=delay * random.uniform(0.8, 1.2))  # noqa: S311
