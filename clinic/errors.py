"""Domain errors raised by services, and what a person or a client is told about them.

Services never import DRF: a service refuses with ``Conflict`` (409) or a Django
``ValidationError`` (400), each with a machine-readable code and a human message; the
database may refuse a write a service's checks let through (a concurrent writer won
the race). ``refusal_for`` says how any of these is answered, so the API
(clinic.api_common.exception_handler) and the pages (clinic.web.attempt) refuse the
same things with the same status and code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError
from django.db.models import ProtectedError, RestrictedError


class DomainError(Exception):
    status_code = 400
    default_code = "invalid"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        conflicts: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.conflicts = conflicts or []


class Conflict(DomainError):
    """The request is well formed but clashes with the current state (HTTP 409)."""

    status_code = 409
    default_code = "conflict"


@dataclass(frozen=True)
class ConstraintError:
    """How to answer when a constraint stops a write (a concurrent writer won the race
    between a service's check and its insert). ``field`` set: a 400 naming that field;
    otherwise a 409 with ``code``. The database text itself is never shown."""

    code: str
    message: str
    field: str | None = None


CONSTRAINT_ERRORS: dict[str, ConstraintError] = {
    "patient_mrn_unique_in_clinic": ConstraintError(
        "duplicate_mrn", "A patient with this MRN already exists in this clinic.", "mrn"
    ),
    "closure_one_per_day": ConstraintError(
        "duplicate_closure", "The clinic is already closed on that date.", "date"
    ),
    "chair_name_unique_in_clinic": ConstraintError(
        "duplicate_chair", "A chair with this name already exists in this clinic.", "name"
    ),
    "opening_hours_one_per_day": ConstraintError(
        "duplicate_weekday", "Each weekday may appear once.", "opening_hours"
    ),
    "membership_one_per_clinic": ConstraintError(
        "duplicate_membership", "This staff member already belongs to that clinic.", "clinics"
    ),
}


def register_constraint(name: str, error: ConstraintError) -> None:
    """Let other apps describe their constraints' violations (from AppConfig.ready)."""
    CONSTRAINT_ERRORS[name] = error


UNKNOWN_CONSTRAINT = ConstraintError("conflict", "The change conflicts with existing data.")
RETRYABLE_SQLSTATES = {"40P01", "40001"}  # deadlock detected, serialization failure
CONCURRENT_UPDATE = ConstraintError(
    "concurrent_update", "Someone else changed this at the same moment; please try again."
)


def sqlstate(exc: Exception) -> str | None:
    return getattr(exc.__cause__, "sqlstate", None)


def constraint_name(exc: IntegrityError) -> str | None:
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)


def explain_database_error(exc: Exception) -> ConstraintError | None:
    """What to tell a person when the database refused a write that a service's checks
    let through (a concurrent writer won the race): a known constraint's message, or a
    retryable "changed at the same moment". None: not such an error (let it raise).
    The database's own text is never used: it can carry row values."""
    if isinstance(exc, IntegrityError):
        return CONSTRAINT_ERRORS.get(constraint_name(exc) or "", UNKNOWN_CONSTRAINT)
    if isinstance(exc, OperationalError) and sqlstate(exc) in RETRYABLE_SQLSTATES:
        return CONCURRENT_UPDATE
    return None


@dataclass(frozen=True)
class Refusal:
    """A service's or the database's "no", as it is answered: the HTTP status, a code,
    a message for a person, the messages by field (a ValidationError, a unique field's
    constraint) and what the request clashed with (a 409)."""

    status: int
    code: str
    message: str
    fields: dict[str, list[str]] = field(default_factory=dict)
    conflicts: list[dict[str, Any]] = field(default_factory=list)


def _validation_code(exc: ValidationError) -> str:
    errors = (
        [error for listed in exc.error_dict.values() for error in listed]
        if hasattr(exc, "error_dict")
        else exc.error_list
    )
    for error in errors:
        if error.code:
            return str(error.code)
    return "invalid"


def refusal_for(exc: BaseException) -> Refusal | None:
    """How a refused change is answered; None when ``exc`` is not a refusal (a bug, an
    outage: let it raise). The database's own text is never used: it can carry values."""
    if isinstance(exc, DomainError):
        return Refusal(exc.status_code, exc.code, exc.detail, conflicts=exc.conflicts)
    if isinstance(exc, ValidationError):
        fields = (
            {name: list(messages) for name, messages in exc.message_dict.items()}
            if hasattr(exc, "error_dict")
            else {}
        )
        return Refusal(400, _validation_code(exc), " ".join(exc.messages), fields)
    if isinstance(exc, ProtectedError | RestrictedError):
        return Refusal(409, "in_use", "This record is still in use and cannot be deleted.")
    if isinstance(exc, IntegrityError | OperationalError):
        known = explain_database_error(exc)
        if known is None:
            return None
        if known.field is not None:
            return Refusal(400, known.code, known.message, {known.field: [known.message]})
        return Refusal(409, known.code, known.message)
    return None
