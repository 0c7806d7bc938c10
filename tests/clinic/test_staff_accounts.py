"""A person's password, username and email are theirs (issue 15, item 1).

An admin adds people and changes memberships of their own clinics; the person sets their
first password from an emailed one-time link that expires, and changes or resets it
themselves.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from clinic import accounts, services, tasks
from clinic.models import Role, StaffMembership
from tests.factories import MembershipFactory, PatientFactory
from tests.second_factor import authenticator_of, code_of
from tests.smtp import SmtpServer, start_smtp_server

User = get_user_model()
PASSWORD = "correct horse battery"  # tests.factories.UserFactory's
NEW_PASSWORD = "lilac tuesday orbit 7"


def _token_login(username: str, password: str, otp: str = "") -> Any:
    return APIClient().post(
        "/api/v1/auth/token/",
        {"username": username, "password": password, "otp": otp},
        format="json",
    )


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[SmtpServer]:
    server = start_smtp_server()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 5
    settings.DEFAULT_FROM_EMAIL = "cadence@clinic.test"
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def invitations_run_now(monkeypatch: Any) -> None:
    """The invitation task runs where the commit happens, as a worker would run it."""
    monkeypatch.setattr(
        tasks.send_staff_invitation, "delay", lambda *args: tasks.send_staff_invitation(*args)
    )


def _link_in(body: str) -> str:
    found = re.search(r"https?://\S+/accounts/reset/\S+/", body)
    assert found, body
    return found.group(0)


# --- the attack of the issue --------------------------------------------------------------


def test_an_admin_of_one_clinic_cannot_take_over_a_person_of_another(
    clinic: Any, other_clinic: Any, staff: Any, api: Any
) -> None:
    """Technician at A and admin at B: A's admin once set their password and email,
    logged in as them and read B's patients."""
    admin_a = staff(Role.CLINIC_ADMIN, username="admin_a")
    person = staff(Role.TECHNICIAN, username="dual", email="dual@example.com")
    MembershipFactory(user=person, clinic=other_clinic, role=Role.CLINIC_ADMIN)
    PatientFactory(clinic=other_clinic)
    client = api(admin_a)

    response = client.patch(
        f"/api/v1/staff/{person.pk}/",
        {"password": "taken over 12345!", "email": "attacker@evil.test"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"]["password"][0].startswith(
        "Nobody sets another person's password"
    )
    assert response.data["errors"]["password"][0].code == "password_not_settable"
    for payload, field in (
        ({"email": "attacker@evil.test"}, "email"),
        ({"username": "dual2"}, "username"),
    ):
        response = client.patch(f"/api/v1/staff/{person.pk}/", payload, format="json")
        assert response.status_code == 400, payload
        assert field in response.json()["errors"]
        assert response.data["errors"][field][0].code == f"{field}_not_settable"

    person.refresh_from_db()
    assert person.username == "dual" and person.email == "dual@example.com"
    assert person.check_password(PASSWORD)
    assert _token_login("dual", "taken over 12345!").status_code == 401
    # An admin at B logs in with a second factor.
    assert _token_login("dual", PASSWORD, code_of(authenticator_of(person))).status_code == 200

    # What an admin may still do: change the person's membership of their own clinic.
    response = client.patch(
        f"/api/v1/staff/{person.pk}/",
        {"role": Role.FRONT_DESK, "clinics": [clinic.pk], "first_name": "Dana"},
        format="json",
    )
    assert response.status_code == 200, response.content
    roles = dict(StaffMembership.objects.filter(user=person).values_list("clinic_id", "role"))
    assert roles == {clinic.pk: Role.FRONT_DESK, other_clinic.pk: Role.CLINIC_ADMIN}


def test_a_put_repeating_username_and_email_is_accepted(clinic: Any, staff: Any, api: Any) -> None:
    person = staff(Role.TECHNICIAN, username="same", email="same@example.com")
    response = api(staff(Role.CLINIC_ADMIN)).put(
        f"/api/v1/staff/{person.pk}/",
        {
            "username": "same",
            "email": "same@example.com",
            "first_name": "New",
            "last_name": "Name",
            "role": Role.TECHNICIAN,
            "clinics": [clinic.pk],
        },
        format="json",
    )
    assert response.status_code == 200, response.content


def test_the_service_refuses_an_email_change_whoever_calls_it(staff: Any) -> None:
    from django.core.exceptions import ValidationError

    person = staff(Role.TECHNICIAN, email="mine@example.com")
    with pytest.raises(ValidationError) as refused:
        services.staff_save(person, managed_clinics=None, email="other@example.com")
    assert refused.value.error_dict["email"][0].code == "email_not_settable"


def test_a_new_person_needs_an_email(clinic: Any, staff: Any, api: Any) -> None:
    response = api(staff(Role.CLINIC_ADMIN)).post(
        "/api/v1/staff/",
        {"username": "nomail", "role": Role.TECHNICIAN, "clinics": [clinic.pk]},
        format="json",
    )
    assert response.status_code == 400
    assert "email" in response.json()["errors"]


# --- the invitation -------------------------------------------------------------------------


def test_a_new_person_sets_their_first_password_from_the_emailed_link_once(
    clinic: Any,
    staff: Any,
    api: Any,
    smtp_server: SmtpServer,
    invitations_run_now: None,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
) -> None:
    settings.PUBLIC_BASE_URL = "https://cadence.clinic.test"
    with django_capture_on_commit_callbacks(execute=True):
        response = api(staff(Role.CLINIC_ADMIN)).post(
            "/api/v1/staff/",
            {
                "username": "newbie",
                "first_name": "Nia",
                "last_name": "Ward",
                "email": "nia@example.com",
                "role": Role.TECHNICIAN,
                "clinics": [clinic.pk],
            },
            format="json",
        )
    assert response.status_code == 201, response.content
    newbie = User.objects.get(username="newbie")
    assert not newbie.has_usable_password()

    [(_, recipients, message)] = smtp_server.handler.messages
    assert recipients == ["nia@example.com"]
    assert message["Subject"] == "Cadence: set your password"
    body = message.get_content()
    assert "newbie" in body and "24 hours" in body
    link = _link_in(body)
    assert link.startswith("https://cadence.clinic.test/accounts/reset/")
    path = link.removeprefix("https://cadence.clinic.test")

    page = Client()
    form = page.get(path, follow=True)
    assert b"Choose your password" in form.content
    done = page.post(
        form.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert done.status_code == 302 and done["Location"] == "/accounts/reset/done/"
    assert _token_login("newbie", NEW_PASSWORD).status_code == 200

    # Used once, the link is dead.
    again = Client().get(path, follow=True)
    assert b"This link no longer works" in again.content
    # A second run of the task sends nothing: the person has a password now.
    assert tasks.send_staff_invitation(newbie.pk, "https://cadence.clinic.test") is False
    assert len(smtp_server.handler.messages) == 1


def test_the_link_expires(clinic: Any, staff: Any, settings: Any) -> None:
    settings.PASSWORD_RESET_TIMEOUT = 24 * 3600
    person = staff(Role.TECHNICIAN)
    person.set_unusable_password()
    person.save()
    start = dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        path = accounts.set_password_link(person, "")
    with time_machine.travel(start + dt.timedelta(hours=23), tick=False):
        assert b"Choose your password" in Client().get(path, follow=True).content
    with time_machine.travel(start + dt.timedelta(hours=25), tick=False):
        assert b"This link no longer works" in Client().get(path, follow=True).content


def test_an_expired_invitation_is_renewed_by_its_owner(clinic: Any, staff: Any) -> None:
    """Django's reset form skips accounts without a password; ours reaches an invited
    person (active, no password yet), never a deactivated one."""
    invited = staff(Role.TECHNICIAN, email="inv@example.com")
    invited.set_unusable_password()
    invited.save()
    gone = staff(Role.TECHNICIAN, email="gone@example.com", is_active=False)
    client = Client()
    for address in ("INV@example.com", "gone@example.com", "nobody@example.com"):
        response = client.post("/accounts/password/reset/", {"email": address})
        assert response.status_code == 302
        assert response["Location"] == "/accounts/password/reset/sent/"
    [message] = mail.outbox
    assert message.to == ["inv@example.com"] and gone.email not in message.to
    path = re.search(r"/accounts/reset/\S+/", message.body)
    assert path is not None
    form = client.get(path.group(0), follow=True)
    client.post(
        form.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    invited.refresh_from_db()
    assert invited.check_password(NEW_PASSWORD)


def test_a_weak_password_is_refused_on_the_link_page(clinic: Any, staff: Any) -> None:
    person = staff(Role.TECHNICIAN)
    client = Client()
    form = client.get(accounts.set_password_link(person, ""), follow=True)
    response = client.post(
        form.redirect_chain[-1][0], {"new_password1": "1234", "new_password2": "1234"}
    )
    assert response.status_code == 200
    person.refresh_from_db()
    assert person.check_password(PASSWORD)


# --- the person's own change ------------------------------------------------------------------


def test_a_logged_in_person_changes_their_own_password(clinic: Any, staff: Any) -> None:
    person = staff(Role.FRONT_DESK)
    client = Client()
    client.force_login(person)
    response = client.post(
        "/accounts/password/change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302 and response["Location"] == "/accounts/password/change/done/"
    person.refresh_from_db()
    assert person.check_password(NEW_PASSWORD)


@pytest.mark.parametrize("role", [*Role.values, None])
def test_account_pages_by_role(role: str | None, clinic: Any, staff: Any) -> None:
    """The reset pages are open to anyone (that is their point); the change page needs
    a login, whatever the role."""
    client = Client()
    if role is not None:
        client.force_login(staff(role))
    assert client.get("/accounts/password/reset/").status_code == 200
    change = client.get("/accounts/password/change/")
    if role is None:
        assert change.status_code == 302 and change["Location"].startswith("/accounts/login/")
    else:
        assert change.status_code == 200


# --- the Django admin (superusers) -----------------------------------------------------------


def test_a_superuser_sets_no_other_persons_password_in_the_admin(
    superuser: Any, staff: Any
) -> None:
    person = staff(Role.TECHNICIAN)
    client = Client()
    client.force_login(superuser)
    url = f"/admin/auth/user/{person.pk}/password/"
    assert client.get(url).status_code == 403
    posted = client.post(url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert posted.status_code == 403
    person.refresh_from_db()
    assert person.check_password(PASSWORD)
    # Their own, yes.
    assert client.get(f"/admin/auth/user/{superuser.pk}/password/").status_code == 200


def test_a_person_added_in_the_admin_is_invited(
    superuser: Any,
    clinic: Any,
    invitations_run_now: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = Client()
    client.force_login(superuser)
    form = client.get("/admin/auth/user/add/")
    assert b'name="password1"' not in form.content
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/auth/user/add/",
            {
                "username": "viaadmin",
                "first_name": "Ada",
                "last_name": "Min",
                "email": "ada@example.com",
            },
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    added = User.objects.get(username="viaadmin")
    assert not added.has_usable_password()
    [message] = mail.outbox
    assert message.to == ["ada@example.com"]
    assert "http://testserver/accounts/reset/" in message.body
