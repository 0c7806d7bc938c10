"""Shared API plumbing: pagination, error format, OpenAPI error responses."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, OperationalError
from django.http import Http404
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from clinic.errors import constraint_name, refusal_for, sqlstate

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
    if isinstance(exc, DjangoValidationError):
        # Keeps the nesting of list items and the codes DRF clients expect.
        return exceptions.ValidationError(detail=serializers.as_serializer_error(exc))
    refusal = refusal_for(exc)
    if refusal is not None:
        if isinstance(exc, IntegrityError | OperationalError):
            # Log the constraint name or SQLSTATE only: the database text can carry values.
            logger.info(
                "database refused a write: %s",
                constraint_name(exc) if isinstance(exc, IntegrityError) else sqlstate(exc),
            )
        if refusal.fields:
            return exceptions.ValidationError(refusal.fields, code=refusal.code)
        error = exceptions.APIException(detail=refusal.message, code=refusal.code)
        error.status_code = refusal.status
        error.conflicts = refusal.conflicts  # type: ignore[attr-defined]
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
