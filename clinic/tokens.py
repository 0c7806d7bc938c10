"""API tokens: one per login, each device its own and named, stored as a digest.

A token is ``secrets.token_urlsafe(32)`` (256 random bits). The database keeps only its
SHA-256 digest (unique, so finding a token is one indexed query); the token itself is
in the login's answer and nowhere else, so whoever reads the database, a backup or a
replica finds nothing to log in with. A plain hash (no salt, no slow key derivation)
suffices for a random 256-bit secret: there is nothing to guess.

A token works until it expires (``API_TOKEN_TTL_HOURS`` after it was issued) or is
revoked: by its owner (the API and ``/accounts/tokens/``), or all of a person's at once
when their password is changed or reset or their account is deactivated
(:func:`revoke_on_credentials_change`, connected in clinic.apps).

The token endpoint checks the credentials first and then calls :func:`issue_token`; a
second factor, when one is asked for, is checked between the two.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from clinic.models import ApiToken

NAME_LENGTH = ApiToken._meta.get_field("name").max_length or 100
# last_used is written at most this often per token: not a write per request.
LAST_USED_PRECISION = timedelta(minutes=1)

# Marks in a browser's User-Agent, the more specific first (Edge's names Chrome too,
# Chrome's names Safari).
_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("iPad", "iPad"),
    ("iPhone", "iPhone"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("CrOS", "ChromeOS"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)


def digest(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


def _printable(text: str) -> str:
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def default_name(user_agent: str) -> str:
    """A name for a token whose client gave none: "Firefox on Windows" for a browser,
    else the client's first product ("python-requests/2.32.3"), else "API client"."""
    agent = _printable(user_agent)
    if agent.startswith("Mozilla/"):
        browser = next((label for mark, label in _BROWSERS if mark in agent), "Browser")
        system = next((label for mark, label in _SYSTEMS if mark in agent), "")
        return f"{browser} on {system}" if system else browser
    product = agent.split(" ", 1)[0]
    return product[:NAME_LENGTH] or "API client"


def clean_name(name: str | None, request: HttpRequest | None) -> str:
    given = _printable(name or "")[:NAME_LENGTH]
    if given:
        return given
    return default_name(request.headers.get("User-Agent", "") if request is not None else "")


@transaction.atomic
def new_token(user: Any, name: str) -> tuple[ApiToken, str]:
    """A new token for ``user``: ``(its row, the token)``. A person keeps at most
    ``API_TOKENS_PER_PERSON`` tokens: the oldest beyond that are revoked."""
    plain = secrets.token_urlsafe(32)
    now = timezone.now()
    token = ApiToken.objects.create(
        user=user,
        name=name,
        digest=digest(plain),
        created=now,
        last_used=now,
        expires=now + timedelta(hours=settings.API_TOKEN_TTL_HOURS),
    )
    kept = ApiToken.objects.filter(user=user).order_by("-created", "-id")
    beyond = list(kept.values_list("pk", flat=True)[settings.API_TOKENS_PER_PERSON :])
    if beyond:
        ApiToken.objects.filter(pk__in=beyond).delete()
    return token, plain


def issue_token(user: Any, name: str | None, request: HttpRequest) -> tuple[ApiToken, str]:
    """The API login of ``user``, whose credentials (and second factor, when asked) were
    checked: a new token named ``name`` (else after the client's User-Agent). Sends
    ``user_logged_in`` as a page login does (the audit trail's login event, last_login)."""
    token, plain = new_token(user, clean_name(name, request))
    user_logged_in.send(sender=user.__class__, request=request, user=user)
    return token, plain


def find(plain: str) -> ApiToken | None:
    """The token's row with its user (one query), expired or not; None if unknown."""
    return ApiToken.objects.select_related("user").filter(digest=digest(plain)).first()


def is_expired(token: ApiToken) -> bool:
    return token.expires <= timezone.now()


def note_use(token: ApiToken) -> None:
    """Record that ``token`` authenticated a request: a write at most once a minute."""
    now = timezone.now()
    if now - token.last_used >= LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used=now)
        token.last_used = now


def owned_by(user: Any) -> QuerySet[ApiToken]:
    """``user``'s tokens that still work, newest first."""
    return ApiToken.objects.filter(user=user, expires__gt=timezone.now()).order_by(
        "-created", "-id"
    )


def revoke(token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk).delete()


def revoke_all(user: Any) -> int:
    deleted, _ = ApiToken.objects.filter(user=user).delete()
    return deleted


def purge_expired() -> int:
    deleted, _ = ApiToken.objects.filter(expires__lte=timezone.now()).delete()
    return deleted


def revoke_on_credentials_change(
    sender: type, instance: Any, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    """post_save of the user model: a saved new password (``set_password()`` then
    ``save()``: the change page, the reset link, the admin, ``changepassword``) or a
    deactivated account revokes all of the person's tokens. Costs no query on other
    saves (the login's ``last_login``). ``QuerySet.update()`` bypasses it: the
    authentication refuses inactive users anyway."""
    if created or raw:
        return
    if getattr(instance, "_password", None) is not None or not instance.is_active:
        revoke_all(instance)
