from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from clinic import tokens
from clinic.models import ApiToken


class BearerTokenAuthentication(TokenAuthentication):
    """``Authorization: Bearer <token>``, a token of :mod:`clinic.tokens`: found by its
    digest, refused once expired (API_TOKEN_TTL_HOURS), revoked or its owner deactivated.

    DRF's TokenAuthentication parses the header (and tells drf-spectacular this is a
    bearer scheme); the lookup is ours, as DRF's stores tokens in clear text.
    """

    keyword = "Bearer"

    def authenticate_credentials(self, key: str) -> tuple[Any, ApiToken]:
        token = tokens.find(key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if tokens.is_expired(token):
            raise exceptions.AuthenticationFailed("Token has expired; request a new one.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        tokens.note_use(token)
        return token.user, token
