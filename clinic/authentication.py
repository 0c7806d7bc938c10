from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token


def token_expired(token: Token) -> bool:
    return token.created < timezone.now() - timedelta(hours=settings.API_TOKEN_TTL_HOURS)


class BearerTokenAuthentication(TokenAuthentication):
    """``Authorization: Bearer <token>``; tokens expire after API_TOKEN_TTL_HOURS."""

    keyword = "Bearer"

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        user, token = super().authenticate_credentials(key)
        if token_expired(token):
            raise exceptions.AuthenticationFailed("Token has expired; request a new one.")
        return user, token
