"""Sending a webhook delivery to a local HTTP receiver, in the test's process: the
signature (checked with the recipe of docs/webhooks.md, run as written), the retry
policy, a disabled endpoint, the URL rules and the secret."""

from __future__ import annotations

import datetime as dt
import logging
import socket
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from notifications import services
from notifications.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent
from notifications.services.webhook_send import MAX_ATTEMPTS
from notifications.services.webhooks import subscribed_endpoints, webhook_emit
from tests.webhook_receiver import WebhookReceiver, documented_verify

EVENT = WebhookEvent.SESSION_MOVED


@pytest.fixture
def receiver(settings: Any) -> Any:
    settings.WEBHOOK_ALLOW_LOOPBACK_HTTP = True
    with WebhookReceiver() as running:
        yield running


@pytest.fixture
def registered(clinic: Any, receiver: WebhookReceiver) -> tuple[WebhookEndpoint, str]:
    return services.webhook_endpoint_create(clinic, url=receiver.url, events=[EVENT])


def _emit(clinic: Any, data: dict[str, Any] | None = None) -> WebhookDelivery:
    endpoints = subscribed_endpoints(EVENT, [clinic.pk])
    assert webhook_emit(EVENT, [(clinic.pk, data or {"session": {"id": 7}})], endpoints) >= 1
    return WebhookDelivery.objects.latest("id")


