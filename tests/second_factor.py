"""Second factors for tests (clinic/mfa.py): a person's authenticator and its current
code, as their phone would show it, and fresh recovery codes."""

from __future__ import annotations

import time
from typing import Any

from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic import mfa


def authenticator_of(user: Any) -> TOTPDevice:
    """The person's confirmed authenticator app, set up if they have none."""
    device = mfa.authenticator(user)
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=mfa.AUTHENTICATOR, confirmed=True)
    return device


def code_of(device: TOTPDevice, *, steps_ago: int = 0) -> str:
    """The six digits the app shows now (or ``steps_ago`` thirty-second steps ago)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() - steps_ago * device.step
    return f"{totp.token():0{device.digits}d}"


def recovery_code_of(user: Any) -> str:
    """One unused recovery code (a fresh set when the person has none)."""
    return mfa.issue_recovery_codes(user)[0]
