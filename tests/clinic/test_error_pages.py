"""The 403 and 404 pages: the site's layout with the viewer's navigation, so a person
who took a wrong turn goes on from there; an anonymous visitor sees no navigation and
nothing about any clinic."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.test import Client

from clinic.models import Role


def test_a_missing_page_keeps_the_navigation(client: Client, staff: Callable[..., Any]) -> None:
    client.force_login(staff(Role.FRONT_DESK))
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    text = response.content.decode()
    assert "<h1>Page not found</h1>" in text
    assert 'aria-label="Main"' in text and "Day board" in text
    assert "Go to your start page" in text


def test_another_clinics_session_is_a_styled_404(
    client: Client, staff: Callable[..., Any], other_clinic: Any
) -> None:
    client.force_login(staff(Role.FRONT_DESK, in_clinic=other_clinic))
    response = client.get("/board/sessions/999999/move/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


def test_an_anonymous_404_shows_no_navigation(client: Client, db: None) -> None:
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    text = response.content.decode()
    assert "Page not found" in text and "Log in" in text
    assert 'aria-label="Main"' not in text and "Log out" not in text


def test_a_page_outside_the_role_is_a_styled_403(client: Client, staff: Callable[..., Any]) -> None:
    client.force_login(staff(Role.TECHNICIAN))
    response = client.get("/outbox/")
    assert response.status_code == 403
    text = response.content.decode()
    assert "This page is not part of your role" in text
    assert "Your role does not include the outbox." in text
    assert "Today&#x27;s sessions" in text or "Today's sessions" in text


def test_the_api_keeps_its_json_errors(api_as: Any) -> None:
    response = api_as(Role.TECHNICIAN).get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
