"""The reads behind each FHIR resource type: clinic-scoped querysets that load every
related row a resource shows (interop/resources.py), so a page costs a fixed number of
queries whatever its length. ``clinics`` is the set of clinic ids the reader may see
for the resource's capability, or None for every clinic (a superuser)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, Q, QuerySet

from clinic.capabilities import Capability, roles_for
from clinic.models import Chair, Clinic, Patient
from courses.models import Assessment, TreatmentCourse
from scheduling.models import Session, SessionStatus

Clinics = set[int] | None


def _in(field: str, clinics: Clinics) -> Q:
    return Q() if clinics is None else Q(**{f"{field}__in": clinics})


def patients(clinics: Clinics) -> QuerySet[Patient]:
    return Patient.objects.filter(_in("clinic_id", clinics)).select_related("clinic")


def practitioners(clinics: Clinics) -> QuerySet[Any]:
    """The people who deliver or prescribe treatment: those whose role holds
    RECORD_TREATMENT (the clinic's psychiatrists and technicians)."""
    deliver = Q(memberships__role__in=roles_for(Capability.RECORD_TREATMENT))
    members = get_user_model().objects.filter(deliver & _in("memberships__clinic_id", clinics))
    return get_user_model().objects.filter(pk__in=members.values("pk")).order_by("pk")


def practitioner_clinics(user_id: int) -> set[int]:
    from clinic.models import StaffMembership

    return set(
        StaffMembership.objects.filter(
            user_id=user_id, role__in=roles_for(Capability.RECORD_TREATMENT)
        ).values_list("clinic_id", flat=True)
    )


def locations(clinics: Clinics) -> QuerySet[Clinic]:
    return Clinic.objects.filter(_in("pk", clinics)).prefetch_related("opening_hours")


def devices(clinics: Clinics) -> QuerySet[Chair]:
    return Chair.objects.filter(_in("clinic_id", clinics))


def appointments(clinics: Clinics) -> QuerySet[Session]:
    return (
        Session.objects.filter(_in("chair__clinic_id", clinics))
        .select_related("chair", "patient")
        .order_by("starts_at", "id")
    )


def procedures(clinics: Clinics) -> QuerySet[Session]:
    """Delivered sessions: completed, with their treatment record."""
    return (
        Session.objects.filter(
            _in("chair__clinic_id", clinics),
            status=SessionStatus.COMPLETED,
            record__isnull=False,
        )
        .select_related("chair", "record", "patient")
        .order_by("starts_at", "id")
    )


def observations(clinics: Clinics) -> QuerySet[Assessment]:
    return (
        Assessment.objects.filter(_in("course__patient__clinic_id", clinics))
        .select_related("course__patient")
        .order_by("administered_on", "id")
    )


def planned_sessions() -> Prefetch:
    """A course's sessions that are or were planned to happen (all but cancelled)."""
    return Prefetch(
        "sessions",
        queryset=Session.objects.exclude(status=SessionStatus.CANCELLED)
        .only("id", "course_id", "starts_at")
        .order_by("starts_at", "id"),
        to_attr="planned",
    )


def care_plans(clinics: Clinics) -> QuerySet[TreatmentCourse]:
    return (
        TreatmentCourse.objects.filter(_in("patient__clinic_id", clinics))
        .select_related("protocol", "patient__clinic")
        .prefetch_related(planned_sessions())
        .order_by("start_date", "id")
    )
