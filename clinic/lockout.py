"""What a locked-out login sees (django-axes' AXES_LOCKOUT_CALLABLE).

The API answers 429 ``{"code": "locked_out", "detail", "retry_after"}`` with a
``Retry-After`` header; the login page and the admin's answer 429 with the page. A
lockout ends by itself ``LOGIN_LOCKOUT_MINUTES`` after the failure that caused it (tries
during a lockout do not extend it).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def lockout_minutes() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds()) // 60


def lockout_message() -> str:
    minutes = lockout_minutes()
    return (
        "Too many failed logins for this account or from this address. Logging in is "
        f"blocked for {minutes} minutes after the last of them; try again then, or use "
        "“Forgot your password” if you are not sure of it."
    )


def lockout_response(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    retry_after = lockout_minutes() * 60
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"code": "locked_out", "detail": lockout_message(), "retry_after": retry_after},
            status=429,
        )
    else:
        response = render(
            request,
            "registration/locked_out.html",
            {"message": lockout_message()},
            status=429,
        )
    response["Retry-After"] = str(retry_after)
    return response
