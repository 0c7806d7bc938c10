"""The second factor's pages (clinic/mfa.py), under /accounts/mfa/: the login's second
step, the enrolment, and one's own second factor (new recovery codes, removal where it
is not required). Recovery codes are shown once, on the answer that makes them."""

from __future__ import annotations

import re
from typing import Any

import django_otp
import qrcode
import qrcode.image.svg
from django import forms
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic import mfa
from clinic.audit import record_second_factor
from clinic.mfa_gate import owes_second_factor

TEMPLATES = "clinic/account/"


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=32,
        help_text="The six digits your authenticator app shows, or one of your recovery codes.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
    )


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return reverse("home")


def _verified(request: HttpRequest, device: Any) -> None:
    """The session has passed the second factor: a new session key (the one that owed
    it is no longer worth anything) bound to the device, as django-otp does."""
    request.session.cycle_key()
    request.session.pop(mfa.SESSION_KEY, None)
    django_otp.login(request, device)


def _refused(request: HttpRequest, form: CodeForm, check: mfa.Check) -> None:
    if check.problem == "locked_out":
        # The lockout page answers (django-axes' middleware); the password comes first
        # again once it ends.
        logout(request)
    form.add_error("code", check.message)


@never_cache
@login_required
def verify(request: HttpRequest) -> HttpResponse:
    """The login's second step."""
    if not owes_second_factor(request):
        return redirect(_next(request))
    user = request.user
    if mfa.authenticator(user) is None:
        return redirect("mfa-setup")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        check = mfa.verify(request, user, form.cleaned_data["code"])
        if check.device is not None:
            _verified(request, check.device)
            return redirect(_next(request))
        _refused(request, form, check)
    return render(request, TEMPLATES + "mfa_verify.html", {"form": form, "next": _next(request)})


def _qr_svg(device: TOTPDevice) -> SafeString:
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage)
    svg = image.to_string(encoding="unicode")
    svg = re.sub(r'width="[^"]*" height="[^"]*"', 'width="200" height="200"', svg, count=1)
    label = "QR code of the secret key, for your authenticator app"
    # Our own drawing of our own data (no text from anyone): safe to put in the page.
    return mark_safe(svg.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1))  # noqa: S308


@never_cache
@login_required
def setup(request: HttpRequest) -> HttpResponse:
    """Enrolment: scan the QR code (or type the secret) into an authenticator app, then
    confirm with a code it shows; the answer lists the recovery codes, once. Done again
    from a verified session, it moves the second factor to a new phone."""
    user = request.user
    if mfa.authenticator(user) is not None and not mfa.session_verified(request):
        # Only a session that gave a code may move the second factor to a new phone.
        return redirect("mfa-verify")
    device = mfa.enrolment_device(user)
    form = CodeForm(request.POST or None)
    form.fields["code"].help_text = "The six digits your authenticator app shows now."
    if request.method == "POST" and form.is_valid():
        check = mfa.confirm_enrolment(request, device, form.cleaned_data["code"])
        if check.device is not None:
            _verified(request, check.device)
            return _codes_page(request, check.recovery_codes or [], enrolled=True)
        _refused(request, form, check)
    secret = device.config_url.split("secret=", 1)[1].split("&", 1)[0]
    return render(
        request,
        TEMPLATES + "mfa_setup.html",
        {
            "form": form,
            "qr": _qr_svg(device),
            "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            "config_url": device.config_url,
            "required": mfa.required(user),
            "next": _next(request),
        },
    )


def _codes_page(request: HttpRequest, codes: list[str], *, enrolled: bool) -> HttpResponse:
    return render(
        request,
        TEMPLATES + "mfa_codes.html",
        {"codes": codes, "enrolled": enrolled, "next": _next(request)},
    )


def _manage_page(request: HttpRequest, status: int = 200, **forms: CodeForm) -> HttpResponse:
    user = request.user
    device = mfa.authenticator(user) if user.is_authenticated else None
    return render(
        request,
        TEMPLATES + "mfa_manage.html",
        {
            "device": device,
            "required": mfa.required(user),
            "codes_left": mfa.recovery_codes_left(user) if device is not None else 0,
            "renew_form": forms.get("renew_form") or CodeForm(prefix="renew"),
            "remove_form": forms.get("remove_form") or CodeForm(prefix="remove"),
        },
        status=status,
    )


@never_cache
@login_required
def manage(request: HttpRequest) -> HttpResponse:
    """One's own second factor: whether it is set up and required, the recovery codes
    left, new codes, removal."""
    return _manage_page(request)


def _checked_form(request: HttpRequest, prefix: str) -> tuple[CodeForm, bool]:
    """The form with a code, checked: changing one's second factor takes a valid code."""
    form = CodeForm(request.POST, prefix=prefix)
    if not form.is_valid():
        return form, False
    check = mfa.verify(request, request.user, form.cleaned_data["code"])
    if check.device is None:
        _refused(request, form, check)
        return form, False
    return form, True


@require_POST
@login_required
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """Ten new recovery codes (the old ones stop working)."""
    if mfa.authenticator(request.user) is None:
        return redirect("mfa-setup")
    form, ok = _checked_form(request, "renew")
    if not ok:
        return _manage_page(request, 400, renew_form=form)
    codes = mfa.issue_recovery_codes(request.user)
    record_second_factor(request, request.user, "mfa:recovery_codes", changed=True)
    return _codes_page(request, codes, enrolled=False)


@require_POST
@login_required
def remove(request: HttpRequest) -> HttpResponse:
    """Log in with the password alone again: only where no clinic and no role requires
    a second factor."""
    user = request.user
    if mfa.required(user):
        messages.error(request, "Your role or your clinic requires a second factor.")
        return redirect("mfa-manage")
    if mfa.authenticator(user) is None:
        return redirect("mfa-manage")
    form, ok = _checked_form(request, "remove")
    if not ok:
        return _manage_page(request, 400, remove_form=form)
    mfa.remove(request, user)
    messages.success(request, "Your second factor is removed: you log in with your password.")
    return redirect("mfa-manage")
