"""The FHIR resource types Cadence serves: for each, the capability that reads it, its
rows, its search parameters and how a row becomes a resource. The views
(interop/views.py) and the CapabilityStatement (interop/metadata.py) both read this
table, so the statement lists exactly what is served."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from clinic.capabilities import Capability
from clinic.models import Clinic
from interop import codes, resources, search, selectors
from interop.resources import Resource, Sight


@dataclass(frozen=True)
class SearchParam:
    name: str
    type: str  # FHIR's search parameter type: reference, date, token
    documentation: str


@dataclass(frozen=True)
class Context:
    """What a search's filters need beyond its parameters."""

    clinics: list[Clinic]  # the clinics in scope, for a day on their wall clock


Filter = Callable[[QuerySet[Any], list[str], Context], QuerySet[Any]]


@dataclass(frozen=True)
class ResourceType:
    name: str
    capability: Capability
    rows: Callable[[selectors.Clinics], QuerySet[Any]]
    clinic_of: Callable[[Any], set[int]]  # the clinics a row belongs to
    build: Callable[[Any, Sight], Resource]
    params: Mapping[str, tuple[SearchParam, Filter]] = field(default_factory=dict)
    patient_data: bool = True  # reads are audit events
    needs_clinics: bool = False  # a date filter reads the clinics' zones


def _patient_param(path: str, what: str) -> tuple[SearchParam, Filter]:
    def apply(rows: QuerySet[Any], values: list[str], context: Context) -> QuerySet[Any]:
        for value in values:
            rows = rows.filter(**{path: search.reference_id(value, "Patient")})
        return rows

    return SearchParam("patient", "reference", f"The patient {what} (Patient/<id>)."), apply


def _instant_param(field_name: str, clinic_field: str, what: str) -> tuple[SearchParam, Filter]:
    def apply(rows: QuerySet[Any], values: list[str], context: Context) -> QuerySet[Any]:
        bounds = [search.date_bound(value) for value in values]
        return rows.filter(search.instant_filter(field_name, clinic_field, bounds, context.clinics))

    return SearchParam("date", "date", what), apply


def _day_param(field_name: str, what: str) -> tuple[SearchParam, Filter]:
    def apply(rows: QuerySet[Any], values: list[str], context: Context) -> QuerySet[Any]:
        return rows.filter(search.day_filter(field_name, [search.date_bound(v) for v in values]))

    return SearchParam("date", "date", what), apply


def _id_param() -> tuple[SearchParam, Filter]:
    def apply(rows: QuerySet[Any], values: list[str], context: Context) -> QuerySet[Any]:
        for value in values:
            rows = rows.filter(pk=search.reference_id(value, "Patient"))
        return rows

    return SearchParam("_id", "token", "The patient's id."), apply


def _identifier_param() -> tuple[SearchParam, Filter]:
    def apply(rows: QuerySet[Any], values: list[str], context: Context) -> QuerySet[Any]:
        for value in values:
            system, _, mrn = value.rpartition("|")
            rows = rows.filter(mrn=mrn)
            if system:
                prefix, suffix = f"{codes.base()}/clinic/", "/mrn"
                if not (system.startswith(prefix) and system.endswith(suffix)):
                    return rows.none()
                rows = rows.filter(clinic__slug=system[len(prefix) : -len(suffix)])
        return rows

    return (
        SearchParam(
            "identifier", "token", "The MRN, as <system>|<mrn> or <mrn> (any clinic in scope)."
        ),
        apply,
    )


def _one(attribute: str) -> Callable[[Any], set[int]]:
    def clinic_of(row: Any) -> set[int]:
        value = row
        for hop in attribute.split("."):
            value = getattr(value, hop)
        return {int(value)}

    return clinic_of


def _care_plan(course: Any, sight: Sight) -> Resource:
    return resources.care_plan(course, course.planned)


def _params(*pairs: tuple[SearchParam, Filter]) -> dict[str, tuple[SearchParam, Filter]]:
    return {param.name: (param, apply) for param, apply in pairs}


TYPES: dict[str, ResourceType] = {
    spec.name: spec
    for spec in (
        ResourceType(
            "Patient",
            Capability.READ_CLINIC_RECORDS,
            selectors.patients,
            _one("clinic_id"),
            resources.patient,
            _params(_id_param(), _identifier_param()),
        ),
        ResourceType(
            "Practitioner",
            Capability.READ_CLINIC_RECORDS,
            selectors.practitioners,
            lambda user: selectors.practitioner_clinics(user.pk),
            lambda user, sight: resources.practitioner(user),
            patient_data=False,
        ),
        ResourceType(
            "Location",
            Capability.READ_CLINIC_RECORDS,
            selectors.locations,
            lambda clinic: {int(clinic.pk)},
            lambda clinic, sight: resources.location(clinic),
            patient_data=False,
        ),
        ResourceType(
            "Device",
            Capability.READ_CLINIC_RECORDS,
            selectors.devices,
            _one("clinic_id"),
            lambda chair, sight: resources.device(chair),
            patient_data=False,
        ),
        ResourceType(
            "Appointment",
            Capability.READ_CLINIC_RECORDS,
            selectors.appointments,
            _one("chair.clinic_id"),
            lambda session, sight: resources.appointment(session),
            _params(
                _patient_param("patient_id", "booked"),
                _instant_param(
                    "starts_at",
                    "chair__clinic_id",
                    "The session's start: a day on the clinic's wall clock, or an instant "
                    "with its offset; prefixes eq, ge, le, gt, lt.",
                ),
            ),
            needs_clinics=True,
        ),
        ResourceType(
            "Procedure",
            Capability.READ_CLINICAL_DETAIL,
            selectors.procedures,
            _one("chair.clinic_id"),
            lambda session, sight: resources.procedure(session, session.record),
            _params(
                _patient_param("patient_id", "treated"),
                _instant_param(
                    "starts_at",
                    "chair__clinic_id",
                    "The start of the session it was delivered in: a day on the clinic's "
                    "wall clock, or an instant with its offset; prefixes eq, ge, le, gt, lt.",
                ),
            ),
            needs_clinics=True,
        ),
        ResourceType(
            "Observation",
            Capability.READ_SCORES,
            selectors.observations,
            _one("course.patient.clinic_id"),
            resources.observation,
            _params(
                _patient_param("course__patient_id", "scored"),
                _day_param(
                    "administered_on",
                    "The day the scale was administered; prefixes eq, ge, le, gt, lt.",
                ),
            ),
        ),
        ResourceType(
            "CarePlan",
            Capability.READ_CLINIC_RECORDS,
            selectors.care_plans,
            _one("patient.clinic_id"),
            _care_plan,
            _params(_patient_param("patient_id", "treated")),
        ),
    )
}
