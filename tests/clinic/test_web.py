"""What every staff page shares: login, idle expiry, role-aware navigation and the
clinic switcher."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from clinic.models import Role
from clinic.web import NAVIGATION
from tests.factories import MembershipFactory

START = dt.datetime(2026, 11, 25, 14, 0, tzinfo=dt.UTC)


def _nav_labels(client: Client) -> list[str]:
    response = client.get("/", follow=True)
    assert response.status_code == 200
    return [link["label"] for link in response.context["nav_links"]]


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (
            Role.FRONT_DESK,
            [
                "Day board",
                "Patients",
                "Book a course",
                "Waitlist",
                "Capacity",
                "Closures",
                "Outbox",
                "Patient messages",
            ],
        ),
        (Role.TECHNICIAN, ["Patients", "Today's sessions"]),
        (Role.PSYCHIATRIST, ["Patients", "My courses", "Outcomes", "Outbox"]),
        (Role.CLINIC_ADMIN, [label for label, _, _ in NAVIGATION]),
    ],
)
def test_navigation_follows_the_role(
    client: Client, staff: Callable[..., Any], role: str, expected: list[str]
) -> None:
    client.force_login(staff(role))
    assert _nav_labels(client) == expected


@pytest.mark.parametrize(
    ("role", "landing"),
    [
        (Role.FRONT_DESK, "/board/"),
        (Role.TECHNICIAN, "/today/"),
        (Role.PSYCHIATRIST, "/courses/mine/"),
        (Role.CLINIC_ADMIN, "/board/"),
    ],
)
def test_home_opens_on_the_roles_work(
    client: Client, staff: Callable[..., Any], role: str, landing: str
) -> None:
    client.force_login(staff(role))
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == landing


def test_home_without_a_clinic_says_so(client: Client, django_user_model: Any) -> None:
    client.force_login(django_user_model.objects.create_user("nobody", password="x-long-pass-1"))
    response = client.get("/")
    assert response.status_code == 200
    assert b"You do not belong to any clinic yet" in response.content


def test_every_navigation_link_opens_for_the_roles_that_see_it(
    client: Client, staff: Callable[..., Any]
) -> None:
    for role in Role.values:
        client.force_login(staff(role))
        for link in client.get("/", follow=True).context["nav_links"]:
            assert client.get(link["url"]).status_code == 200, (role, link["url"])


def test_anonymous_visitors_are_sent_to_the_login_page(client: Client) -> None:
    for _, name, _ in NAVIGATION:
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


def test_a_session_ends_after_fifteen_idle_minutes_and_activity_keeps_it(
    client: Client, staff: Callable[..., Any], settings: Any
) -> None:
    assert settings.SESSION_COOKIE_AGE == 15 * 60
    user = staff(Role.FRONT_DESK)
    with time_machine.travel(START, tick=False) as clock:
        client.force_login(user)
        for _ in range(3):  # every 14 minutes of activity moves the deadline on
            clock.shift(dt.timedelta(minutes=14))
            assert client.get("/").status_code == 302  # to the board: activity too
        clock.shift(dt.timedelta(minutes=15, seconds=1))
        response = client.get("/")
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


BOARD_REFRESH = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TRIGGER": "board-live"}


def test_the_boards_own_refresh_does_not_keep_a_session_alive(
    client: Client, staff: Callable[..., Any]
) -> None:
    user = staff(Role.FRONT_DESK)
    with time_machine.travel(START, tick=False) as clock:
        client.force_login(user)
        assert client.get("/board/").status_code == 200
        for _ in range(3):  # an unattended desk: only the timer asks for the board
            clock.shift(dt.timedelta(minutes=5))
            refresh = client.get("/board/?date=2026-11-25", **BOARD_REFRESH)
            assert refresh.status_code == 200
            assert "sessionid" not in refresh.cookies  # the cookie is not renewed
        clock.shift(dt.timedelta(minutes=1))  # 16 minutes after the last real request
        ended = client.get("/board/?date=2026-11-25", **BOARD_REFRESH)
    # The whole page goes to the login (htmx follows HX-Redirect), then back to the board.
    assert ended.status_code == 200
    assert ended["HX-Redirect"] == "/accounts/login/?next=/board/%3Fdate%3D2026-11-25"


def test_a_button_pressed_after_the_session_ended_takes_the_page_to_the_login(
    client: Client,
) -> None:
    pressed = client.post(
        "/board/sessions/1/check-in/",
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://testserver/board/?date=2026-11-25",
    )
    assert pressed.status_code == 200
    assert pressed["HX-Redirect"] == "/accounts/login/?next=/board/%3Fdate%3D2026-11-25"
    plain = client.post("/board/sessions/1/check-in/")
    assert plain.status_code == 302
    assert plain["Location"] == "/accounts/login/?next=/board/sessions/1/check-in/"


def test_other_htmx_requests_are_activity(client: Client, staff: Callable[..., Any]) -> None:
    user = staff(Role.FRONT_DESK)
    client.force_login(user)
    response = client.get("/board/", HTTP_HX_REQUEST="true", HTTP_HX_TRIGGER="session-7")
    assert response.status_code == 200
    assert "sessionid" in response.cookies


def test_the_switcher_changes_clinic_only_to_ones_the_user_works_for(
    client: Client, staff: Callable[..., Any], clinic: Any, other_clinic: Any
) -> None:
    user = staff(Role.FRONT_DESK)
    client.force_login(user)
    assert client.get("/", follow=True).context["workplace"].clinic == clinic

    refused = client.post(reverse("switch-clinic"), {"clinic": other_clinic.pk, "next": "/"})
    assert refused.status_code == 403
    assert client.get("/", follow=True).context["workplace"].clinic == clinic

    MembershipFactory(user=user, clinic=other_clinic, role=Role.PSYCHIATRIST)
    moved = client.post(
        reverse("switch-clinic"), {"clinic": other_clinic.pk, "next": "https://evil.example/"}
    )
    assert moved.status_code == 302 and moved["Location"] == "/"
    place = client.get("/", follow=True).context["workplace"]
    assert (place.clinic, place.role) == (other_clinic, Role.PSYCHIATRIST)
    assert _nav_labels(client) == ["Patients", "My courses", "Outcomes", "Outbox"]


def test_the_switcher_rejects_garbage(client: Client, staff: Callable[..., Any]) -> None:
    client.force_login(staff(Role.FRONT_DESK))
    assert client.post(reverse("switch-clinic"), {"clinic": "x"}).status_code == 403
    assert client.get(reverse("switch-clinic")).status_code == 405


def test_superusers_may_pick_any_clinic(
    client: Client, superuser: Any, clinic: Any, other_clinic: Any
) -> None:
    client.force_login(superuser)
    assert client.post(reverse("switch-clinic"), {"clinic": other_clinic.pk}).status_code == 302
    place = client.get("/", follow=True).context["workplace"]
    assert place.clinic == other_clinic and place.role is None
    assert _nav_labels(client) == [label for label, _, _ in NAVIGATION]
