"""The webhook endpoints API: its role matrix (docs/roles.md: clinic admins only),
the secret shown once, refusals with codes, the delivery log, query counts and the
OpenAPI document."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from clinic.models import Role
from notifications import services
from notifications.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent
from tests.permissions import (
    ACTIONS,
    ACTORS,
    ADMIN,
    Action,
    Resource,
    run_action,
    run_cell,
)

PATH = "/api/v1/webhook-endpoints/"


def _endpoint(clinic: Any) -> WebhookEndpoint:
    endpoint, _ = services.webhook_endpoint_create(
        clinic, url="https://ehr.example.org/hooks", events=[WebhookEvent.SESSION_BOOKED]
    )
    return endpoint


def _deliveries(endpoint: WebhookEndpoint, count: int) -> None:
    now = timezone.now()
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            endpoint=endpoint,
            event_id=f"00000000-0000-4000-8000-{n:012d}",
            event=WebhookEvent.SESSION_BOOKED,
            body="{}",
            scheduled_for=now,
            status=DeliveryStatus.SENT if n % 2 else DeliveryStatus.FAILED,
            attempts=1,
            response_code=204 if n % 2 else 410,
        )
        for n in range(count)
    )


ENDPOINTS = Resource(
    path=PATH,
    target=_endpoint,
    create=lambda clinic: {
        "clinic": clinic.pk,
        "url": "https://billing.example.org/in",
        "events": ["session.completed", "course.status_changed"],
    },
    patch={"description": "Billing", "active": False},
    read=ADMIN,
)
ENDPOINT_ACTIONS = {
    "deliveries": Action("get", lambda e: f"{PATH}{e.pk}/deliveries/", _endpoint, {}, ADMIN),
    "rotate-secret": Action("post", lambda e: f"{PATH}{e.pk}/rotate-secret/", _endpoint, {}, ADMIN),
}


def _fixtures(**kwargs: Any) -> dict[str, Any]:
    return kwargs


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("actor", ACTORS)
def test_endpoint_role_matrix(
    actor: str, action: str, clinic: Any, other_clinic: Any, staff: Any, superuser: Any, api: Any
) -> None:
    run_cell(
        ENDPOINTS,
        actor,
        action,
        _fixtures(
            clinic=clinic, other_clinic=other_clinic, staff=staff, superuser=superuser, api=api
        ),
    )


@pytest.mark.parametrize("name", list(ENDPOINT_ACTIONS))
@pytest.mark.parametrize("actor", ACTORS)
def test_endpoint_actions_role_matrix(
    name: str, actor: str, clinic: Any, other_clinic: Any, staff: Any, superuser: Any, api: Any
) -> None:
    run_action(
        ENDPOINT_ACTIONS[name],
        actor,
        _fixtures(
            clinic=clinic, other_clinic=other_clinic, staff=staff, superuser=superuser, api=api
        ),
    )


def test_the_secret_is_in_the_create_answer_only(clinic: Any, api_as: Any) -> None:
    client = api_as(Role.CLINIC_ADMIN)
    created = client.post(
        PATH,
        {"clinic": clinic.pk, "url": "https://ehr.example.org/a", "events": ["session.booked"]},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert body["secret_hint"] == body["secret"][:10]
    endpoint = WebhookEndpoint.objects.get(pk=body["id"])
    assert services.endpoint_secret(endpoint) == body["secret"]
    assert endpoint.created_by is not None
    read = client.get(f"{PATH}{body['id']}/").json()
    listed = client.get(PATH).json()["results"]
    assert "secret" not in read and all("secret" not in row for row in listed)
    rotated = client.post(f"{PATH}{body['id']}/rotate-secret/").json()
    assert rotated["secret"] != body["secret"]
    endpoint.refresh_from_db()
    assert services.endpoint_secret(endpoint) == rotated["secret"]


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"url": "http://ehr.example.org/a"}, "url", "must be https://"),
        ({"url": "not a url"}, "url", "valid URL"),
        ({"events": []}, "events", "may not be empty"),
        ({"events": ["session.exploded"]}, "events", "not a valid choice"),
    ],
)
def test_refusals_name_the_field(
    payload: dict[str, Any], field: str, message: str, clinic: Any, api_as: Any
) -> None:
    body = {"clinic": clinic.pk, "url": "https://ehr.example.org/a", "events": ["session.booked"]}
    response = api_as(Role.CLINIC_ADMIN).post(PATH, {**body, **payload}, format="json")
    assert response.status_code == 400, response.content
    answer = response.json()
    assert answer["code"] == "invalid" and message in str(answer["errors"][field])
    assert not WebhookEndpoint.objects.exists()


def test_an_endpoint_stays_in_its_clinic_and_disabling_cancels(
    clinic: Any, other_clinic: Any, superuser: Any, api: Any
) -> None:
    endpoint = _endpoint(clinic)
    _deliveries(endpoint, 2)
    WebhookDelivery.objects.filter(endpoint=endpoint).update(status=DeliveryStatus.PENDING)
    response = api(superuser).patch(
        f"{PATH}{endpoint.pk}/", {"clinic": other_clinic.pk, "active": False}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["clinic"] == clinic.pk and response.json()["active"] is False
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"cancelled"}


def test_the_delivery_log_newest_first(clinic: Any, api_as: Any) -> None:
    endpoint = _endpoint(clinic)
    _deliveries(endpoint, 3)
    WebhookDelivery.objects.filter(event_id="00000000-0000-4000-8000-000000000002").update(
        created_at=timezone.now() + dt.timedelta(seconds=5), last_error="refused with 410"
    )
    log = api_as(Role.CLINIC_ADMIN).get(f"{PATH}{endpoint.pk}/deliveries/").json()
    assert log["count"] == 3
    newest = log["results"][0]
    assert newest["event_id"] == "00000000-0000-4000-8000-000000000002"
    assert (newest["status"], newest["attempts"], newest["response_code"]) == ("failed", 1, 410)
    assert newest["last_error"] == "refused with 410"
    assert "body" not in newest


def test_deleting_removes_the_log(clinic: Any, api_as: Any) -> None:
    endpoint = _endpoint(clinic)
    _deliveries(endpoint, 2)
    assert api_as(Role.CLINIC_ADMIN).delete(f"{PATH}{endpoint.pk}/").status_code == 204
    assert not WebhookDelivery.objects.exists()


LIST_QUERIES = 4  # whatever the number of rows


@pytest.mark.parametrize("count", [1, 12])
def test_lists_cost_the_same_for_any_length(
    count: int, clinic: Any, api_as: Any, django_assert_num_queries: Any
) -> None:
    client = api_as(Role.CLINIC_ADMIN)
    endpoints = [_endpoint(clinic) for _ in range(count)]
    _deliveries(endpoints[0], count)
    with django_assert_num_queries(LIST_QUERIES):
        assert client.get(PATH).json()["count"] == count
    with django_assert_num_queries(LIST_QUERIES + 1):  # the endpoint itself
        assert client.get(f"{PATH}{endpoints[0].pk}/deliveries/").json()["count"] == count


def test_openapi_documents_the_webhook_endpoints(client: Any, db: None) -> None:
    schema = client.get("/api/schema/?format=json").json()
    paths = schema["paths"]
    assert {"get", "post"} <= set(paths[PATH])
    assert {"get", "patch", "put", "delete"} <= set(paths[PATH + "{id}/"])
    deliveries = paths[PATH + "{id}/deliveries/"]["get"]["responses"]["200"]
    ref = deliveries["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    page = schema["components"]["schemas"][ref]["properties"]["results"]["items"]["$ref"]
    log = schema["components"]["schemas"][page.rsplit("/", 1)[1]]["properties"]
    assert {"status", "attempts", "response_code", "last_error", "event_id"} <= set(log)
    created = paths[PATH]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    with_secret = schema["components"]["schemas"][created["$ref"].rsplit("/", 1)[1]]
    assert "secret" in with_secret["properties"]
    read = schema["components"]["schemas"]["WebhookEndpoint"]["properties"]
    assert "secret" not in read and "secret_salt" not in read
    events = schema["components"]["schemas"]["WebhookEndpointRequest"]["properties"]["events"]
    assert "session.booked" in str(schema["components"]["schemas"]) and events["type"] == "array"
    assert "rotate-secret" in str(paths)
