"""Non-trivial reads for the clinic app."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, Q, QuerySet

from clinic import access
from clinic.models import Clinic, Patient, StaffMembership

User = get_user_model()


def clinic_list(user: Any) -> QuerySet[Clinic]:
    queryset = Clinic.objects.prefetch_related("opening_hours")
    ids = access.clinic_ids(user)
    return queryset if ids is None else queryset.filter(id__in=ids)


def patient_search(queryset: QuerySet[Patient], text: str) -> QuerySet[Patient]:
    """Match by MRN, by phone digits, or by every word starting a first or last name
    ("ana lop" finds Ana Lopez, not every Ana and every Lopez)."""
    words = text.split()
    if not words:
        return queryset
    names = Q()
    for word in words:
        names &= Q(first_name__istartswith=word) | Q(last_name__istartswith=word)
    condition = names | Q(mrn__iexact=text.strip())
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) >= 4:
        condition |= Q(phone__contains=digits)
    return queryset.filter(condition)


def staff_list(user: Any) -> QuerySet[Any]:
    ids = access.clinic_ids(user)
    memberships = StaffMembership.objects.order_by("clinic_id")
    queryset = User.objects.order_by("username")
    if ids is not None:
        memberships = memberships.filter(clinic_id__in=ids)
        queryset = queryset.filter(
            id__in=StaffMembership.objects.filter(clinic_id__in=ids).values("user_id")
        )
    return queryset.prefetch_related(Prefetch("memberships", queryset=memberships))


def clinic_staff(clinic: Clinic) -> list[StaffMembership]:
    """The clinic's memberships with their people, by name (one query)."""
    return list(
        StaffMembership.objects.filter(clinic=clinic)
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "user__username")
    )
