"""Shared API plumbing: pagination, error format, OpenAPI error responses."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, OperationalError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from clinic.errors import CONSTRAINT_ERRORS, ConstraintError, DomainError

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


UNKNOWN_CONSTRAINT = ConstraintError("conflict", "The change conflicts with existing data.")


RETRYABLE_SQLSTATES = {"40P01", "40001"}  # deadlock detected, serialization failure


def _sqlstate(exc: Exception) -> str | None:
    return getattr(exc.__cause__, "sqlstate", None)


def _constraint_name(exc: IntegrityError) -> str | None:
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)


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
    if isinstance(exc, IntegrityError):
        name = _constraint_name(exc)
        known = CONSTRAINT_ERRORS.get(name or "", UNKNOWN_CONSTRAINT)
        # Log the constraint name only: the database message can carry row values.
        logger.info("integrity error on constraint %s", name)
        if known.field is not None:
            return exceptions.ValidationError({known.field: [known.message]}, code=known.code)
        error = exceptions.APIException(detail=known.message, code=known.code)
        error.status_code = 409
        return error
    if isinstance(exc, OperationalError) and _sqlstate(exc) in RETRYABLE_SQLSTATES:
        # Two writers raced and the database chose one to abort (deadlock or
        # serialization failure): for the client this is a conflict worth retrying.
        logger.info("concurrent write aborted (%s)", _sqlstate(exc))
        error = exceptions.APIException(
            detail="Someone else changed this at the same moment; please try again.",
            code="concurrent_update",
        )
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
    if conflicts is not None:
        body["conflicts"] = conflicts
    response.data = body
    return response
