from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from rest_framework.test import APIClient

from clinic import services, tokens
from clinic.models import ApiToken, Role


@pytest.fixture
def frontdesk(staff: Any) -> Any:
    return staff(Role.FRONT_DESK, username="frank")


def _login(client: APIClient, username: str, password: str) -> Any:
    return client.post(
        "/api/v1/auth/token/", {"username": username, "password": password}, format="json"
    )


def test_token_then_bearer(frontdesk: Any) -> None:
    client = APIClient()
    response = _login(client, "frank", "correct horse battery")
    assert response.status_code == 200
    token = response.json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/api/v1/patients/").status_code == 200


def test_wrong_password(frontdesk: Any) -> None:
    response = _login(APIClient(), "frank", "wrong")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


def test_inactive_user_cannot_log_in(frontdesk: Any) -> None:
    frontdesk.is_active = False
    frontdesk.save()
    assert _login(APIClient(), "frank", "correct horse battery").status_code == 401


def test_missing_fields(db: None) -> None:
    response = APIClient().post("/api/v1/auth/token/", {}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"username", "password"}


def test_bad_token(db: None) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer nope")
    response = client.get("/api/v1/patients/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_token_expires_and_login_issues_a_new_one(frontdesk: Any, settings: Any) -> None:
    settings.API_TOKEN_TTL_HOURS = 1
    client = APIClient()
    with time_machine.travel(dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC), tick=False):
        old = _login(client, "frank", "correct horse battery").json()["token"]
    with time_machine.travel(dt.datetime(2026, 11, 2, 10, 1, tzinfo=dt.UTC), tick=False):
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {old}")
        assert client.get("/api/v1/patients/").status_code == 401
        new = _login(APIClient(), "frank", "correct horse battery").json()["token"]
        assert new != old
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {new}")
        assert client.get("/api/v1/patients/").status_code == 200


def test_purge_expired_logins(frontdesk: Any, settings: Any) -> None:
    settings.API_TOKEN_TTL_HOURS = 1
    with time_machine.travel(dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC), tick=False):
        tokens.new_token(frontdesk, "laptop")
    with time_machine.travel(dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC), tick=False):
        assert services.purge_expired_logins()["tokens"] == 0
    with time_machine.travel(dt.datetime(2026, 11, 2, 10, 30, tzinfo=dt.UTC), tick=False):
        assert services.purge_expired_logins()["tokens"] == 1
    assert not ApiToken.objects.exists()


def test_login_is_throttled(frontdesk: Any, settings: Any) -> None:
    client = APIClient()
    statuses = [_login(client, "frank", "wrong").status_code for _ in range(25)]
    assert statuses[0] == 401
    assert statuses[-1] == 429


def test_removed_staff_lose_access(staff: Any, api: Any, clinic: Any) -> None:
    admin = staff(Role.CLINIC_ADMIN)
    tech = staff(Role.TECHNICIAN)
    tech_client = api(tech)
    assert tech_client.get("/api/v1/chairs/").status_code == 200
    assert api(admin).delete(f"/api/v1/staff/{tech.pk}/").status_code == 204
    tech.refresh_from_db()
    assert not tech.is_active
    assert tech_client.get("/api/v1/chairs/").status_code == 401


def test_session_login_for_html_pages(frontdesk: Any, client: Any) -> None:
    assert client.get("/").status_code == 302
    response = client.post(
        "/accounts/login/", {"username": "frank", "password": "correct horse battery"}
    )
    assert response.status_code == 302
    page = client.get("/", follow=True)
    assert page.status_code == 200 and page.redirect_chain == [("/board/", 302)]
    assert b"Brooklyn" in page.content
