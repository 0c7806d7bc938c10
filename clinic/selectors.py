"""Non-trivial reads for the clinic app."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
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


US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def typed_date(text: str) -> dt.date | None:
    """A date of birth as staff type it: ``YYYY-MM-DD`` or the US ``M/D/YYYY``."""
    text = text.strip()
    try:
        found = US_DATE.match(text)
        if found:
            month, day, year = (int(part) for part in found.groups())
            return dt.date(year, month, day)
        return dt.date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def phone_digits(text: str) -> str:
    """The digits of a typed phone number, as they appear in the stored E.164 form (a
    US number typed without its country code, 10 digits, gains its leading 1)."""
    digits = "".join(ch for ch in text if ch.isdigit())
    return "1" + digits if len(digits) == 10 and not text.strip().startswith("+") else digits


def patient_search(
    queryset: QuerySet[Patient], text: str, *, phone_in: Collection[int] | None = None
) -> QuerySet[Patient]:
    """Match by MRN, by date of birth (``YYYY-MM-DD`` or ``M/D/YYYY``), by phone digits,
    or by every word starting a first or last name ("ana lop" finds Ana Lopez, not every
    Ana and every Lopez); case does not matter. ``phone_in`` limits matching by phone to
    those clinics (where the searcher may see contact details: a search is otherwise a
    way to test which number a patient has); None, every clinic."""
    words = text.split()
    if not words:
        return queryset
    born = typed_date(text)
    if born is not None:
        return queryset.filter(date_of_birth=born)
    names = Q()
    for word in words:
        names &= Q(first_name__istartswith=word) | Q(last_name__istartswith=word)
    condition = names | Q(mrn__iexact=text.strip())
    digits = phone_digits(text)
    if len(digits) >= 4 and (phone_in is None or phone_in):
        by_phone = Q(phone__contains=digits)
        condition |= by_phone if phone_in is None else by_phone & Q(clinic_id__in=phone_in)
    return queryset.filter(condition)


def patient_duplicates(
    clinic: Clinic,
    *,
    first_name: str,
    last_name: str,
    date_of_birth: dt.date | None,
    phone: str,
    exclude: int | None = None,
) -> QuerySet[Patient]:
    """The clinic's other patients who may be the same person: the same first and last
    name (any case) and date of birth, or the same phone number."""
    condition = Q(
        first_name__iexact=first_name.strip(),
        last_name__iexact=last_name.strip(),
        date_of_birth=date_of_birth,
    )
    if phone:
        condition |= Q(phone=phone)
    found = Patient.objects.filter(condition, clinic=clinic)
    if exclude is not None:
        found = found.exclude(pk=exclude)
    return found.order_by("last_name", "first_name", "id")


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