def _later(delivery: WebhookDelivery) -> None:
    """Make a retried delivery due now (the test does not wait for its backoff)."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(scheduled_for=timezone.now())


def test_a_delivery_is_signed_and_the_documented_recipe_accepts_it(
    clinic: Any, registered: tuple[WebhookEndpoint, str], receiver: WebhookReceiver
) -> None:
    _, secret = registered
    delivery = _emit(clinic)
    assert services.webhook_send(delivery.pk) == DeliveryStatus.SENT
    [request] = receiver.received
    assert request.path == "/hooks/cadence"
    assert request.headers["cadence-event-id"] == str(delivery.event_id)
    assert request.headers["cadence-event-type"] == EVENT
    assert request.headers["content-type"] == "application/json"
    assert request.body == delivery.body.encode()
    assert request.event["id"] == str(delivery.event_id)
    verify = documented_verify()
    signature = request.headers["cadence-signature"]
    assert verify(secret, signature, request.body)
    # The recipe refuses a changed body, another secret, an old timestamp, junk.
    assert not verify(secret, signature, request.body.replace(b"7", b"8"))
    assert not verify(secret + "x", signature, request.body)
    timestamp = int(signature.split(",")[0].removeprefix("t="))
    replayed = services.signature(secret, timestamp - 600, request.body.decode())
    assert not verify(secret, replayed, request.body)
    assert not verify(secret, "nonsense", request.body)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("sent", 1, 204)
    assert delivery.sent_at is not None and delivery.lease_expires_at is None


def test_a_500_is_retried_later_with_the_same_event(
    clinic: Any, registered: tuple[WebhookEndpoint, str], receiver: WebhookReceiver, settings: Any
) -> None:
    delivery = _emit(clinic)
    receiver.answers.extend([500, 503])
    before = timezone.now()
    assert services.webhook_send(delivery.pk) == DeliveryStatus.PENDING
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.response_code, delivery.last_error) == (
        1,
        500,
        "answered 500",
    )
    base = settings.WEBHOOK_RETRY_BASE_SECONDS
    assert before + dt.timedelta(seconds=0.8 * base) <= delivery.scheduled_for
    assert delivery.scheduled_for <= timezone.now() + dt.timedelta(seconds=1.2 * base)
    assert services.webhook_send(delivery.pk) == "not_claimed"  # not due yet
    _later(delivery)
    assert services.webhook_send(delivery.pk) == DeliveryStatus.PENDING
    delivery.refresh_from_db()
    # The second retry waits twice as long.
    assert delivery.scheduled_for >= timezone.now() + dt.timedelta(seconds=1.6 * base)
    _later(delivery)
    assert services.webhook_send(delivery.pk) == DeliveryStatus.SENT
    assert [r.answered for r in receiver.received] == [500, 503, 204]
    assert len({r.headers["cadence-event-id"] for r in receiver.received}) == 1
    assert len({r.body for r in receiver.received}) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 3, "")


def test_a_refusal_is_not_retried_and_attempts_run_out(
    clinic: Any, registered: tuple[WebhookEndpoint, str], receiver: WebhookReceiver
) -> None:
    refused = _emit(clinic)
    receiver.answers.append(410)
    assert services.webhook_send(refused.pk) == DeliveryStatus.FAILED
    refused.refresh_from_db()
    assert (refused.response_code, refused.attempts) == (410, 1)

    busy = _emit(clinic)
    receiver.answers.extend([429] * MAX_ATTEMPTS)
    for _ in range(MAX_ATTEMPTS - 1):
        assert services.webhook_send(busy.pk) == DeliveryStatus.PENDING
        _later(busy)
    assert services.webhook_send(busy.pk) == DeliveryStatus.FAILED
    busy.refresh_from_db()
    assert (busy.status, busy.attempts, busy.response_code) == ("failed", MAX_ATTEMPTS, 429)


def test_no_answer_is_retried(clinic: Any, settings: Any) -> None:
    settings.WEBHOOK_ALLOW_LOOPBACK_HTTP = True
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    services.webhook_endpoint_create(clinic, url=f"http://127.0.0.1:{port}/", events=[EVENT])
    delivery = _emit(clinic)
    assert services.webhook_send(delivery.pk) == DeliveryStatus.PENDING
    delivery.refresh_from_db()
    assert delivery.last_error == "no answer: ConnectionRefusedError"
    assert delivery.response_code is None and delivery.attempts == 1


def test_a_name_that_resolves_to_a_private_address_is_never_posted_to(
    clinic: Any, receiver: WebhookReceiver, settings: Any
) -> None:
    """The name is checked when the delivery goes: ``localhost`` is a name (so the URL
    is accepted), and once loopback is not allowed it resolves to an address webhooks
    may not reach. Nothing reaches the receiver listening there, and it is not retried."""
    services.webhook_endpoint_create(
        clinic, url=receiver.url.replace("127.0.0.1", "localhost"), events=[EVENT]
    )
    delivery = _emit(clinic)
    settings.WEBHOOK_ALLOW_LOOPBACK_HTTP = False
    assert services.webhook_send(delivery.pk) == DeliveryStatus.FAILED
    assert receiver.received == []
    delivery.refresh_from_db()
    assert delivery.last_error == "refused: the endpoint's address is not a public one"


def test_a_disabled_endpoint_is_sent_nothing(
    clinic: Any, registered: tuple[WebhookEndpoint, str], receiver: WebhookReceiver
) -> None:
    endpoint, _ = registered
    waiting = [_emit(clinic), _emit(clinic)]
    services.webhook_endpoint_update(endpoint, active=False)
    assert {d.status for d in WebhookDelivery.objects.all()} == {DeliveryStatus.CANCELLED}
    assert services.due_webhook_ids() == []
    for delivery in waiting:
        assert services.webhook_send(delivery.pk) == "not_claimed"
    # No new deliveries either.
    assert webhook_emit(EVENT, [(clinic.pk, {})], subscribed_endpoints(EVENT, [clinic.pk])) == 0
    # A row claimed while the endpoint was disabled behind the service's back: the
    # worker looks again before sending.
    services.webhook_endpoint_update(endpoint, active=True)
    late = _emit(clinic)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False)
    assert services.webhook_send(late.pk) == DeliveryStatus.CANCELLED
    late.refresh_from_db()
    assert late.last_error == "endpoint disabled"
    assert receiver.received == []


def test_an_event_taken_off_the_endpoint_is_not_sent(
    clinic: Any, registered: tuple[WebhookEndpoint, str], receiver: WebhookReceiver
) -> None:
    endpoint, _ = registered
    delivery = _emit(clinic)
    services.webhook_endpoint_update(endpoint, events=[WebhookEvent.SESSION_BOOKED])
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_error) == ("cancelled", "event no longer subscribed")


def test_an_expired_lease_goes_back_to_the_queue(
    clinic: Any, registered: tuple[WebhookEndpoint, str], frozen_now: Any, settings: Any
) -> None:
    delivery = _emit(clinic)
    from notifications.services import lease

    token = lease.claim(WebhookDelivery, delivery.pk, timezone.now(), 30)
    assert token is not None
    assert lease.claim(WebhookDelivery, delivery.pk, timezone.now(), 30) is None
    assert services.release_expired_webhook_leases() == 0
    frozen_now.shift(dt.timedelta(seconds=31))
    assert services.release_expired_webhook_leases() == 1
    assert services.due_webhook_ids() == [delivery.pk]
    # The crashed worker's late result changes nothing.
    assert not lease.finish(WebhookDelivery, delivery.pk, token, timezone.now(), status="sent")


@pytest.mark.parametrize(
    ("url", "loopback_allowed", "code"),
    [
        ("https://ehr.example.org/hooks", False, None),
        ("http://ehr.example.org/hooks", False, "insecure_url"),
        ("http://ehr.example.org/hooks", True, "insecure_url"),
        ("http://127.0.0.1:8080/hooks", False, "insecure_url"),
        ("http://127.0.0.1:8080/hooks", True, None),
        ("http://[::1]:8080/hooks", True, None),
        ("http://localhost/hooks", True, None),
        ("ftp://ehr.example.org/", True, "insecure_url"),
        ("https://user:pw@ehr.example.org/", False, "invalid_url"),
        ("https:///nothing", False, "invalid_url"),
        # Not the deployment's own network (server-side request forgery).
        ("https://10.0.0.5/hooks", False, "private_address"),
        ("https://169.254.169.254/latest/meta-data/", False, "private_address"),
        ("https://[fd00::1]/hooks", False, "private_address"),
        ("https://127.0.0.1/hooks", False, "private_address"),
        ("https://8.8.8.8/hooks", False, None),
    ],
)
def test_endpoint_urls(
    url: str, loopback_allowed: bool, code: str | None, clinic: Any, settings: Any
) -> None:
    settings.WEBHOOK_ALLOW_LOOPBACK_HTTP = loopback_allowed
    if code is None:
        endpoint, _ = services.webhook_endpoint_create(clinic, url=url, events=[EVENT])
        assert endpoint.url == url
        return
    with pytest.raises(ValidationError) as refused:
        services.webhook_endpoint_create(clinic, url=url, events=[EVENT])
    assert refused.value.error_dict["url"][0].code == code


def test_the_secret_is_derived_not_stored(
    clinic: Any, settings: Any, caplog: Any, receiver: WebhookReceiver
) -> None:
    caplog.set_level(logging.DEBUG)
    endpoint, secret = services.webhook_endpoint_create(clinic, url=receiver.url, events=[EVENT])
    assert secret.startswith("whsec_") and len(secret) > 40
    assert endpoint.secret_hint == secret[:10]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM notifications_webhookendpoint")
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)
    assert secret not in stored and secret[6:] not in stored
    fresh = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert services.endpoint_secret(fresh) == secret
    settings.WEBHOOK_KEY = "another-server-key-of-this-deployment"
    assert services.endpoint_secret(fresh) != secret
    settings.WEBHOOK_KEY = ""
    rotated = services.webhook_secret_rotate(fresh)
    assert rotated != secret and services.endpoint_secret(fresh) == rotated
    assert services.webhook_send(_emit(clinic).pk) == DeliveryStatus.SENT
    assert documented_verify()(
        rotated, receiver.received[-1].headers["cadence-signature"], receiver.received[-1].body
    )
    assert secret not in caplog.text and rotated not in caplog.text


def test_events_must_be_known_and_given(clinic: Any) -> None:
    for events, code in (([], "required"), (["session.exploded"], "invalid_choice")):
        with pytest.raises(ValidationError) as refused:
            services.webhook_endpoint_create(clinic, url="https://a.example.org/", events=events)
        assert refused.value.error_dict["events"][0].code == code
