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

from django.db import connections, router
from django.db.models import Field, Model

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
    ran out (and the row was claimed again) changes nothing.

    One UPDATE written here rather than by ``QuerySet.update``: it runs once a message,
    and building it through the ORM (the query, its where-tree, compiling both) cost
    a tenth of a text's CPU. The values still go through their fields'
    ``get_db_prep_save``, as the ORM's would."""
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    values = {"lease_expires_at": None, "claim_token": None, "updated_at": now, **changes}
    fields = [_field(model, name) for name in values]
    pk_field, status_field, token_field = (
        _field(model, name) for name in ("id", "status", "claim_token")
    )
    sql = (
        f"UPDATE {quote(model._meta.db_table)} SET "  # noqa: S608 - the model's own names
        + ", ".join(f"{quote(str(field.column))} = %s" for field in fields)
        + f" WHERE {quote(str(pk_field.column))} = %s AND {quote(str(status_field.column))} = %s"
        + f" AND {quote(str(token_field.column))} = %s"
    )
    params = [
        field.get_db_prep_save(value, connection)
        for field, value in zip(fields, values.values(), strict=True)
    ]
    params += [pk, SENDING, token_field.get_db_prep_save(token, connection)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return bool(cursor.rowcount)


def _field(model: type[Model], name: str) -> Field[Any, Any]:
    field = model._meta.get_field(name)
    if not isinstance(field, Field):
        raise TypeError(f"{model.__name__}.{name} is not a column")
    return field


def retry_at(now: dt.datetime, attempts: int, base_seconds: float) -> dt.datetime:
    """When attempt ``attempts + 1`` goes: ``base * 2^(attempts-1)`` seconds after
    ``now``, give or take a fifth (jitter, so a failed batch does not return at once)."""
    delay = base_seconds * 2 ** (attempts - 1)
    return now + dt.timedelta(seconds=delay * random.uniform(0.8, 1.2))  # noqa: S311
