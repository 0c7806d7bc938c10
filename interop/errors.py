"""Errors answered as FHIR OperationOutcome resources, each with Cadence's own error code
(``issue.details.coding``) beside FHIR's issue type, as the API answers ``code``."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from rest_framework import exceptions, status

from interop import codes

# DRF's exceptions -> (FHIR issue type, our code)
ISSUE_TYPES: dict[type[exceptions.APIException], tuple[str, str]] = {
    exceptions.NotAuthenticated: ("login", "not_authenticated"),
    exceptions.AuthenticationFailed: ("login", "authentication_failed"),
    exceptions.PermissionDenied: ("forbidden", "permission_denied"),
    exceptions.NotFound: ("not-found", "not_found"),
    exceptions.MethodNotAllowed: ("not-supported", "method_not_allowed"),
    exceptions.NotAcceptable: ("not-supported", "not_acceptable"),
    exceptions.ValidationError: ("invalid", "invalid"),
    exceptions.Throttled: ("throttled", "throttled"),
}


class FhirError(exceptions.APIException):
    """A refusal with its FHIR issue type and our code."""

    def __init__(self, status_code: int, issue: str, code: str, diagnostics: str) -> None:
        super().__init__(detail=diagnostics, code=code)
        self.status_code = status_code
        self.issue = issue


def not_found(what: str) -> FhirError:
    return FhirError(status.HTTP_404_NOT_FOUND, "not-found", "not_found", f"{what} is not known.")


def bad_parameter(code: str, diagnostics: str) -> FhirError:
    return FhirError(status.HTTP_400_BAD_REQUEST, "invalid", code, diagnostics)


def operation_outcome(issue: str, code: str, diagnostics: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": issue,
                "details": {
                    "coding": [{"system": f"{codes.base()}/CodeSystem/error", "code": code}],
                    "text": diagnostics,
                },
                "diagnostics": diagnostics,
            }
        ],
    }


def _message(detail: Any) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_message(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return " ".join(_message(item) for item in detail)
    return str(detail)


def outcome_for(exc: Exception) -> tuple[int, dict[str, Any]] | None:
    """The status and OperationOutcome answering ``exc``; None for an unexpected error."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, FhirError):
        return exc.status_code, operation_outcome(exc.issue, str(exc.get_codes()), str(exc.detail))
    if not isinstance(exc, exceptions.APIException):
        return None
    issue, code = next(
        (found for kind, found in ISSUE_TYPES.items() if isinstance(exc, kind)),
        ("exception", "error"),
    )
    return exc.status_code, operation_outcome(issue, code, _message(exc.detail))
