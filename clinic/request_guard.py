"""Refuses a request whose query string or form fields carry a NUL character.

PostgreSQL's text types cannot hold NUL: a search for "a\\x00" reached the database as
a filter and failed there with a 500 (the booking page's patient search, issue 15
item 7). Django's form CharFields and DRF's refuse NUL in what they validate, but
query parameters read by views and filters, and the SMS webhooks' form fields, are not
all read through one. No legitimate field of Cadence's carries NUL, so it is refused
at the door with a 400, the API's in its error format.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
    QueryDict,
)

from clinic.api_common import validation_body

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
MESSAGE = "The request carries a NUL character, which no field accepts."


def _has_nul(fields: QueryDict) -> bool:
    return any(
        "\x00" in key or any("\x00" in value for value in values) for key, values in fields.lists()
    )


def carries_nul(request: HttpRequest) -> bool:
    if _has_nul(request.GET):
        return True
    return (
        request.method == "POST" and request.content_type in FORM_TYPES and _has_nul(request.POST)
    )


class NulCharacterMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if carries_nul(request):
            if request.path.startswith("/api/"):
                return JsonResponse(validation_body("nul_character", MESSAGE), status=400)
            return HttpResponseBadRequest(MESSAGE, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
