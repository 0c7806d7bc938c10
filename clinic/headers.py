"""Cache-Control on answers that may carry patient data.

A page, an API answer or a CSV export about patients must stay out of every cache: the
browser's (the back button on a shared front-desk computer, the disk cache of a laptop
that is later lost) and any proxy's. The rule is kept simple so that no new view can
forget it: every answer to a request that carries credentials (the session cookie or an
``Authorization`` header, so every authenticated answer) and every patient link page
(``/p/...``, where the token in the address is the credential) is ``no-store, private``.
Static files never get here (WhiteNoise answers them above this middleware).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import add_never_cache_headers

PATIENT_LINK_PREFIX = "/p/"


def carries_private_data(request: HttpRequest) -> bool:
    """Whether the answer to ``request`` may hold patient data (see the module)."""
    if request.path.startswith(settings.STATIC_URL or "/static/"):
        return False
    return (
        settings.SESSION_COOKIE_NAME in request.COOKIES
        or "HTTP_AUTHORIZATION" in request.META
        or request.path.startswith(PATIENT_LINK_PREFIX)
    )


class NoStoreMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if carries_private_data(request):
            # Django's never_cache: "max-age=0, no-cache, no-store, must-revalidate,
            # private" and an Expires of now.
            add_never_cache_headers(response)
        return response
