"""Sending a webhook delivery: claimed with a lease like a patient message
(services/lease.py), signed with the endpoint's secret over ``timestamp.body``, posted
once, and either recorded as sent or put back with an exponential backoff and jitter.

What a delivery's log keeps: its status, attempts, the response's status code and the
last error (never the secret, the signature or what the receiver answered in its body).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import logging
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

from notifications.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from notifications.services import lease, webhook_address
from notifications.services.webhooks import endpoint_secret

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# Answers that say "not now" rather than "never": retried like a 5xx or no answer.
RETRIED_CLIENT_ERRORS = frozenset({408, 409, 425, 429})
SIGNATURE_HEADER = "Cadence-Signature"
EVENT_ID_HEADER = "Cadence-Event-Id"
EVENT_TYPE_HEADER = "Cadence-Event-Type"
USER_AGENT = "Cadence-Webhooks/1"


def due_webhook_ids(now: dt.datetime | None = None, limit: int = 1000) -> list[int]:
    return lease.due_ids(WebhookDelivery, now or timezone.now(), limit)


def release_expired_webhook_leases(now: dt.datetime | None = None) -> int:
    return lease.release_expired(WebhookDelivery, now or timezone.now())


def signature(secret: str, timestamp: int, body: str) -> str:
    """The ``Cadence-Signature`` header: ``t=<unix seconds>,v1=<hex HMAC-SHA256 of
    "<t>.<body>" under the secret>``."""
    signed = f"{timestamp}.{body}".encode()
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST once (no redirects followed) and return the status code; the answer's body
    is read (at most 64 KiB) and dropped."""
    parts = urlsplit(url)
    https = parts.scheme == "https"
    host, port = parts.hostname or "", parts.port
    addresses = webhook_address.checked_addresses(host, port or (443 if https else 80))
    connection_class = (
        webhook_address.PinnedHTTPSConnection if https else webhook_address.PinnedHTTPConnection
    )
    connection = connection_class(host, port, addresses, settings.WEBHOOK_TIMEOUT_SECONDS)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(65536)
        return response.status
    finally:
        connection.close()


def _retry_or_fail(
    delivery: WebhookDelivery,
    token: uuid.UUID,
    now: dt.datetime,
    error: str,
    code: int | None,
) -> str:
    attempts = delivery.attempts + 1
    changes = {"attempts": attempts, "last_error": error[:300], "response_code": code}
    if attempts >= MAX_ATTEMPTS:
        lease.finish(
            WebhookDelivery, delivery.pk, token, now, status=DeliveryStatus.FAILED, **changes
        )
        return DeliveryStatus.FAILED
    retry_at = lease.retry_at(now, attempts, settings.WEBHOOK_RETRY_BASE_SECONDS)
    lease.finish(
        WebhookDelivery,
        delivery.pk,
        token,
        now,
        status=DeliveryStatus.PENDING,
        scheduled_for=retry_at,
        **changes,
    )
    return DeliveryStatus.PENDING


def webhook_send(delivery_id: int) -> str:
    """Claim, check (the endpoint is still active and takes the event), sign, post and
    record one delivery; returns its status."""
    now = timezone.now()
    token = lease.claim(WebhookDelivery, delivery_id, now, settings.WEBHOOK_LEASE_SECONDS)
    if token is None:
        return "not_claimed"
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None:  # its endpoint was deleted meanwhile
        return "gone"
    endpoint: WebhookEndpoint = delivery.endpoint
    if not endpoint.active or delivery.event not in endpoint.events:
        reason = "endpoint disabled" if not endpoint.active else "event no longer subscribed"
        lease.finish(
            WebhookDelivery,
            delivery.pk,
            token,
            now,
            status=DeliveryStatus.CANCELLED,
            last_error=reason,
        )
        return DeliveryStatus.CANCELLED
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_ID_HEADER: str(delivery.event_id),
        EVENT_TYPE_HEADER: delivery.event,
        SIGNATURE_HEADER: signature(endpoint_secret(endpoint), timestamp, delivery.body),
    }
    try:
        code = _post(endpoint.url, delivery.body.encode(), headers)
    except webhook_address.RefusedAddress:
        # Not retried: the URL names a private address (webhook_address says why).
        return _fail(delivery, token, now, "refused: the endpoint's address is not a public one")
    except (OSError, http.client.HTTPException) as exc:
        # The exception's class only: its text may repeat the URL's query string.
        logger.info("webhook delivery %s: no answer (%s)", delivery.pk, type(exc).__name__)
        return _retry_or_fail(delivery, token, now, f"no answer: {type(exc).__name__}", None)
    if 200 <= code < 300:
        lease.finish(
            WebhookDelivery,
            delivery.pk,
            token,
            timezone.now(),
            status=DeliveryStatus.SENT,
            attempts=delivery.attempts + 1,
            response_code=code,
            last_error="",
            sent_at=timezone.now(),
        )
        return DeliveryStatus.SENT
    if code >= 500 or code in RETRIED_CLIENT_ERRORS:
        return _retry_or_fail(delivery, token, now, f"answered {code}", code)
    return _fail(delivery, token, now, f"refused with {code}: not retried", code)


def _fail(
    delivery: WebhookDelivery,
    token: uuid.UUID,
    now: dt.datetime,
    error: str,
    code: int | None = None,
) -> str:
    """An attempt that is not retried."""
    lease.finish(
        WebhookDelivery,
        delivery.pk,
        token,
        now,
        status=DeliveryStatus.FAILED,
        attempts=delivery.attempts + 1,
        response_code=code,
        last_error=error,
    )
    return DeliveryStatus.FAILED
