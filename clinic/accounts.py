"""A staff member's password is theirs alone.

No admin ever types, sees or sets one. A new staff member gets an emailed one-time link
to set their first password; anyone who forgot theirs (or whose first link expired) asks
for a new link at ``/accounts/password/reset/``; a logged-in person changes theirs at
``/accounts/password/change/``. The links are Django's password-reset tokens: they hash
the current password, so a link works once, and they expire after
``PASSWORD_RESET_TIMEOUT`` seconds (``PASSWORD_LINK_HOURS``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

User = get_user_model()


def set_password_link(user: Any, base_url: str) -> str:
    """A one-time link that lets ``user`` choose a password (valid PASSWORD_LINK_HOURS)."""
    path = reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    return base_url.rstrip("/") + path


def link_hours() -> int:
    return int(settings.PASSWORD_RESET_TIMEOUT) // 3600


def send_invitation(user_id: int, base_url: str) -> bool:
    """Email a new staff member the link to set their first password.

    Sent only while they have none (a second run, or a person who already chose one,
    sends nothing), and only to an active account with an address.
    """
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.email or user.has_usable_password():
        return False
    link = set_password_link(user, base_url)
    reset = base_url.rstrip("/") + reverse("password_reset")
    send_mail(
        subject="Cadence: set your password",
        message=(
            f"Hello {user.get_full_name() or user.username},\n\n"
            f"A Cadence account was made for you. Your username is {user.username}.\n\n"
            f"Choose your password here (the link works once, for {link_hours()} hours):\n"
            f"{link}\n\n"
            f"If the link has expired, ask for a new one at {reset}\n"
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[user.email],
    )
    return True


def _same_email(a: str, b: str) -> bool:
    return (
        unicodedata.normalize("NFKC", a).casefold() == unicodedata.normalize("NFKC", b).casefold()
    )


class StaffPasswordResetForm(PasswordResetForm):
    """Django's reset form, which also reaches a person who has no password yet.

    Django leaves out accounts without a usable password (meant for people who log in
    elsewhere). Here every staff member logs in with a password, and an active account
    without one is an invitation whose link expired: its owner asks for a new one here.
    """

    def get_users(self, email: str) -> Iterator[Any]:
        email_field = User.get_email_field_name()
        candidates = User._default_manager.filter(
            **{f"{email_field}__iexact": email, "is_active": True}
        )
        return (user for user in candidates if _same_email(email, getattr(user, email_field)))
