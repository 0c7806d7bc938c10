"""Logins into the audit trail: every success and every refusal, on the login page, the
admin's login and the API's token endpoint alike (they all go through Django's
``authenticate``/``login`` signals), and every second factor accepted or refused
(clinic.mfa)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from clinic.client_address import client_address
from clinic.models import AuditAction, AuditEvent, AuditOutcome

User = get_user_model()
# In a failed login's credentials: the password was right, the second factor was not
# (clinic.mfa sends Django's user_login_failed so that django-axes counts it).
SECOND_FACTOR = "second_factor"


def channel_of(request: Any) -> str:
    path = getattr(request, "path", "") or ""
    if path.startswith("/api/"):
        return "api"
    if path.startswith("/admin/"):
        return "admin"
    return "page"


def record_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    AuditEvent.objects.create(
        actor=user,
        username=user.get_username(),
        action=AuditAction.LOGIN,
        outcome=AuditOutcome.OK,
        client_address=client_address(request) if request is not None else None,
        channel=channel_of(request),
        request_id=getattr(request, "request_id", ""),
    )


def record_login_failure(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    """django-axes' receiver ran first (its app comes first): it has marked a request
    that is, or just became, locked out."""
    username = str(credentials.get(User.USERNAME_FIELD) or "")[:150]
    locked = bool(getattr(request, "axes_locked_out", False))
    second_factor = bool(credentials.get(SECOND_FACTOR))
    AuditEvent.objects.create(
        actor=User._default_manager.filter(username=username).first() if username else None,
        username=username,
        action=AuditAction.MFA_FAILED if second_factor else AuditAction.LOGIN_FAILED,
        outcome=AuditOutcome.LOCKED_OUT if locked else AuditOutcome.REFUSED,
        client_address=client_address(request) if request is not None else None,
        channel=channel_of(request),
        object_type="mfa" if second_factor else "",
        request_id=getattr(request, "request_id", ""),
    )


def record_second_factor(request: Any, user: Any, what: str, *, changed: bool = False) -> None:
    """A second factor accepted (``what``: ``mfa:totp``, ``mfa:recovery_code``), or set
    up, renewed or removed (``changed``; ``mfa:enrolled``, ``mfa:recovery_codes``,
    ``mfa:removed``). Refusals come through ``record_login_failure``."""
    AuditEvent.objects.create(
        actor=user,
        username=user.get_username(),
        action=AuditAction.MFA_CHANGED if changed else AuditAction.MFA_VERIFIED,
        outcome=AuditOutcome.OK,
        client_address=client_address(request) if request is not None else None,
        channel=channel_of(request),
        object_type=what,
        request_id=getattr(request, "request_id", ""),
    )
