"""API tokens (issue 15, item 4): one per login (device, named), stored as a digest,
listed and revoked by their owner, all revoked on a password change, a reset and
deactivation. Before, every login returned the same clear-text token, which a password
change, a reset or a logout left working for 30 days."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest
import time_machine
from django.apps import apps
from django.db import connection
from django.db.models import CharField, JSONField, TextField
from django.db.models.functions import Cast
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from clinic import accounts, tokens
from clinic.models import ApiToken, Role
from tests.factories import MembershipFactory

PASSWORD = "correct horse battery"  # tests.factories.UserFactory's
NEW_PASSWORD = "lilac tuesday orbit 7"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
FIELDS = {"id", "name", "created", "last_used", "expires", "current"}


def _login(username: str, password: str = PASSWORD, agent: str = "", **body: Any) -> Any:
    return APIClient().post(
        "/api/v1/auth/token/",
        {"username": username, "password": password, **body},
        format="json",
        HTTP_USER_AGENT=agent,
    )


def _token(username: str, **body: Any) -> str:
    response = _login(username, **body)
    assert response.status_code == 200, response.content
    return str(response.json()["token"])


def _bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _works(token: str) -> bool:
    status = _bearer(token).get("/api/v1/auth/tokens/").status_code
    assert status in (200, 401)
    return status == 200


@pytest.fixture
def frank(staff: Any) -> Any:
    return staff(Role.FRONT_DESK, username="frank")


# --- the attacks of the issue --------------------------------------------------------------


def test_each_login_gets_a_token_of_its_own(frank: Any) -> None:
    """The attack: two logins returned the same token, so no device could be logged
    out alone."""
    first = _login("frank", name="Front desk iPad")
    second = _login("frank", name="Back office PC")
    assert first.status_code == second.status_code == 200
    a, b = first.json(), second.json()
    assert a["token"] != b["token"] and a["id"] != b["id"]
    # The answer keeps API.md's {"token"} and adds the token's row.
    assert set(a) == {"token", "id", "name", "created", "expires"}
    assert a["name"] == "Front desk iPad"
    created = dt.datetime.fromisoformat(a["created"])
    assert dt.datetime.fromisoformat(a["expires"]) - created == dt.timedelta(days=30)
    assert _works(a["token"]) and _works(b["token"])
    assert _bearer(a["token"]).delete(f"/api/v1/auth/tokens/{b['id']}/").status_code == 204
    assert _works(a["token"]) and not _works(b["token"])


def test_the_database_never_holds_the_token(frank: Any) -> None:
    """Only the SHA-256 digest is stored: no text column of any table (the tokens, the
    audit trail, sessions, ...) contains the token."""
    plain = _token("frank", agent=FIREFOX)
    assert _works(plain)
    [row] = ApiToken.objects.all()
    assert row.digest == hashlib.sha256(plain.encode()).hexdigest() != plain
    checked = 0
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, CharField | TextField):
                found = model._default_manager.filter(**{f"{field.attname}__contains": plain})
            elif isinstance(field, JSONField):
                found = model._default_manager.annotate(
                    as_text=Cast(field.attname, TextField())
                ).filter(as_text__contains=plain)
            else:
                continue
            assert not found.exists(), f"{model._meta.label}.{field.name}"
            checked += 1
    assert checked > 50
    assert not apps.is_installed("rest_framework.authtoken")


def test_a_password_change_revokes_every_token(frank: Any) -> None:
    """The attack: a stolen token kept working after its owner changed the password."""
    ipad, pc = _token("frank"), _token("frank")
    assert _works(ipad) and _works(pc)
    page = Client()
    page.force_login(frank)
    response = page.post(
        "/accounts/password/change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert not _works(ipad) and not _works(pc)
    assert not ApiToken.objects.filter(user=frank).exists()
    assert _works(_token("frank", password=NEW_PASSWORD))


def test_a_password_reset_revokes_every_token(frank: Any) -> None:
    """The attack: a reset (the owner fearing a stolen password) left tokens working."""
    stolen = _token("frank")
    frank.refresh_from_db()  # the link hashes the last login, which that login changed
    page = Client()
    form = page.get(accounts.set_password_link(frank, ""), follow=True)
    done = page.post(
        form.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert done.status_code == 302 and done["Location"] == "/accounts/reset/done/"
    assert not _works(stolen)


def test_deactivation_revokes_every_token(frank: Any) -> None:
    token = _token("frank")
    frank.is_active = False
    frank.save(update_fields=["is_active"])
    assert not ApiToken.objects.filter(user=frank).exists()
    assert not _works(token)


def test_removal_from_the_last_clinic_revokes_tokens_and_from_one_of_two_does_not(
    staff: Any, api: Any, clinic: Any, other_clinic: Any
) -> None:
    admin = staff(Role.CLINIC_ADMIN)
    both = staff(Role.TECHNICIAN, username="both")
    MembershipFactory(user=both, clinic=other_clinic, role=Role.TECHNICIAN)
    only = staff(Role.TECHNICIAN, username="only")
    both_token, only_token = _token("both"), _token("only")
    assert api(admin).delete(f"/api/v1/staff/{both.pk}/").status_code == 204
    assert api(admin).delete(f"/api/v1/staff/{only.pk}/").status_code == 204
    assert _works(both_token)  # still works for the other clinic
    assert not _works(only_token)
    assert not ApiToken.objects.filter(user=only).exists()


def test_a_saved_profile_or_a_login_leaves_tokens_alone(frank: Any) -> None:
    token = _token("frank")
    frank.first_name = "Francis"
    frank.save()
    _token("frank")  # a login saves last_login
    assert _works(token)


def test_logout_revokes_the_token_in_use_only(frank: Any) -> None:
    """The attack: there was no way to log a token out."""
    ipad, pc = _token("frank"), _token("frank")
    response = _bearer(ipad).delete("/api/v1/auth/token/")
    assert response.status_code == 204
    assert not _works(ipad) and _works(pc)
    assert _bearer(ipad).delete("/api/v1/auth/token/").status_code == 401


def test_logout_needs_a_token(frank: Any) -> None:
    assert APIClient().delete("/api/v1/auth/token/").status_code == 401
    page = APIClient()
    page.force_login(frank)  # a session: there is no token to revoke
    assert page.delete("/api/v1/auth/token/").status_code == 401


# --- how tokens are kept ------------------------------------------------------------------


def test_last_used_is_written_at_most_once_a_minute(frank: Any) -> None:
    start = dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        plain = _token("frank")
    row = ApiToken.objects.get()
    assert row.last_used == row.created == start

    def updates_at(moment: dt.datetime) -> int:
        with time_machine.travel(moment, tick=False), CaptureQueriesContext(connection) as seen:
            assert _works(plain)
        return sum(query["sql"].startswith("UPDATE") for query in seen.captured_queries)

    assert updates_at(start + dt.timedelta(seconds=59)) == 0
    assert updates_at(start + dt.timedelta(seconds=61)) == 1
    assert updates_at(start + dt.timedelta(seconds=90)) == 0
    row.refresh_from_db()
    assert row.last_used == start + dt.timedelta(seconds=61)


def test_expired_tokens_are_refused_and_not_listed(frank: Any, settings: Any) -> None:
    settings.API_TOKEN_TTL_HOURS = 1
    start = dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        old = _token("frank", name="old")
    with time_machine.travel(start + dt.timedelta(minutes=30), tick=False):
        new = _token("frank", name="new")
    with time_machine.travel(start + dt.timedelta(minutes=61), tick=False):
        assert not _works(old)
        listed = _bearer(new).get("/api/v1/auth/tokens/").json()["results"]
        assert [token["name"] for token in listed] == ["new"]


def test_a_person_keeps_at_most_the_configured_number_of_tokens(frank: Any, settings: Any) -> None:
    settings.API_TOKENS_PER_PERSON = 2
    first, second, third = _token("frank"), _token("frank"), _token("frank")
    assert not _works(first)
    assert _works(second) and _works(third)


@pytest.mark.parametrize(
    ("agent", "name"),
    [
        (FIREFOX, "Firefox on Windows"),
        (
            "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
            "Safari on iPad",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like "
            "Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
            "Edge on macOS",
        ),
        ("python-requests/2.32.3", "python-requests/2.32.3"),
        ("curl/8.5.0", "curl/8.5.0"),
        ("", "API client"),
        ("\x07" + "x" * 300, "x" * 100),
        ("Mozilla/5.0 (X11; Linux x86_64)", "Browser on Linux"),
    ],
)
def test_a_token_without_a_name_is_named_after_its_client(agent: str, name: str) -> None:
    assert tokens.default_name(agent) == name


def test_the_name_given_wins_and_is_trimmed(frank: Any) -> None:
    _token("frank", agent=FIREFOX, name="  Front desk\tiPad ")
    _token("frank", agent=FIREFOX, name="")
    names = set(ApiToken.objects.values_list("name", flat=True))
    assert names == {"Front desk iPad", "Firefox on Windows"}
    assert _login("frank", name="x" * 101).status_code == 400


# --- the endpoints, by role ------------------------------------------------------------------

ACTORS = [*Role.values, "other_clinic", "superuser"]


def _actor(name: str, staff: Any, other_clinic: Any, superuser: Any) -> Any:
    if name == "superuser":
        return superuser
    if name == "other_clinic":
        return staff(Role.CLINIC_ADMIN, in_clinic=other_clinic)
    return staff(name)


@pytest.mark.parametrize("actor", ACTORS)
def test_everyone_lists_and_revokes_their_own_tokens_only(
    actor: str, staff: Any, other_clinic: Any, superuser: Any
) -> None:
    user = _actor(actor, staff, other_clinic, superuser)
    in_use, plain = tokens.new_token(user, "laptop")
    spare, spare_plain = tokens.new_token(user, "phone")
    colleague = staff(Role.CLINIC_ADMIN)
    theirs, theirs_plain = tokens.new_token(colleague, "theirs")
    client = _bearer(plain)

    listed = client.get("/api/v1/auth/tokens/")
    assert listed.status_code == 200
    results = listed.json()["results"]
    assert [(t["id"], t["name"], t["current"]) for t in results] == [
        (spare.pk, "phone", False),
        (in_use.pk, "laptop", True),
    ]
    assert all(set(token) == FIELDS for token in results)
    assert plain not in listed.content.decode() and in_use.digest not in listed.content.decode()

    # Another person's token: not found, and it keeps working.
    assert client.delete(f"/api/v1/auth/tokens/{theirs.pk}/").status_code == 404
    assert _works(theirs_plain)
    assert client.delete(f"/api/v1/auth/tokens/{spare.pk}/").status_code == 204
    assert not _works(spare_plain)
    assert client.delete(f"/api/v1/auth/tokens/{spare.pk}/").status_code == 404
    # Revoking the token in use by its id logs this client out.
    assert client.delete(f"/api/v1/auth/tokens/{in_use.pk}/").status_code == 204
    assert client.get("/api/v1/auth/tokens/").status_code == 401


def test_anonymous_gets_401(frank: Any) -> None:
    token, _ = tokens.new_token(frank, "laptop")
    client = APIClient()
    assert client.get("/api/v1/auth/tokens/").status_code == 401
    assert client.delete(f"/api/v1/auth/tokens/{token.pk}/").status_code == 401
    assert client.delete("/api/v1/auth/token/").status_code == 401
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_the_token_list_over_a_session_shows_none_current(frank: Any) -> None:
    tokens.new_token(frank, "laptop")
    client = APIClient()
    client.force_login(frank)
    [token] = client.get("/api/v1/auth/tokens/").json()["results"]
    assert token["current"] is False


def test_a_malformed_token_id_is_404(frank: Any) -> None:
    client = _bearer(tokens.new_token(frank, "laptop")[1])
    assert client.delete("/api/v1/auth/tokens/abc/").status_code == 404
    assert client.delete(f"/api/v1/auth/tokens/{10**30}/").status_code == 404


def test_the_token_list_query_count_is_fixed(frank: Any, django_assert_num_queries: Any) -> None:
    client = _bearer(tokens.new_token(frank, "laptop")[1])
    # token+user, count, page
    with django_assert_num_queries(3):
        assert client.get("/api/v1/auth/tokens/").status_code == 200
    for number in range(12):
        tokens.new_token(frank, f"device {number}")
    with django_assert_num_queries(3):
        assert len(client.get("/api/v1/auth/tokens/").json()["results"]) == 13


def test_the_schema_documents_the_token_endpoints(client: Any, db: None) -> None:
    schema = client.get("/api/schema/?format=json").json()
    paths = schema["paths"]
    assert set(paths["/api/v1/auth/token/"]) == {"post", "delete"}
    assert set(paths["/api/v1/auth/tokens/"]) == {"get"}
    assert set(paths["/api/v1/auth/tokens/{id}/"]) == {"delete"}
    assert {"204", "401"} <= set(paths["/api/v1/auth/token/"]["delete"]["responses"])
    assert "429" not in paths["/api/v1/auth/token/"]["delete"]["responses"]
    assert {"200", "401"} <= set(paths["/api/v1/auth/tokens/"]["get"]["responses"])
    assert {"204", "401", "404"} <= set(paths["/api/v1/auth/tokens/{id}/"]["delete"]["responses"])
    schemas = schema["components"]["schemas"]
    assert set(schemas["Token"]["properties"]) == {"token", "id", "name", "created", "expires"}
    assert set(schemas["ApiToken"]["properties"]) == FIELDS
    assert "name" in schemas["LoginRequest"]["properties"]


# --- the page ---------------------------------------------------------------------------------


@pytest.mark.parametrize("actor", ACTORS)
def test_the_token_page_lists_and_revokes_ones_own(
    actor: str, staff: Any, other_clinic: Any, superuser: Any
) -> None:
    user = _actor(actor, staff, other_clinic, superuser)
    mine, mine_plain = tokens.new_token(user, "Front desk iPad")
    theirs, theirs_plain = tokens.new_token(staff(Role.TECHNICIAN), "Someone else's PC")
    page = Client()
    page.force_login(user)
    response = page.get("/accounts/tokens/")
    assert response.status_code == 200
    assert b"Front desk iPad" in response.content
    assert b"Someone else" not in response.content
    assert page.post(f"/accounts/tokens/{theirs.pk}/revoke/").status_code == 404
    assert _works(theirs_plain)
    done = page.post(f"/accounts/tokens/{mine.pk}/revoke/", follow=True)
    assert done.redirect_chain == [("/accounts/tokens/", 302)]
    assert "Revoked “Front desk iPad”" in done.content.decode()
    assert not _works(mine_plain)


def test_the_token_page_needs_a_login_and_revoking_a_post(frank: Any) -> None:
    token, _ = tokens.new_token(frank, "laptop")
    anonymous = Client()
    response = anonymous.get("/accounts/tokens/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    response = anonymous.post(f"/accounts/tokens/{token.pk}/revoke/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    page = Client()
    page.force_login(frank)
    assert page.get(f"/accounts/tokens/{token.pk}/revoke/").status_code == 405
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_the_token_page_query_count_is_fixed(frank: Any, django_assert_num_queries: Any) -> None:
    page = Client()
    page.force_login(frank)
    tokens.new_token(frank, "laptop")
    with CaptureQueriesContext(connection) as few:
        assert page.get("/accounts/tokens/").status_code == 200
    for number in range(12):
        tokens.new_token(frank, f"device {number}")
    with CaptureQueriesContext(connection) as many:
        assert page.get("/accounts/tokens/").content.count(b"Revoke</button>") == 13
    assert len(few) == len(many)
