"""API logins: ``POST /api/v1/auth/token/`` issues a token for a username and password,
``DELETE`` on it revokes the token in use (logging out); ``/api/v1/auth/tokens/`` lists
and revokes the caller's own tokens (clinic/tokens.py says how they are kept)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from django.db.models import QuerySet
from django.http import HttpRequest
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, permissions, viewsets
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle, ScopedRateThrottle
from rest_framework.views import APIView

from clinic import mfa, tokens
from clinic.api_common import ErrorSerializer
from clinic.authentication import BearerTokenAuthentication
from clinic.client_address import client_address
from clinic.models import ApiToken
from clinic.serializers import ApiTokenSerializer, LoginSerializer, TokenSerializer


class LoginRateThrottle(ScopedRateThrottle):
    """The login rate per client address, found behind our trusted proxies only."""

    def get_ident(self, request: Request) -> str:
        return client_address(request) or ""


def check_credentials(request: HttpRequest, username: str, password: str) -> Any:
    """The active user ``username`` and ``password`` name, else 401
    ``invalid_credentials``. Django's ``authenticate()``, so django-axes counts the
    failure (and its middleware answers 429 ``locked_out`` during a lockout)."""
    user = authenticate(request, username=username, password=password)
    if user is None or not user.is_active:
        raise exceptions.AuthenticationFailed(
            "Unable to log in with that username and password.", code="invalid_credentials"
        )
    return user


def _method(view: APIView) -> str:
    # The Django request during dispatch (View.setup), spectacular's mock in the schema.
    return str(getattr(getattr(view, "request", None), "method", "") or "").upper()


class TokenView(APIView):
    """``POST``: exchange a username and password for a new API token, one per login
    (``name`` it after the device). ``DELETE``: revoke the token this request is made
    with (log out); it answers 401 from then on.

    A person who logs in with a second factor sends its code as ``otp`` too
    (clinic.mfa.check_second_factor): 401 ``mfa_required`` without it, 401
    ``mfa_invalid`` when wrong; 403 ``mfa_enrolment_required`` when one is required of
    them and not set up yet.

    Locked out (too many failures for the username or from the address): 429
    ``locked_out`` with ``retry_after`` seconds, answered by django-axes' middleware.
    """

    throttle_classes = [LoginRateThrottle]
    throttle_scope = "login"
    schema_conflicts = False

    def get_authenticators(self) -> list[BaseAuthentication]:
        # Logging in reads no credentials but the body's; logging out needs the token.
        return [] if _method(self) == "POST" else [BearerTokenAuthentication()]

    def get_permissions(self) -> list[BasePermission]:
        if _method(self) == "POST":
            return [permissions.AllowAny()]
        return [permissions.IsAuthenticated()]

    def get_throttles(self) -> list[BaseThrottle]:
        return super().get_throttles() if _method(self) == "POST" else []

    def get_authenticate_header(self, request: Request) -> str:
        # Makes failed logins answer 401 (not 403) although the view needs no auth.
        return 'Bearer realm="api"'

    @extend_schema(
        request=LoginSerializer,
        responses={200: TokenSerializer, 401: ErrorSerializer, 403: ErrorSerializer},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = check_credentials(request._request, data["username"], data["password"])
        # The second factor, for those who have or need one: before any token.
        mfa.check_second_factor(request._request, user, data.get("otp"))
        token, plain = tokens.issue_token(user, data.get("name"), request._request)
        return Response(
            TokenSerializer(
                {
                    "token": plain,
                    "id": token.pk,
                    "name": token.name,
                    "created": token.created,
                    "expires": token.expires,
                }
            ).data
        )

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        if not isinstance(request.auth, ApiToken):  # bearer tokens only authenticate here
            raise exceptions.NotAuthenticated()
        tokens.revoke(request.auth)
        return Response(status=204)


@extend_schema_view(
    list=extend_schema(summary="Your API tokens that still work, newest first."),
    destroy=extend_schema(summary="Revoke one of your API tokens."),
)
class ApiTokenViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Your own API tokens, one per login: name, when issued, last used and expiring,
    and whether it is the one in use; never the token itself. Anyone logged in, for
    their own tokens only (another person's token id is a 404)."""

    serializer_class = ApiTokenSerializer
    lookup_value_regex = r"\d+"
    schema_conflicts = False

    def get_queryset(self) -> QuerySet[ApiToken]:
        if getattr(self, "swagger_fake_view", False):  # the OpenAPI schema's dry run
            return ApiToken.objects.none()
        return tokens.owned_by(self.request.user)

    def perform_destroy(self, instance: ApiToken) -> None:
        tokens.revoke(instance)
