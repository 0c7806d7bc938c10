"""The webhook set-up pages (clinic admins): who opens them, registering an endpoint
(its secret on that answer only), refusals on the form, disabling, a new secret, the
delivery log and removing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from clinic.models import Role
from clinic.web import SESSION_KEY
from notifications import services
from notifications.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent
from tests.factories import MembershipFactory

LIST = "/setup/webhooks/"


def _endpoint(clinic: Any) -> WebhookEndpoint:
    endpoint, _ = services.webhook_endpoint_create(
        clinic, url="https://ehr.example.org/hooks", events=[WebhookEvent.SESSION_MISSED]
    )
    return endpoint


@pytest.mark.parametrize("role", [*Role.values, "anonymous", "outsider", "superuser"])
def test_who_opens_the_pages(
    role: str, clinic: Any, other_clinic: Any, staff: Any, superuser: Any, client: Client
) -> None:
    endpoint = _endpoint(clinic)
    detail = f"{LIST}{endpoint.pk}/"
    if role == "anonymous":
        assert client.get(LIST).status_code == 302
        assert client.get(detail).status_code == 302
        return
    user = {
        "outsider": lambda: staff(Role.CLINIC_ADMIN, in_clinic=other_clinic),
        "superuser": lambda: superuser,
    }.get(role, lambda: staff(role))()
    client.force_login(user)
    if role == "superuser":
        session = client.session
        session[SESSION_KEY] = clinic.pk
        session.save()
    listed, opened = client.get(LIST), client.get(detail)
    if role in ("superuser", Role.CLINIC_ADMIN):
        assert (listed.status_code, opened.status_code) == (200, 200)
        assert endpoint.url in listed.content.decode()
    elif role == "outsider":  # their own clinic's list, without this endpoint
        assert listed.status_code == 200 and endpoint.url not in listed.content.decode()
        assert opened.status_code == 404
    else:
        assert (listed.status_code, opened.status_code) == (403, 403)
    post = client.post(detail, {"action": "delete"})
    removed = role in ("superuser", Role.CLINIC_ADMIN)
    assert post.status_code == (302 if removed else 404 if role == "outsider" else 403)
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists() != removed


@pytest.fixture
def admin(clinic: Any, client: Client) -> Client:
    client.force_login(MembershipFactory(clinic=clinic, role=Role.CLINIC_ADMIN).user)
    return client


def test_registering_shows_the_secret_once(clinic: Any, admin: Client) -> None:
    response = admin.post(
        LIST,
        {
            "url": "https://ehr.example.org/in",
            "description": "EHR",
            "events": ["session.booked", "session.moved"],
        },
    )
    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]  # as every staff page
    endpoint = WebhookEndpoint.objects.get(clinic=clinic)
    secret = services.endpoint_secret(endpoint)
    assert secret in response.content.decode()
    assert endpoint.events == ["session.booked", "session.moved"]
    later = admin.get(LIST).content.decode() + admin.get(f"{LIST}{endpoint.pk}/").content.decode()
    assert secret not in later and endpoint.secret_hint in later


def test_an_http_url_is_refused_on_the_form(clinic: Any, admin: Client) -> None:
    response = admin.post(LIST, {"url": "http://ehr.example.org/in", "events": ["session.booked"]})
    assert response.status_code == 400
    assert "must be https://" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_disabling_cancels_and_the_log_shows(clinic: Any, admin: Client) -> None:
    endpoint = _endpoint(clinic)
    now = timezone.now()
    WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_id="00000000-0000-4000-8000-000000000001",
        event=WebhookEvent.SESSION_MISSED,
        body="{}",
        scheduled_for=now,
    )
    WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_id="00000000-0000-4000-8000-000000000002",
        event=WebhookEvent.SESSION_MISSED,
        body="{}",
        scheduled_for=now - dt.timedelta(minutes=5),
        status=DeliveryStatus.FAILED,
        attempts=1,
        response_code=410,
        last_error="refused with 410: not retried",
    )
    page = admin.get(f"{LIST}{endpoint.pk}/").content.decode()
    assert "refused with 410: not retried" in page and "410" in page
    saved = admin.post(
        f"{LIST}{endpoint.pk}/",
        {"action": "save", "url": endpoint.url, "events": ["session.missed"], "description": ""},
    )
    assert saved.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.active is False
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {
        "cancelled",
        "failed",
    }


def test_a_new_secret_and_removing(clinic: Any, admin: Client) -> None:
    endpoint = _endpoint(clinic)
    old = services.endpoint_secret(endpoint)
    rotated = admin.post(f"{LIST}{endpoint.pk}/", {"action": "rotate"})
    assert rotated.status_code == 200
    endpoint.refresh_from_db()
    new = services.endpoint_secret(endpoint)
    assert new != old and new in rotated.content.decode()
    assert admin.post(f"{LIST}{endpoint.pk}/", {"action": "delete"}).status_code == 302
    assert not WebhookEndpoint.objects.exists()
