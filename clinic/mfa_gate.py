"""Until a session has passed the second factor it owes (clinic/mfa.py), it reaches only
the login's second step, the enrolment and the logout: every staff page, the admin and
the API (with the session) send it there; the API answers 403 ``mfa_required`` or
``mfa_enrolment_required`` instead.

Runs after django-otp's ``OTPMiddleware`` (``request.user.is_verified()``). A session
marked exempt at login costs no query here; a verified one costs django-otp's one query
for its device.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

from clinic import mfa

# Reachable before the second factor: the steps of the login itself, and what a staff
# session has nothing to do with (patients' links, webhooks, the health check).
OPEN_URL_NAMES = ("login", "logout", "mfa-verify", "mfa-setup", "api-token", "healthz")
OPEN_PREFIXES = ("/p/", "/webhooks/", "/static/")


@cache
def _open_paths() -> frozenset[str]:
    return frozenset(reverse(name) for name in OPEN_URL_NAMES)


def owes_second_factor(request: HttpRequest) -> bool:
    user = request.user
    if not user.is_authenticated or mfa.session_verified(request):
        return False
    state = request.session.get(mfa.SESSION_KEY)
    if state == mfa.EXEMPT:
        return False
    if state is None and not mfa.needed(user):
        # A session from before the second factor existed, or after it was removed.
        request.session[mfa.SESSION_KEY] = mfa.EXEMPT
        return False
    return True


class SecondFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            request.path not in _open_paths()
            and not request.path.startswith(OPEN_PREFIXES)
            and owes_second_factor(request)
        ):
            return self.refuse(request)
        return self.get_response(request)

    @staticmethod
    def refuse(request: HttpRequest) -> HttpResponse:
        enrolled = mfa.authenticator(request.user) is not None
        if request.path.startswith("/api/"):
            if enrolled:
                code, detail = "mfa_required", "Enter your second factor's code first."
            else:
                code, detail = "mfa_enrolment_required", "Set up your second factor first."
            return JsonResponse({"code": code, "detail": detail}, status=403)
        target = reverse("mfa-verify" if enrolled else "mfa-setup")
        if request.headers.get("HX-Request") == "true":
            return HttpResponseClientRedirect(target)
        if request.method == "GET":
            target += "?" + urlencode({"next": request.get_full_path()})
        return redirect(target)
