"""The second factor of a staff login (issue 15, item 11): django-otp's TOTP devices (an
authenticator app) and, for a lost phone, ten one-time recovery codes (its static
device).

Who needs one (:func:`needed`): everyone who has set one up, and everyone for whom it is
required (:func:`required`): superusers, the roles in
``clinic.capabilities.MFA_REQUIRED_ROLES`` (psychiatrists, clinic admins) and every
member of a clinic whose ``require_mfa_for_all_staff`` is on. A person with several
memberships is required when any of them requires it.

A page login is two steps: the password, then a code (``/accounts/mfa/verify/``), or the
enrolment (``/accounts/mfa/setup/``) for a person required to have a second factor who
has none yet. Until then the session reaches nothing else (clinic.mfa_gate). An API
token is issued only with the code in the same request (:func:`check_second_factor`).

Every code refused counts as a failed login for django-axes' lockout (per username and
per client address) and each device doubles its wait after a wrong code (django-otp's
throttling); every code accepted or refused is an audit event (clinic.audit).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework import exceptions

from clinic import access
from clinic.audit import SECOND_FACTOR, record_second_factor
from clinic.capabilities import MFA_REQUIRED_ROLES
from clinic.lockout import lockout_message, lockout_minutes
from clinic.models import Clinic

AUTHENTICATOR = "Authenticator app"
RECOVERY = "Recovery codes"
# What the login's first step leaves in the session for the gate: "exempt" (no second
# factor needed) or "pending" (the code or the enrolment is still to come). A session
# that passed the second factor carries django-otp's device id instead.
SESSION_KEY = "cadence_mfa"
EXEMPT = "exempt"
PENDING = "pending"
_TOTP_CODE = re.compile(r"^\d{6}$")


def required(user: Any) -> bool:
    """A second factor is required of ``user`` (whether or not they have one yet)."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    roles = access.roles_by_clinic(user)
    if any(role in MFA_REQUIRED_ROLES for role in roles.values()):
        return True
    return bool(roles) and (
        Clinic.objects.filter(id__in=list(roles), require_mfa_for_all_staff=True).exists()
    )


def authenticator(user: Any) -> TOTPDevice | None:
    """The person's confirmed authenticator app, if they set one up."""
    return TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).order_by("id").first()


def needed(user: Any) -> bool:
    """Logging in takes a second factor: ``user`` has one, or it is required of them."""
    return authenticator(user) is not None or required(user)


def recovery_codes_left(user: Any) -> int:
    return StaticToken.objects.filter(device__user_id=user.pk, device__confirmed=True).count()


# --- enrolment and recovery codes ----------------------------------------------------


