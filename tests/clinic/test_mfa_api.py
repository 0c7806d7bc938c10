"""The second factor of API tokens, the lockout and throttling of wrong codes, and the
audit trail of second factors (issue 15, item 11)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from clinic import demo
from clinic.models import AuditAction, AuditEvent, AuditOutcome, Role
from tests.second_factor import authenticator_of, code_of, recovery_code_of

PASSWORD = "correct horse battery"  # tests.factories.UserFactory's


@pytest.fixture(autouse=True)
def _limits(settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 5
    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=15)
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login": "1000/min"},
    }


def _token(user: Any, otp: str | None = None, **headers: str) -> Any:
    body = {"username": user.username, "password": PASSWORD}
    if otp is not None:
        body["otp"] = otp
    return APIClient().post("/api/v1/auth/token/", body, format="json", **headers)


def _unthrottle(device: Any) -> None:
    """As if the wait after the last wrong code had passed."""
    type(device).objects.filter(pk=device.pk).update(throttling_failure_timestamp=None)


def test_no_token_for_the_password_alone(staff: Any) -> None:
    """The attack: a psychiatrist's stolen password was enough for an API token."""
    user = staff(Role.PSYCHIATRIST)
    response = _token(user)
    assert response.status_code == 403
    assert response.json()["code"] == "mfa_enrolment_required"

    device = authenticator_of(user)
    missing = _token(user)
    assert missing.status_code == 401
    assert missing.json()["code"] == "mfa_required"
    wrong = _token(user, "000000" if code_of(device) != "000000" else "111111")
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "mfa_invalid"
    _unthrottle(device)
    response = _token(user, code_of(device))
    assert response.status_code == 200
    token = response.json()["token"]
    patients = APIClient(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/v1/patients/")
    assert patients.status_code == 200


def test_a_recovery_code_gets_one_token(staff: Any) -> None:
    user = staff(Role.CLINIC_ADMIN)
    authenticator_of(user)
    code = recovery_code_of(user)
    assert _token(user, code).status_code == 200
    again = _token(user, code)
    assert again.status_code == 401
    assert again.json()["code"] == "mfa_invalid"


def test_front_desk_tokens_follow_the_clinic_setting(staff: Any, clinic: Any) -> None:
    desk = staff(Role.FRONT_DESK)
    assert _token(desk).status_code == 200
    clinic.require_mfa_for_all_staff = True
    clinic.save()
    assert _token(desk).json()["code"] == "mfa_enrolment_required"
    device = authenticator_of(desk)
    assert _token(desk, code_of(device)).status_code == 200
    # Who set one up uses it, required or not.
    clinic.require_mfa_for_all_staff = False
    clinic.save()
    assert _token(desk).json()["code"] == "mfa_required"


def test_superusers_need_a_second_factor(superuser: Any) -> None:
    assert _token(superuser).json()["code"] == "mfa_enrolment_required"
    assert _token(superuser, code_of(authenticator_of(superuser))).status_code == 200


def test_wrong_codes_lock_the_login_out(staff: Any) -> None:
    """Guessing codes: each wrong one slows the device down (django-otp's throttling)
    and counts as a failed login; five lock the username out, on every login path."""
    user = staff(Role.PSYCHIATRIST, username="priya")
    device = authenticator_of(user)
    right = code_of(device)
    wrong = "000000" if right != "000000" else "111111"
    statuses = []
    for _ in range(5):
        statuses.append(_token(user, wrong, REMOTE_ADDR="10.0.0.9").status_code)
        _unthrottle(device)
    assert statuses == [401] * 4 + [429]
    locked = _token(user, right, REMOTE_ADDR="10.0.0.10")
    assert locked.status_code == 429
    assert locked.json()["code"] == "locked_out"
    # The login page refuses the password itself now.
    page = Client(REMOTE_ADDR="10.0.0.11").post(
        "/accounts/login/", {"username": "priya", "password": PASSWORD}
    )
    assert page.status_code == 429

    failures = AuditEvent.objects.filter(action=AuditAction.MFA_FAILED, username="priya")
    assert list(failures.order_by("id").values_list("outcome", flat=True)) == [
        *[AuditOutcome.REFUSED] * 4,
        AuditOutcome.LOCKED_OUT,
    ]
    assert set(failures.values_list("channel", flat=True)) == {"api"}
    # Then the password itself is refused (django-axes), before any code is looked at.
    refused = AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, username="priya")
    assert set(refused.values_list("outcome", flat=True)) == {AuditOutcome.LOCKED_OUT}


