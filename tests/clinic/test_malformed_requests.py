"""Malformed bodies and NUL characters are 400s, never 500s (issue 15, item 7).

The attacks as sent: 100,000 nested ``[`` (RecursionError in Python's decoder),
``1e400`` (infinity, which overflowed where it was converted), and a NUL byte in the
booking page's patient search (PostgreSQL's text cannot hold it).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from clinic.models import Role
from clinic.parsers import MAX_DEPTH, nesting_depth
from tests.factories import PatientFactory
from tests.notifications.test_webhooks import AUTH_TOKEN, INBOUND_URL, inbound, post


@pytest.fixture
def desk_client(staff: Any, api: Any) -> Any:
    """Front desk registers patients (the API these bodies are sent to)."""
    return api(staff(Role.FRONT_DESK))


def _post_raw(client: Any, path: str, body: str) -> Any:
    return client.generic("POST", path, body, content_type="application/json")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("[" * 100_000, id="100000-brackets"),
        pytest.param('{"mrn": ' + "[" * 100_000 + "]" * 100_000 + "}", id="deep-but-closed"),
        pytest.param('{"a": ' * 50 + "1" + "}" * 50, id="50-objects"),
    ],
)
def test_deep_nesting_is_a_parse_error(desk_client: Any, body: str) -> None:
    response = _post_raw(desk_client, "/api/v1/patients/", body)
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/patients/", '{"mrn": 1e400}'),
        ("/api/v1/patients/", '{"mrn": -1e400}'),
        ("/api/v1/patients/", '{"mrn": NaN}'),
        ("/api/v1/patients/", '{"mrn": Infinity}'),
        ("/api/v1/patients/", '{"mrn": ' + "9" * 5000 + "}"),
        ("/api/v1/protocols/", '{"slot_minutes": 1e400, "phases": []}'),
        ("/api/v1/chairs/", '{"name": "A", "device": 1e400}'),
    ],
)
def test_non_finite_and_huge_numbers_are_a_parse_error(
    staff: Any, api: Any, path: str, body: str
) -> None:
    # Each body goes to someone who may write there: patients are the front desk's,
    # protocols and chairs the clinic admin's.
    role = Role.FRONT_DESK if path == "/api/v1/patients/" else Role.CLINIC_ADMIN
    response = _post_raw(api(staff(role)), path, body)
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_a_nul_in_a_json_string_is_refused(clinic: Any, desk_client: Any) -> None:
    body = (
        f'{{"clinic": {clinic.pk}, "mrn": "A-1", "first_name": "A", "last_name": "B",'
        ' "date_of_birth": "1980-01-02", "extra": {"k": "a\\u0000b"}}'
    )
    response = _post_raw(desk_client, "/api/v1/patients/", body)
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_ordinary_bodies_still_parse(clinic: Any, desk_client: Any) -> None:
    body = (
        f'{{"clinic": {clinic.pk}, "mrn": "A-1", "first_name": "Ana \\"[{{\\"",'
        ' "last_name": "Lopez", "date_of_birth": "1980-01-02", "phone": "+1 (718) 555-0142"}'
    )
    response = _post_raw(desk_client, "/api/v1/patients/", body)
    assert response.status_code == 201, response.json()
    assert response.json()["first_name"] == 'Ana "[{"'


def test_nesting_is_counted_outside_strings_only() -> None:
    assert nesting_depth('{"a": "[[[[[[[[", "b": [[1]]}') == 3
    assert nesting_depth('"unterminated \\" [[[[') == 0
    assert nesting_depth("[" * MAX_DEPTH + "]" * MAX_DEPTH) == MAX_DEPTH


# --- NUL characters in query strings and form fields -----------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/courses/book/patients/?q=ab%00c",
        "/courses/book/?q=%00",
        "/courses/book/patients/?patient=1%00",
        "/closures/?date=%00",
        "/board/?date=2026-12-02%00",
    ],
)
def test_a_nul_in_a_page_query_is_400(page_as: Any, path: str) -> None:
    response = page_as(Role.FRONT_DESK).get(path)
    assert response.status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/patients/?q=a%00b",
        "/api/v1/sessions/?status=%00",
        "/api/v1/courses/?patient=%00",
    ],
)
def test_a_nul_in_an_api_query_is_400(api_as: Any, path: str) -> None:
    response = api_as(Role.CLINIC_ADMIN).get(path)
    assert response.status_code == 400
    assert response.json()["code"] == "nul_character"


def test_a_nul_in_a_page_form_is_400(page_as: Any) -> None:
    response = page_as(Role.FRONT_DESK).post("/courses/book/", {"patient": "1\x00"})
    assert response.status_code == 400


def test_a_nul_in_a_signed_sms_webhook_is_400(settings: Any, db: None) -> None:
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    PatientFactory(phone="+13475550123", sms_consent=True)
    response = post(INBOUND_URL, inbound("STOP\x00"))
    assert response.status_code == 400


def test_search_without_nul_still_works(page_as: Any, clinic: Any) -> None:
    PatientFactory(clinic=clinic, first_name="Zelda")
    response = page_as(Role.FRONT_DESK).get("/courses/book/patients/?q=Zel")
    assert response.status_code == 200
    assert b"Zelda" in response.content


def test_an_anonymous_nul_is_refused_before_the_login_redirect(client: Client) -> None:
    assert client.get("/courses/book/patients/?q=%00").status_code == 400