def enrolment_device(user: Any) -> TOTPDevice:
    """The not yet confirmed authenticator ``user`` is setting up (made on first use)."""
    device = TOTPDevice.objects.filter(user_id=user.pk, confirmed=False).order_by("id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=AUTHENTICATOR, confirmed=False)
    return device


@transaction.atomic
def issue_recovery_codes(user: Any) -> list[str]:
    """Ten new recovery codes; any earlier ones stop working. Stored as django-otp stores
    them (its static device's tokens, each deleted when used)."""
    StaticDevice.objects.filter(user_id=user.pk).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(settings.MFA_RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


@transaction.atomic
def confirm_enrolment(request: HttpRequest, device: TOTPDevice, code: str) -> Check:
    """Confirm the authenticator being set up with a code it shows. On success the
    person's other devices are replaced by this one and fresh recovery codes
    (``Check.recovery_codes``)."""
    check = verify(request, device.user, code, device=device)
    if check.device is None:
        return check
    TOTPDevice.objects.filter(user_id=device.user_id).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = issue_recovery_codes(device.user)
    record_second_factor(request, device.user, "mfa:enrolled", changed=True)
    return Check(device=device, recovery_codes=codes)


@transaction.atomic
def remove(request: HttpRequest, user: Any) -> None:
    """Take away the person's second factor (only when it is not required of them)."""
    TOTPDevice.objects.filter(user_id=user.pk).delete()
    StaticDevice.objects.filter(user_id=user.pk).delete()
    request.session.pop(DEVICE_ID_SESSION_KEY, None)
    request.session[SESSION_KEY] = EXEMPT
    record_second_factor(request, user, "mfa:removed", changed=True)


# --- checking a code -----------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """What became of a code: the device that accepted it, or why not."""

    device: Device | None = None
    problem: str = ""  # "invalid", "throttled" or "locked_out"
    wait_seconds: int = 0
    recovery_codes: list[str] | None = None

    @property
    def message(self) -> str:
        if self.problem == "locked_out":
            return lockout_message()
        if self.problem == "throttled":
            return (
                f"Too many wrong codes: wait {self.wait_seconds} seconds, then enter the "
                "code your app shows now."
            )
        return "That code is not right (or was used already). Try the code your app shows now."


def _normalized(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "").lower()[:32]


def _candidates(user: Any, code: str) -> list[Device]:
    """Six digits are a TOTP code, anything else a recovery code: a wrong code slows
    down only the device it was meant for."""
    if _TOTP_CODE.match(code):
        return list(TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).select_for_update())
    return list(StaticDevice.objects.filter(user_id=user.pk, confirmed=True).select_for_update())


def _refused(request: HttpRequest, user: Any, problem: str, wait: int = 0) -> Check:
    # django-axes counts it (the signal's receivers: axes, then clinic.audit's event).
    user_login_failed.send(
        sender=__name__,
        credentials={"username": user.get_username(), SECOND_FACTOR: True},
        request=request,
    )
    if getattr(request, "axes_locked_out", False):
        return Check(problem="locked_out", wait_seconds=lockout_minutes() * 60)
    return Check(problem=problem, wait_seconds=wait)


def verify(request: HttpRequest, user: Any, code: str, *, device: Device | None = None) -> Check:
    """Check ``code`` against ``user``'s authenticator or recovery codes (or only the
    ``device`` being set up). A refusal counts towards the login lockout."""
    credentials = {"username": user.get_username()}
    if AxesProxyHandler.is_locked(request, credentials):
        # django-axes' middleware answers the lockout (clinic.lockout) for this request.
        request.axes_locked_out = True  # type: ignore[attr-defined]
        return _refused(request, user, "locked_out")
    code = _normalized(code)
    wait = 0
    with transaction.atomic():
        candidates = [device] if device is not None else _candidates(user, code)
        for candidate in candidates:
            allowed, data = candidate.verify_is_allowed()
            if not allowed:
                until = (data or {}).get("locked_until")
                wait = max(wait, int((until - timezone.now()).total_seconds()) + 1 if until else 1)
                continue
            if code and candidate.verify_token(code):
                record_second_factor(request, user, _kind(candidate))
                return Check(device=candidate)
    return _refused(request, user, "throttled" if wait else "invalid", wait)


def _kind(device: Device) -> str:
    return "mfa:recovery_code" if isinstance(device, StaticDevice) else "mfa:totp"


# --- the session and the API ---------------------------------------------------------


def session_verified(request: HttpRequest) -> bool:
    """This session gave a second factor (django-otp's OTPMiddleware checked its device)."""
    is_verified = getattr(request.user, "is_verified", None)
    return bool(is_verified is not None and is_verified())


def start_session(request: HttpRequest | None, user: Any) -> None:
    """After the password (``user_logged_in``): note whether the session still owes a
    second factor. The API's token endpoint has no session; it checks the code itself."""
    session = getattr(request, "session", None)
    if request is None or session is None or request.path.startswith("/api/"):
        return
    if getattr(user, "otp_device", None) is not None:
        session.pop(SESSION_KEY, None)  # django_otp.login() verified this session
        return
    session[SESSION_KEY] = PENDING if needed(user) else EXEMPT


def on_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    start_session(request, user)


class LockedOut(exceptions.APIException):
    status_code = 429
    default_code = "locked_out"


def check_second_factor(request: HttpRequest, user: Any, code: str | None) -> None:
    """Before an API token is issued to ``user``, whose password was right: nothing when
    they need no second factor, else ``code`` must be their TOTP code or an unused
    recovery code. Raises the DRF exception to answer with:

    - 403 ``mfa_enrolment_required``: required of them, but none set up (the browser's
      enrolment page comes first);
    - 401 ``mfa_required``: no ``otp`` given; 401 ``mfa_invalid``: a wrong or used code,
      or a try too soon after wrong ones;
    - 429 ``locked_out``: too many failed logins for the username or from the address.
    """
    if authenticator(user) is None:
        if required(user):
            raise exceptions.PermissionDenied(
                "A second factor is required for this account: set it up after logging in "
                "in the browser (/accounts/mfa/setup/), then ask for a token with its code.",
                code="mfa_enrolment_required",
            )
        return
    if not (code or "").strip():
        raise exceptions.AuthenticationFailed(
            "This account logs in with a second factor: send `otp`, the code from the "
            "authenticator app or an unused recovery code.",
            code="mfa_required",
        )
    check = verify(request, user, code or "")
    if check.problem == "locked_out":
        raise LockedOut(check.message)
    if check.device is None:
        raise exceptions.AuthenticationFailed(check.message, code="mfa_invalid")
