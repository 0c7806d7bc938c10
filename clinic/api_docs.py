"""The OpenAPI document (``/api/schema/``) and the interactive API docs (``/api/docs/``,
Swagger UI from drf-spectacular-sidecar, served by Cadence itself).

``API_DOCS_REQUIRE_LOGIN`` (on in the docker example) keeps both for logged-in people
(a session, or a bearer token for the schema): the schema maps every endpoint and field
an attacker would probe. Off by default, so a local install's docs open at once.

The docs page is drf-spectacular's "split" view: its start-up script is a separate
request (``?script=``) rather than an inline ``<script>``, so the page runs under the
Content-Security-Policy of every page with two relaxations Swagger UI needs: the
``<style>`` block of drf-spectacular's template and the ``data:`` images of Swagger UI's
stylesheet.
"""

from __future__ import annotations

from typing import Any

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class DocsOpen(BasePermission):
    """Anyone, unless API_DOCS_REQUIRE_LOGIN: then the authenticated only (401)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not settings.API_DOCS_REQUIRE_LOGIN:
            return True
        return bool(request.user and request.user.is_authenticated)


class SchemaView(SpectacularAPIView):
    permission_classes = [DocsOpen]


class DocsView(SpectacularSwaggerSplitView):
    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if settings.API_DOCS_REQUIRE_LOGIN and not request.user.is_authenticated:
            # A browser: the login page, then back here.
            return redirect_to_login(request.get_full_path())  # type: ignore[return-value]
        return super().get(request, *args, **kwargs)


schema = SchemaView.as_view()
docs = csp_update({"style-src": [UNSAFE_INLINE], "img-src": [SELF, "data:"]})(
    DocsView.as_view(url_name="schema")
)
