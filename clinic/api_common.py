"""Shared API plumbing: pagination, error format, OpenAPI error responses."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from clinic.errors import DomainError, constraint_name, explain_database_error, sqlstate

logger = logging.getLogger(__name__)


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable error code.")
    detail = serializers.CharField(help_text="Human-readable explanation.")


class ConflictSerializer(ErrorSerializer):
    conflicts = serializers.ListField(
        child=serializers.DictField(), required=False, help_text="What the request clashed with."
    )


VALIDATION_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "Validation failed. Each key names a field (or `non_field_errors`) and holds its "
        "messages; malformed bodies get `code` and `detail` instead."
    ),
    "properties": {
        "code": {"type": "string"},
        "detail": {"type": "string"},
    },
    "additionalProperties": {
        "oneOf": [
            {"type": "array", "items": {"type": "string"}},
            {"type": "object", "description": "Errors of a nested object or list item."},
        ]
    },
}


def _as_api_exception(exc: Exception) -> Exception:
    if isinstance(exc, DomainError):
        error = exceptions.APIException(detail=exc.detail, code=exc.code)
        error.status_code = exc.status_code
        error.conflicts = exc.conflicts  # type: ignore[attr-defined]
        return error
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(detail=serializers.as_serializer_error(exc))
    if isinstance(exc, ProtectedError | RestrictedError):
        error = exceptions.APIException(
            detail="This record is still in use and cannot be deleted.", code="in_use"
        )
        error.status_code = 409
        return error
    refusal = explain_database_error(exc)
    if refusal is not None:
        # Log the constraint name or SQLSTATE only: the database message can carry values.
        logger.info(
            "database refused a write: %s",
            constraint_name(exc) if isinstance(exc, IntegrityError) else sqlstate(exc),
        )
        if refusal.field is not None:
            return exceptions.ValidationError({refusal.field: [refusal.message]}, code=refusal.code)
        error = exceptions.APIException(detail=refusal.message, code=refusal.code)
        error.status_code = 409
        return error
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    return exc


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    exc = _as_api_exception(exc)
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    if isinstance(exc, exceptions.ValidationError):
        if not isinstance(response.data, dict):
            response.data = {"non_field_errors": response.data}
        return response
    detail = exc.detail
    codes = exc.get_codes()
    body: dict[str, Any] = {
        "code": codes if isinstance(codes, str) else "error",
        "detail": str(detail),
    }
    conflicts = getattr(exc, "conflicts", None)
    if conflicts is not None or response.status_code == 409:
        # Every 409 has the list, empty when the database (not a service's check) refused
        # the write: its text never reaches a client.
        body["conflicts"] = conflicts or []
    response.data = body
    return response
