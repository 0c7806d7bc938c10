"""The audit trail's scope of one request (clinic.audit_trail), in a module of its own
so that clinic.models can note each ``Patient`` row it loads without importing the trail
(which imports the models)."""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest


@dataclass
class Read:
    action: str
    object_type: str
    object_id: str
    patients: dict[int, int | None]  # patient id -> clinic id


@dataclass
class Scope:
    request: HttpRequest
    request_id: str
    patients: dict[int, int | None] = field(default_factory=dict)
    reads: list[Read] = field(default_factory=list)


_scope: ContextVar[Scope | None] = ContextVar("cadence_audit_scope", default=None)


def current_scope() -> Scope | None:
    return _scope.get()


def note_loaded_patient(instance: Any) -> None:
    """A ``Patient`` row was loaded from the database (``Patient.from_db``). Called for
    each row of a list page, so it does no more than a dict assignment: a ``post_init``
    receiver here cost a 500-row page about 1 ms of Django's signal dispatch. A row
    loaded with only() may lack its clinic: reading it here would be a query per row;
    the trail's ``_resolve_clinics`` finds those once at the end."""
    scope = _scope.get()
    if scope is not None:
        values = instance.__dict__  # no descriptors: this runs for every row
        scope.patients[values["id"]] = values.get("clinic_id")


def note_loaded_patients(patients: Iterable[tuple[int, int | None]]) -> None:
    """Patients read as plain rows (``values()``; ``(patient id, clinic id)`` pairs): a
    read the audit trail records as it records loaded ``Patient`` rows."""
    scope = _scope.get()
    if scope is not None:
        scope.patients.update(patients)
