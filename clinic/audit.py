"""Logins into the audit trail: every success and every refusal, on the login page, the
admin's login and the API's token endpoint alike (they all go through Django's
``authenticate``/``login`` signals)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from clinic.client_address import client_address
from clinic.models import AuditAction, AuditEvent, AuditOutcome

User = get_user_model()


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
    AuditEvent.objects.create(
        actor=User._default_manager.filter(username=username).first() if username else None,
        username=username,
        action=AuditAction.LOGIN_FAILED,
        outcome=AuditOutcome.LOCKED_OUT if locked else AuditOutcome.REFUSED,
        client_address=client_address(request) if request is not None else None,
        channel=channel_of(request),
        request_id=getattr(request, "request_id", ""),
    )
