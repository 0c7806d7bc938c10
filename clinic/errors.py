"""Domain errors raised by services; the API and the HTML pages map them to responses.

Services never import DRF: a service raises ``Conflict`` with a machine-readable code
and a human message, and the API layer turns it into a 409.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, OperationalError


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
