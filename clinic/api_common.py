"""Shared API plumbing: pagination, error format, OpenAPI error responses."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, OperationalError
from django.http import Http404
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from clinic.errors import constraint_name, refusal_for, sqlstate

logger = logging.getLogger(__name__)
NON_FIELD_ERRORS = api_settings.NON_FIELD_ERRORS_KEY


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable error code.")
    detail = serializers.CharField(help_text="Human-readable explanation.")


class ConflictSerializer(ErrorSerializer):
    conflicts = serializers.ListField(
        child=serializers.DictField(), required=False, help_text="What the request clashed with."
    )


class ValidationErrorSerializer(ErrorSerializer):
    """Every 400 of the API: `code` is always a string (`invalid` when fields failed
    validation, else what went wrong: `parse_error`, `invalid_page`, ...), `detail`
    a summary for a person and `errors` the messages by field (empty when no field is
    to blame). docs/api-errors.md describes it."""

    def get_fields(self) -> dict[str, serializers.Field]:
        # Added here, not declared: `errors` is a Serializer property.
        fields = super().get_fields()
        fields["errors"] = serializers.DictField(
            child=serializers.JSONField(),
            help_text=(
                "Messages by field: a list of strings, or for a nested object or list the "
                "same mapping again (list items keyed by their index). Errors about the "
                "request as a whole are under `non_field_errors`. Empty when no field is "
                "to blame."
            ),
        )
        return fields


def validation_body(code: str, detail: str, errors: dict[str, Any] | None = None) -> dict[str, Any]:
    """The body of every 400 the API answers (see ValidationErrorSerializer)."""
    return {"code": code, "detail": detail, "errors": errors or {}}


def _messages(errors: Any, path: str = "") -> list[str]:
    """Each message of a (nested) error mapping, prefixed with its field's path."""
    if isinstance(errors, dict):
        return [
            message
            for name, nested in errors.items()
            for message in _messages(
                nested, path if name == NON_FIELD_ERRORS else f"{path}.{name}".lstrip(".")
            )
        ]
    if isinstance(errors, list):
        return [message for item in errors for message in _messages(item, path)]
    return [f"{path}: {errors}" if path else str(errors)]


def summary(errors: Any) -> str:
    """One line for a person: the first messages with the fields they are about."""
    messages = _messages(errors)
    shown = " ".join(messages[:3])
    if len(messages) > 3:
        shown += f" (and {len(messages) - 3} more)"
    return shown or "Invalid input."


class FieldRefusal(exceptions.ValidationError):
    """A refusal naming fields that keeps its own code (`duplicate_mrn`: a unique
    constraint stopped the write) instead of `invalid`."""

    def __init__(self, fields: dict[str, list[str]], code: str) -> None:
        super().__init__(fields, code=code)
        self.refusal_code = code


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
            return FieldRefusal(refusal.fields, refusal.code)
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
        errors = response.data
        if not isinstance(errors, dict):
            errors = {NON_FIELD_ERRORS: errors}
        code = exc.refusal_code if isinstance(exc, FieldRefusal) else "invalid"
        response.data = validation_body(code, summary(errors), errors)
        return response
    detail = exc.detail
    codes = exc.get_codes()
    body: dict[str, Any] = {
        "code": codes if isinstance(codes, str) else "error",
        "detail": str(detail),
    }
    if response.status_code == 400:
        body["errors"] = {}
    if response.status_code == 409:
        # Every 409 has the list, empty when the database (not a service's check) refused
        # the write: its text never reaches a client.
        body["conflicts"] = getattr(exc, "conflicts", None) or []
    response.data = body
    return response
