"""Outbound webhooks: a clinic's endpoints, and the events that become deliveries.

An endpoint's signing secret is derived, not stored: ``whsec_`` + the HMAC-SHA256 of
the endpoint's random salt under the server's ``WEBHOOK_KEY`` (SECRET_KEY-derived when
unset). The database alone therefore signs nothing; the secret is returned once, by
the service that registers the endpoint, and recomputed by the worker that signs.

``webhook_emit`` is called by the receivers of the lower apps' signals
(notifications/webhook_events.py), in the change's transaction: one ``WebhookDelivery``
per active endpoint of the clinic that takes the event, all sharing the event's id.
The body carries ids and states only (docs/webhooks.md), never a name, a phone number,
an email address or a billing code.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import secrets
import uuid
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clinic.models import Clinic
from notifications.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent
from notifications.services import webhook_address

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
HINT_LENGTH = len(SECRET_PREFIX) + 4
LOOPBACK_NAMES = ("localhost",)


def _invalid(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: ValidationError(message, code=code)})


def _server_key() -> bytes:
    configured = settings.WEBHOOK_KEY
    if configured:
        return configured.encode()
    return hashlib.sha256(b"cadence.webhooks:" + settings.SECRET_KEY.encode()).digest()


def endpoint_secret(endpoint: WebhookEndpoint) -> str:
    """The endpoint's signing secret (never logged, never stored)."""
    digest = hmac.new(_server_key(), endpoint.secret_salt.encode(), hashlib.sha256).digest()
    return SECRET_PREFIX + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> None:
    """https:// only; http:// to the loopback interface when the deployment allows it
    (``WEBHOOK_ALLOW_LOOPBACK_HTTP``, for tests and a receiver on the same host)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        raise _invalid("url", "Give the endpoint's full URL.", "invalid_url")
    if parts.username or parts.password:
        raise _invalid("url", "Put no credentials in the URL.", "invalid_url")
    loopback_http = (
        parts.scheme == "http" and settings.WEBHOOK_ALLOW_LOOPBACK_HTTP and _is_loopback(host)
    )
    if parts.scheme != "https" and not loopback_http:
        raise _invalid("url", "Webhook endpoints must be https:// URLs.", "insecure_url")
    if webhook_address.literal_refused(host):
        raise _invalid(
            "url", "Webhooks go to public addresses only, not a private network.", "private_address"
        )


def _check_events(events: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(events))
    if not chosen:
        raise _invalid("events", "Choose at least one event.", "required")
    unknown = [event for event in chosen if event not in WebhookEvent.values]
    if unknown:
        raise _invalid("events", f"Unknown event: {unknown[0]}.", "invalid_choice")
    return chosen


@transaction.atomic
def webhook_endpoint_create(
    clinic: Clinic,
    *,
    url: str,
    events: Iterable[str],
    description: str = "",
    active: bool = True,
    by: Any = None,
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it with its secret, which is shown only now."""
    check_url(url)
    endpoint = WebhookEndpoint(
        clinic=clinic,
        url=url,
        events=_check_events(events),
        description=description,
        active=active,
        secret_salt=secrets.token_hex(32),
        created_by=by if getattr(by, "is_authenticated", False) else None,
    )
    secret = endpoint_secret(endpoint)
    endpoint.secret_hint = secret[:HINT_LENGTH]
    endpoint.full_clean(exclude=["created_by"])
    endpoint.save()
    _note_endpoints(endpoint)
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_update(endpoint: WebhookEndpoint, **fields: Any) -> WebhookEndpoint:
    """Change an endpoint's URL, events, description or active flag. What it will no
    longer take (everything, once disabled; the events taken off it) is cancelled
    while still pending, so it is never sent."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if "url" in fields:
        check_url(fields["url"])
    if "events" in fields:
        fields["events"] = _check_events(fields["events"])
    for name, value in fields.items():
        setattr(endpoint, name, value)
    endpoint.full_clean(exclude=["created_by"])
    endpoint.save()
    _note_endpoints(endpoint)
    pending = WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING)
    if not endpoint.active:
        _cancel(pending, "endpoint disabled")
    else:
        _cancel(pending.exclude(event__in=endpoint.events), "event no longer subscribed")
    return endpoint


def _cancel(deliveries: Any, reason: str) -> int:
    return int(
        deliveries.update(
            status=DeliveryStatus.CANCELLED, last_error=reason, updated_at=timezone.now()
        )
    )


def webhook_endpoint_delete(endpoint: WebhookEndpoint) -> None:
    """Remove an endpoint and its delivery log; a worker holding one of its deliveries
    finds it gone and sends nothing."""
    with transaction.atomic():
        endpoint.delete()
        _note_endpoints(endpoint)


def _note_endpoints(endpoint: WebhookEndpoint) -> None:
    """Keep ``Clinic.has_webhooks`` (whether the clinic has an active endpoint), in the
    transaction of the endpoint's change: a booking whose clinic says none skips looking
    endpoints up (webhook_events.sessions_booked). The clinic's row is locked before
    the endpoints are counted, so two changes at once cannot leave it saying none while
    one is active (the second waits, then counts the first's endpoint)."""
    list(Clinic.objects.select_for_update().filter(pk=endpoint.clinic_id).values_list("pk"))
    active = WebhookEndpoint.objects.filter(clinic_id=endpoint.clinic_id, active=True).exists()
    Clinic.objects.filter(pk=endpoint.clinic_id).update(has_webhooks=active)
    if WebhookEndpoint.clinic.is_cached(endpoint):
        endpoint.clinic.has_webhooks = active


def webhook_secret_rotate(endpoint: WebhookEndpoint) -> str:
    """A new secret for the endpoint (the old one stops working at once); returned once."""
    endpoint.secret_salt = secrets.token_hex(32)
    secret = endpoint_secret(endpoint)
    endpoint.secret_hint = secret[:HINT_LENGTH]
    endpoint.save(update_fields=["secret_salt", "secret_hint", "updated_at"])
    return secret


# --- events ----------------------------------------------------------------------------


def iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def event_body(event_id: uuid.UUID, event: str, clinic_id: int, data: Mapping[str, Any]) -> str:
    """The JSON sent for an event, compact and with sorted keys."""
    envelope = {
        "id": str(event_id),
        "type": event,
        "created_at": iso(timezone.now()),
        "clinic": clinic_id,
        "data": data,
    }
    return json.dumps(envelope, sort_keys=True, separators=(",", ":"), default=str)


def subscribed_endpoints(event: str, clinic_ids: Any) -> dict[int, list[WebhookEndpoint]]:
    """The active endpoints taking ``event``, by clinic, of the clinics ``clinic_ids``
    (ids, or a subquery of them). One query; usually none."""
    found: dict[int, list[WebhookEndpoint]] = {}
    for endpoint in WebhookEndpoint.objects.filter(clinic_id__in=clinic_ids, active=True):
        if event in endpoint.events:  # JSON containment is not portable to SQLite
            found.setdefault(endpoint.clinic_id, []).append(endpoint)
    return found


def webhook_emit(
    event: str,
    items: Iterable[tuple[int, Mapping[str, Any]]],
    endpoints: Mapping[int, list[WebhookEndpoint]],
) -> int:
    """Write the deliveries of ``event`` for each ``(clinic id, data)``: one row per
    endpoint of that clinic in ``endpoints`` (subscribed_endpoints), all with the
    event's id. Returns how many rows."""
    now = timezone.now()
    rows: list[WebhookDelivery] = []
    for clinic_id, data in items:
        takers = endpoints.get(clinic_id, [])
        if not takers:
            continue
        event_id = uuid.uuid4()
        body = event_body(event_id, event, clinic_id, data)
        rows.extend(
            WebhookDelivery(
                endpoint=endpoint, event_id=event_id, event=event, body=body, scheduled_for=now
            )
            for endpoint in takers
        )
    WebhookDelivery.objects.bulk_create(rows)
    return len(rows)
