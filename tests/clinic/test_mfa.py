"""The second factor on the pages (issue 15, item 11): the password alone reaches
nothing for whom a second factor is needed; enrolment, the login's second step with a
TOTP code or a recovery code, one's own second factor, the clinic's setting, the admin.

These tests log in through the login page itself (not ``client.force_login``, which
tests/conftest.py makes verified)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic import mfa
from clinic.models import AuditAction, AuditEvent, Role
from tests.factories import ClinicFactory, MembershipFactory, PatientFactory
from tests.second_factor import authenticator_of, code_of, recovery_code_of

PASSWORD = "correct horse battery"  # tests.factories.UserFactory's
# Staff pages, the admin and the API with the session: none opens before the second factor.
GATED = ["/", "/patients/", "/board/", "/setup/", "/audit/", "/admin/", "/accounts/mfa/"]


def _password_login(user: Any, path: str = "/accounts/login/") -> Client:
    client = Client()
    response = client.post(path, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return client


def _enter(client: Client, code: str, next_url: str = "") -> Any:
    return client.post("/accounts/mfa/verify/", {"code": code, "next": next_url})


@pytest.mark.parametrize("role", [Role.PSYCHIATRIST, Role.CLINIC_ADMIN])
def test_the_password_alone_reaches_nothing_for_a_required_role(
    role: str, staff: Any, clinic: Any
) -> None:
    """The attack: a psychiatrist's or a clinic admin's stolen password opened every page
    and the API."""
    PatientFactory(clinic=clinic)
    user = staff(role)
    client = _password_login(user)
    for path in GATED:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/accounts/mfa/setup/"), path
    api = client.get("/api/v1/patients/")
    assert api.status_code == 403
    assert api.json()["code"] == "mfa_enrolment_required"
    assert b"patient" not in client.get("/accounts/mfa/setup/").content.lower()

    # With an authenticator set up, the same: the second step instead of the enrolment.
    authenticator_of(user)
    client = _password_login(user)
    for path in GATED:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == f"/accounts/mfa/verify/?next={path.replace('/', '%2F')}"
    assert client.get("/api/v1/patients/").json()["code"] == "mfa_required"
    # htmx takes the whole page to the second step.
    htmx = client.get("/board/", HTTP_HX_REQUEST="true")
    assert htmx["HX-Redirect"] == "/accounts/mfa/verify/"
    # The pending session cannot set up a device of its own instead.
    assert client.get("/accounts/mfa/setup/")["Location"] == "/accounts/mfa/verify/"


def test_login_with_the_authenticator_code(staff: Any, clinic: Any) -> None:
    user = staff(Role.PSYCHIATRIST)
    device = authenticator_of(user)
    client = _password_login(user)
    before = client.cookies["sessionid"].value
    page = client.get("/accounts/mfa/verify/?next=/patients/")
    assert page.status_code == 200
    assert b'autocomplete="one-time-code"' in page.content
    assert b'href="/patients/"' not in page.content  # no navigation before the code

    wrong = _enter(client, "000000" if code_of(device) != "000000" else "111111")
    assert wrong.status_code == 200
    assert b"That code is not right" in wrong.content
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=None)

    response = _enter(client, code_of(device), "/patients/")
    assert response.status_code == 302
    assert response["Location"] == "/patients/"
    assert client.get("/patients/").status_code == 200
    assert client.get("/api/v1/patients/").status_code == 200
    assert client.cookies["sessionid"].value != before  # a new session key
    # A code works once: the same code again in another login is refused.
    again = _password_login(user)
    assert b"That code is not right" in _enter(again, code_of(device)).content
    # An offsite next is not followed.
    other = _password_login(user)
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1, throttling_failure_count=0)
    assert _enter(other, code_of(device), "https://evil.test/")["Location"] == "/"


def test_a_recovery_code_works_once(staff: Any, clinic: Any) -> None:
    user = staff(Role.CLINIC_ADMIN)
    authenticator_of(user)
    code = recovery_code_of(user)
    client = _password_login(user)
    assert _enter(client, code.upper()[:4] + "-" + code.upper()[4:])["Location"] == "/"
    assert client.get("/setup/").status_code == 200
    assert mfa.recovery_codes_left(user) == 9

    again = _password_login(user)
    assert b"That code is not right" in _enter(again, code).content
    assert again.get("/setup/").status_code == 302


def test_enrolment(staff: Any, clinic: Any) -> None:
    user = staff(Role.PSYCHIATRIST)
    client = _password_login(user)
    page = client.get("/accounts/mfa/setup/")
    assert page.status_code == 200
    content = page.content.decode()
    assert "<script" not in content.split("</head>", 1)[1]
    assert '<svg role="img" aria-label="QR code' in content
    device = TOTPDevice.objects.get(user=user)
    assert not device.confirmed
    secret = re.search(r"Secret key: <code>([A-Z2-7 ]+)</code>", content)
    assert secret is not None and "otpauth://totp/Cadence%3A" in content

    assert (
        b"That code is not right" in client.post("/accounts/mfa/setup/", {"code": "12345x"}).content
    )
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=None)
    done = client.post("/accounts/mfa/setup/", {"code": code_of(device)})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", done.content.decode())
    assert len(codes) == 10
    assert sorted(codes) == sorted(StaticToken.objects.values_list("token", flat=True))
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/patients/").status_code == 200  # this session gave its code

    events = AuditEvent.objects.filter(actor=user, action=AuditAction.MFA_CHANGED)
    assert list(events.values_list("object_type", flat=True)) == ["mfa:enrolled"]
    # The next login asks for the code.
    assert _password_login(user).get("/")["Location"].startswith("/accounts/mfa/verify/")


def test_new_recovery_codes_need_a_code_and_replace_the_old_ones(staff: Any, clinic: Any) -> None:
    user = staff(Role.CLINIC_ADMIN)
    device = authenticator_of(user)
    old = recovery_code_of(user)
    client = _password_login(user)
    _enter(client, old)
    refused = client.post("/accounts/mfa/recovery-codes/", {"renew-code": "00000000"})
    assert refused.status_code == 400
    assert b"That code is not right" in refused.content
    assert mfa.recovery_codes_left(user) == 9

    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=None)
    page = client.post("/accounts/mfa/recovery-codes/", {"renew-code": code_of(device)})
    new = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", page.content.decode())
    assert len(new) == 10 and mfa.recovery_codes_left(user) == 10
    assert old not in new
    assert AuditEvent.objects.filter(object_type="mfa:recovery_codes", actor=user).exists()


def test_removing_the_second_factor_only_where_not_required(staff: Any, clinic: Any) -> None:
    desk = staff(Role.FRONT_DESK)
    device = authenticator_of(desk)
    client = _password_login(desk)
    _enter(client, code_of(device))
    page = client.get("/accounts/mfa/")
    assert b"Remove my second factor" in page.content
    response = client.post("/accounts/mfa/remove/", {"remove-code": recovery_code_of(desk)})
    assert response["Location"] == "/accounts/mfa/"
    assert mfa.authenticator(desk) is None and mfa.recovery_codes_left(desk) == 0
    assert client.get("/patients/").status_code == 200
    assert _password_login(desk).get("/patients/").status_code == 200  # the password alone

    psychiatrist = staff(Role.PSYCHIATRIST)
    device = authenticator_of(psychiatrist)
    client = _password_login(psychiatrist)
    _enter(client, code_of(device))
    assert b"Remove my second factor" not in client.get("/accounts/mfa/").content
    client.post("/accounts/mfa/remove/", {"remove-code": recovery_code_of(psychiatrist)})
    assert mfa.authenticator(psychiatrist) is not None


def test_front_desk_and_technicians_follow_the_clinic_setting(
    staff: Any, clinic: Any, other_clinic: Any
) -> None:
    desk, tech = staff(Role.FRONT_DESK), staff(Role.TECHNICIAN)
    for person in (desk, tech):
        assert _password_login(person).get("/patients/").status_code == 200
        assert not mfa.required(person)

    clinic.require_mfa_for_all_staff = True
    clinic.save()
    for person in (desk, tech):
        response = _password_login(person).get("/patients/")
        assert response["Location"].startswith("/accounts/mfa/setup/")

    # Several memberships: required when any clinic requires it.
    clinic.require_mfa_for_all_staff = False
    clinic.save()
    both = staff(Role.FRONT_DESK)
    MembershipFactory(user=both, clinic=other_clinic, role=Role.TECHNICIAN)
    assert not mfa.required(both)
    other_clinic.require_mfa_for_all_staff = True
    other_clinic.save()
    assert mfa.required(both)
    # A role that requires it anywhere requires it everywhere.
    admin_elsewhere = staff(Role.FRONT_DESK)
    MembershipFactory(user=admin_elsewhere, clinic=ClinicFactory(), role=Role.CLINIC_ADMIN)
    assert mfa.required(admin_elsewhere)


def test_the_setting_is_on_the_set_up_page_and_in_the_api(
    staff: Any, clinic: Any, page_as: Any, api_as: Any
) -> None:
    page = page_as(Role.CLINIC_ADMIN).get("/setup/")
    assert b'name="require_mfa_for_all_staff"' in page.content
    assert b"Second factor for all staff" in page.content
    api = api_as(Role.CLINIC_ADMIN)
    assert api.get(f"/api/v1/clinics/{clinic.pk}/").json()["require_mfa_for_all_staff"] is False
    response = api.patch(
        f"/api/v1/clinics/{clinic.pk}/", {"require_mfa_for_all_staff": True}, format="json"
    )
    assert response.status_code == 200, response.content
    clinic.refresh_from_db()
    assert clinic.require_mfa_for_all_staff
    refused = api_as(Role.FRONT_DESK).patch(
        f"/api/v1/clinics/{clinic.pk}/", {"require_mfa_for_all_staff": False}, format="json"
    )
    assert refused.status_code == 403


def test_the_admin_login_does_not_skip_the_second_factor(superuser: Any) -> None:
    assert mfa.required(superuser)
    client = _password_login(superuser, "/admin/login/?next=/admin/")
    assert client.get("/admin/")["Location"].startswith("/accounts/mfa/setup/")
    assert client.get("/admin/clinic/patient/")["Location"].startswith("/accounts/mfa/setup/")

    device = authenticator_of(superuser)
    client = _password_login(superuser, "/admin/login/?next=/admin/")
    assert client.get("/admin/")["Location"] == "/accounts/mfa/verify/?next=%2Fadmin%2F"
    assert _enter(client, code_of(device), "/admin/")["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


@pytest.mark.parametrize(
    "role", [Role.FRONT_DESK, Role.TECHNICIAN, Role.PSYCHIATRIST, Role.CLINIC_ADMIN]
)
def test_everyone_reaches_their_own_second_factor_page(role: str, page_as: Any) -> None:
    client = page_as(role)
    page = client.get("/accounts/mfa/")
    assert page.status_code == 200
    if role in (Role.PSYCHIATRIST, Role.CLINIC_ADMIN):
        assert b"it cannot be removed" in page.content
    else:
        assert b"Set up a second factor" in page.content
    assert b"Second factor</a>" in client.get("/patients/").content


def test_anonymous_visitors_are_sent_to_the_login(client: Client, db: None) -> None:
    for path in ("/accounts/mfa/", "/accounts/mfa/setup/", "/accounts/mfa/verify/"):
        assert client.get(path)["Location"].startswith("/accounts/login/")
    for path in ("/accounts/mfa/recovery-codes/", "/accounts/mfa/remove/"):
        assert client.post(path)["Location"].startswith("/accounts/login/")


def test_sessions_of_other_clinics_staff_see_only_their_own_devices(
    staff: Any, other_clinic: Any, page_as: Any
) -> None:
    """The pages are a person's own: another clinic's admin finds nothing of theirs."""
    mine = staff(Role.PSYCHIATRIST)
    authenticator_of(mine)
    theirs = staff(Role.CLINIC_ADMIN, in_clinic=other_clinic)
    client = Client()
    client.force_login(theirs)
    page = client.get("/accounts/mfa/").content.decode()
    assert mine.username not in page
    assert TOTPDevice.objects.filter(user=mine).count() == 1


def test_the_admin_never_shows_a_second_factor(superuser: Any, staff: Any) -> None:
    """A superuser deletes a person's devices (a lost phone) but sees no key or code."""
    person = staff(Role.PSYCHIATRIST)
    device = authenticator_of(person)
    code = recovery_code_of(person)
    client = Client()
    client.force_login(superuser)
    page = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/")
    assert page.status_code == 200
    assert device.key not in page.content.decode()
    assert b"qrcode" not in page.content.lower()
    static = client.get("/admin/otp_static/staticdevice/")
    assert static.status_code == 200
    device_id = person.staticdevice_set.get().pk
    assert (
        code
        not in client.get(f"/admin/otp_static/staticdevice/{device_id}/change/").content.decode()
    )