def test_wrong_codes_on_the_page_lock_out_and_end_the_session(staff: Any) -> None:
    user = staff(Role.CLINIC_ADMIN, username="carmen")
    device = authenticator_of(user)
    client = Client()
    client.post("/accounts/login/", {"username": "carmen", "password": PASSWORD})
    statuses = []
    for _ in range(5):
        statuses.append(client.post("/accounts/mfa/verify/", {"code": "99999999"}).status_code)
    assert statuses == [200] * 4 + [429]
    assert client.get("/setup/")["Location"].startswith("/accounts/login/")  # logged out
    _unthrottle(device)
    again = client.post("/accounts/login/", {"username": "carmen", "password": PASSWORD})
    assert again.status_code == 429
    assert TOTPDevice.objects.get(pk=device.pk).throttling_failure_count == 0  # untouched


def test_a_right_code_too_soon_after_a_wrong_one_waits(staff: Any, settings: Any) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 30
    user = staff(Role.PSYCHIATRIST)
    device = authenticator_of(user)
    right = code_of(device)
    _token(user, "000000" if right != "000000" else "111111")
    response = _token(user, right)
    assert response.status_code == 401
    assert "wait" in response.json()["detail"]
    _unthrottle(device)
    assert _token(user, right).status_code == 200


def test_second_factors_are_in_the_audit_trail(staff: Any) -> None:
    user = staff(Role.PSYCHIATRIST)
    device = authenticator_of(user)
    _token(user, "12345678")
    _unthrottle(device)
    _token(user, code_of(device), HTTP_X_REQUEST_ID="req-mfa-000001")
    client = Client()
    client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    client.post("/accounts/mfa/verify/", {"code": recovery_code_of(user)})
    events = AuditEvent.objects.filter(actor=user).exclude(action=AuditAction.LOGIN)
    assert [(e.action, e.outcome, e.channel, e.object_type) for e in events.order_by("id")] == [
        (AuditAction.MFA_FAILED, AuditOutcome.REFUSED, "api", "mfa"),
        (AuditAction.MFA_VERIFIED, AuditOutcome.OK, "api", "mfa:totp"),
        (AuditAction.MFA_VERIFIED, AuditOutcome.OK, "page", "mfa:recovery_code"),
    ]
    assert events.filter(request_id="req-mfa-000001").count() == 1
    # The token's login event comes after the second factor only.
    assert AuditEvent.objects.filter(actor=user, action=AuditAction.LOGIN).count() == 2


def test_the_demo_gives_its_required_logins_an_authenticator(
    db: None, settings: Any, tmp_path: Any, capsys: Any
) -> None:
    settings.VAR_DIR = tmp_path
    out = tmp_path / "out"
    with out.open("w") as stdout:
        call_command("seed_demo", stdout=stdout)
    assert "python manage.py demo_otp USERNAME" in out.read_text()
    with_device = {
        name
        for name in ("admin", "psychiatrist", "clinicadmin", "frontdesk", "technician")
        if demo.demo_authenticator(name) is not None
    }
    assert with_device == {"admin", "psychiatrist", "clinicadmin"}
    codes = tmp_path / "codes"
    with codes.open("w") as stdout:
        call_command("demo_otp", "psychiatrist", "--uri", stdout=stdout)
    code, uri = codes.read_text().split()
    assert code == code_of(demo.demo_authenticator("psychiatrist"))  # type: ignore[arg-type]
    assert uri.startswith("otpauth://totp/Cadence%3Apsychiatrist?secret=")
    # People's own authenticators are never shown.
    from django.contrib.auth import get_user_model
    from django.core.management.base import CommandError

    person = get_user_model().objects.get(username="frontdesk")
    authenticator_of(person)
    with pytest.raises(CommandError):
        call_command("demo_otp", "frontdesk")
