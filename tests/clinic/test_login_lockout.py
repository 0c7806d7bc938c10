"""Login lockout per username and per client address, on all three login paths, the
client address behind trusted proxies only, and logins in the audit trail (issue 15,
item 2)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from clinic.client_address import client_address
from clinic.models import AuditAction, AuditEvent, AuditOutcome, Role
from clinic.token_api import LoginRateThrottle

PASSWORD = "correct horse battery"  # tests.factories.UserFactory's
START = dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _limits(settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 5
    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=15)
    settings.TRUSTED_PROXY_COUNT = 0
    # The per-minute throttle stays out of the way: these tests are about the lockout.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login": "1000/min"},
    }


@pytest.fixture
def frank(staff: Any) -> Any:
    return staff(Role.FRONT_DESK, username="frank")


def _api_login(password: str, username: str = "frank", **headers: str) -> Any:
    return APIClient().post(
        "/api/v1/auth/token/",
        {"username": username, "password": password},
        format="json",
        **headers,
    )


def test_api_lockout_is_not_bypassed_by_x_forwarded_for(frank: Any) -> None:
    """The attack: a new X-Forwarded-For on each try reset the throttle's count."""
    statuses = [
        _api_login("wrong", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code for n in range(8)
    ]
    # The fifth failure is answered with the lockout already.
    assert statuses == [401] * 4 + [429] * 4
    response = _api_login(PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "locked_out"
    assert body["retry_after"] == 900 and response["Retry-After"] == "900"
    assert "15 minutes" in body["detail"]


def test_api_lockout_ends_by_itself(frank: Any) -> None:
    with time_machine.travel(START, tick=False):
        for _ in range(5):
            _api_login("wrong")
    with time_machine.travel(START + dt.timedelta(minutes=10), tick=False):
        # A try during the lockout neither counts nor extends it.
        assert _api_login("wrong").status_code == 429
        assert _api_login(PASSWORD).status_code == 429
    with time_machine.travel(START + dt.timedelta(minutes=15, seconds=1), tick=False):
        assert _api_login(PASSWORD).status_code == 200


def test_login_page_locks_out_and_unlocks_in_time(frank: Any) -> None:
    """The attack: 40 wrong passwords on /accounts/login/, then the right one logged in."""
    client = Client()
    with time_machine.travel(START, tick=False):
        statuses = [
            client.post("/accounts/login/", {"username": "frank", "password": "nope"}).status_code
            for _ in range(5)
        ]
        assert statuses == [200] * 4 + [429]  # the form with its error, then the lockout
        locked = client.post("/accounts/login/", {"username": "frank", "password": PASSWORD})
        assert locked.status_code == 429
        assert b"Login blocked for now" in locked.content
        assert b"15 minutes" in locked.content
        assert client.get("/").status_code == 302  # not logged in
    with time_machine.travel(START + dt.timedelta(minutes=16), tick=False):
        response = client.post("/accounts/login/", {"username": "frank", "password": PASSWORD})
        assert response.status_code == 302
        assert client.get("/", follow=True).status_code == 200


def test_admin_login_locks_out(superuser: Any) -> None:
    client = Client()
    name = superuser.username
    for _ in range(5):
        client.post("/admin/login/", {"username": name, "password": "nope"})
    locked = client.post("/admin/login/?next=/admin/", {"username": name, "password": PASSWORD})
    assert locked.status_code == 429
    assert b"Login blocked for now" in locked.content
    assert client.get("/admin/").status_code == 302


def test_one_address_trying_many_usernames_is_locked_out(frank: Any, staff: Any) -> None:
    staff(Role.TECHNICIAN, username="tina")
    for n in range(5):
        _api_login("wrong", username=f"guess{n}", REMOTE_ADDR="192.0.2.10")
    assert _api_login(PASSWORD, REMOTE_ADDR="192.0.2.10").status_code == 429
    # Neither frank nor the addresses of other clients are locked by it.
    assert _api_login(PASSWORD, REMOTE_ADDR="192.0.2.11").status_code == 200
    assert _api_login(PASSWORD, username="tina", REMOTE_ADDR="192.0.2.12").status_code == 200


def test_one_username_tried_from_many_addresses_is_locked_out(frank: Any) -> None:
    for n in range(5):
        _api_login("wrong", REMOTE_ADDR=f"192.0.2.{n}")
    assert _api_login(PASSWORD, REMOTE_ADDR="192.0.2.99").status_code == 429
    # The lockout is the three paths': the login page refuses frank too.
    page = Client(REMOTE_ADDR="192.0.2.98").post(
        "/accounts/login/", {"username": "frank", "password": PASSWORD}
    )
    assert page.status_code == 429


def test_behind_a_trusted_proxy_the_proxy_given_address_counts(
    frank: Any, staff: Any, settings: Any
) -> None:
    """With one proxy, the right-most X-Forwarded-For entry is the client; whatever the
    client wrote to the left of it changes nothing."""
    settings.TRUSTED_PROXY_COUNT = 1
    staff(Role.TECHNICIAN, username="tina")
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for n in range(5):
        _api_login(
            "wrong", username=f"guess{n}", HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, 198.51.100.5", **proxy
        )
    assert (
        _api_login(
            PASSWORD, username="tina", HTTP_X_FORWARDED_FOR="9.9.9.9, 198.51.100.5", **proxy
        ).status_code
        == 429
    )
    assert (
        _api_login(
            PASSWORD, username="tina", HTTP_X_FORWARDED_FOR="198.51.100.6", **proxy
        ).status_code
        == 200
    )


@pytest.mark.parametrize(
    ("proxies", "forwarded", "remote", "expected"),
    [
        (0, "203.0.113.9", "192.0.2.1", "192.0.2.1"),  # no proxy: the header is ignored
        (1, "203.0.113.9", "10.0.0.2", "203.0.113.9"),
        (1, "6.6.6.6, 203.0.113.9", "10.0.0.2", "203.0.113.9"),  # the client's own entry
        (2, "6.6.6.6, 203.0.113.9, 10.0.0.3", "10.0.0.2", "203.0.113.9"),
        (2, "203.0.113.9", "10.0.0.2", "10.0.0.2"),  # too few hops: the connection's
        (1, "not-an-address", "10.0.0.2", "10.0.0.2"),
        (1, "", "10.0.0.2", "10.0.0.2"),
        (0, "", "garbage", None),
    ],
)
def test_client_address(
    proxies: int, forwarded: str, remote: str, expected: str | None, settings: Any
) -> None:
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR=remote)
    assert client_address(request) == expected


def test_the_login_throttle_keys_on_the_same_address(settings: Any) -> None:
    from rest_framework.request import Request

    factory = RequestFactory()
    throttle = LoginRateThrottle()
    idents = {
        throttle.get_ident(
            Request(
                factory.post("/", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}", REMOTE_ADDR="192.0.2.1")
            )
        )
        for n in range(3)
    }
    assert idents == {"192.0.2.1"}


# --- the audit trail ----------------------------------------------------------------------


def _events() -> list[tuple[str, str, str, str | None, str]]:
    return [
        (e.action, e.outcome, e.username, e.client_address, e.channel)
        for e in AuditEvent.objects.order_by("id")
    ]


def test_logins_and_failures_go_to_the_audit_trail(frank: Any, superuser: Any) -> None:
    _api_login(PASSWORD, REMOTE_ADDR="192.0.2.1")
    _api_login("wrong", REMOTE_ADDR="192.0.2.1")
    _api_login("wrong", username="nobody", REMOTE_ADDR="192.0.2.1")
    Client(REMOTE_ADDR="192.0.2.2").post(
        "/accounts/login/", {"username": "frank", "password": PASSWORD}
    )
    Client(REMOTE_ADDR="192.0.2.3").post(
        "/admin/login/", {"username": superuser.username, "password": "nope"}
    )
    assert _events() == [
        ("login", "ok", "frank", "192.0.2.1", "api"),
        ("login_failed", "refused", "frank", "192.0.2.1", "api"),
        ("login_failed", "refused", "nobody", "192.0.2.1", "api"),
        ("login", "ok", "frank", "192.0.2.2", "page"),
        ("login_failed", "refused", superuser.username, "192.0.2.3", "admin"),
    ]
    first = AuditEvent.objects.order_by("id").first()
    assert first is not None and first.actor == frank
    assert AuditEvent.objects.get(username="nobody").actor is None
    frank.refresh_from_db()
    assert frank.last_login is not None  # the token login counts as a login


def test_lockouts_are_in_the_audit_trail(frank: Any) -> None:
    for _ in range(6):
        _api_login("wrong")
    outcomes = list(
        AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED)
        .order_by("id")
        .values_list("outcome", flat=True)
    )
    assert outcomes == [AuditOutcome.REFUSED] * 4 + [AuditOutcome.LOCKED_OUT] * 2


def test_audit_events_are_append_only(frank: Any) -> None:
    _api_login(PASSWORD)
    event = AuditEvent.objects.get()
    event.outcome = AuditOutcome.REFUSED
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()
