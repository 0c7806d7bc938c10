"""Every write to the clinic app goes through these functions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from functools import partial
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from clinic import signals, tokens
from clinic.capabilities import FIRST_PERSON_ROLE, Capability, roles_for
from clinic.errors import CONSTRAINT_ERRORS, Conflict
from clinic.models import (
    Chair,
    Clinic,
    Closure,
    OpeningHours,
    Patient,
    StaffMembership,
)

User = get_user_model()


def _field_error(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: ValidationError(message, code=code)})


def _apply(instance: Model, data: Mapping[str, Any]) -> None:
    for name, value in data.items():
        setattr(instance, name, value)
    instance.full_clean(validate_unique=False, validate_constraints=False)
    instance.save()


def _replace_opening_hours(clinic: Clinic, hours: Iterable[Mapping[str, Any]]) -> None:
    clinic.opening_hours.all().delete()
    OpeningHours.objects.bulk_create(OpeningHours(clinic=clinic, **entry) for entry in hours)


@transaction.atomic
def clinic_create(*, opening_hours: Iterable[Mapping[str, Any]] = (), **fields: Any) -> Clinic:
    if Clinic.objects.filter(slug=fields["slug"]).exists():
        raise _field_error("slug", "A clinic with this slug already exists.", "duplicate_slug")
    clinic = Clinic()
    _apply(clinic, fields)
    _replace_opening_hours(clinic, opening_hours)
    return clinic


@transaction.atomic
def clinic_update(
    clinic: Clinic, *, opening_hours: Iterable[Mapping[str, Any]] | None = None, **fields: Any
) -> Clinic:
    if (
        "slug" in fields
        and Clinic.objects.filter(slug=fields["slug"]).exclude(pk=clinic.pk).exists()
    ):
        raise _field_error("slug", "A clinic with this slug already exists.", "duplicate_slug")
    _apply(clinic, fields)
    if opening_hours is not None:
        _replace_opening_hours(clinic, opening_hours)
    return clinic


def _ensure_unique_in_clinic(
    instance: Model, fields: Mapping[str, Any], field: str, constraint: str
) -> None:
    """Check a per-clinic unique field first, with the message the constraint's race
    answer uses too (clinic.errors.CONSTRAINT_ERRORS)."""
    clinic = fields.get("clinic", getattr(instance, "clinic", None))
    value = fields.get(field, getattr(instance, field))
    clash = type(instance)._default_manager.filter(clinic=clinic, **{field: value})
    if clash.exclude(pk=instance.pk).exists():
        error = CONSTRAINT_ERRORS[constraint]
        raise _field_error(field, error.message, error.code)


def _refuse_past_day(clinic: Clinic, day: Any) -> None:
    if day < clinic.today():
        raise _field_error("date", "A closure cannot be in the past.", "past")


def closure_save(closure: Closure | None = None, **fields: Any) -> Closure:
    """Add or change a day the clinic is closed; a new or moved date must be from the
    clinic's today on (a closure in the past changes nothing and would hide what
    happened that day)."""
    clinic = fields.get("clinic") or (closure.clinic if closure is not None else None)
    day = fields.get("date")
    if clinic is not None and day is not None and (closure is None or day != closure.date):
        _refuse_past_day(clinic, day)
    closure = closure or Closure()
    _ensure_unique_in_clinic(closure, fields, "date", "closure_one_per_day")
    _apply(closure, fields)
    signals.announce_capacity_changed(closure.clinic_id)
    return closure


def closure_delete(closure: Closure) -> None:
    """Open the clinic again on a closed day, from the clinic's today on: a past
    closure is kept (409 ``closure_past``) as it explains that day's empty board."""
    if closure.date < closure.clinic.today():
        raise Conflict(
            f"{closure.date:%A %d %B %Y} has passed: its closure is kept.", code="closure_past"
        )
    clinic_id = closure.clinic_id
    closure.delete()
    signals.announce_capacity_changed(clinic_id)


def chair_save(chair: Chair | None = None, **fields: Any) -> Chair:
    added = chair is None
    chair = chair or Chair()
    before = (chair.active, list(chair.coils))
    _ensure_unique_in_clinic(chair, fields, "name", "chair_name_unique_in_clinic")
    _apply(chair, fields)
    if added or before != (chair.active, list(chair.coils)):
        signals.announce_capacity_changed(chair.clinic_id)
    return chair


EARLIEST_BIRTH = date(1900, 1, 1)


def _check_date_of_birth(clinic: Clinic, born: date) -> None:
    if not EARLIEST_BIRTH <= born <= clinic.today():
        raise _field_error(
            "date_of_birth",
            f"A date of birth lies between {EARLIEST_BIRTH:%Y} and today.",
            "out_of_range",
        )


@transaction.atomic
def patient_save(
    patient: Patient | None = None,
    *,
    by: Any = None,
    consent_source: str = "staff",
    consent_document: str = "",
    consent_given_on: date | None = None,
    **fields: Any,
) -> Patient:
    """Create or update a patient. A change of consent goes into the consent ledger (kept
    by the notifications app) in the same transaction, as given by ``consent_source``
    (a written consent with the form's name and the day it was signed). The ledger's
    rules hold: after an SMS opt-out only a written consent switches texts back on. A
    change of phone, email or preferred channel is announced too (the messages still due
    move to the channels now chosen)."""
    before = (
        {"sms_consent": patient.sms_consent, "email_consent": patient.email_consent}
        if patient is not None
        else {"sms_consent": False, "email_consent": False}
    )
    # How the patient was reached (a new patient has no messages to move).
    reached = (
        {field: getattr(patient, field) for field in signals.CHANNEL_FIELDS}
        if patient is not None
        else None
    )
    patient = patient or Patient()
    clinic = fields.get("clinic") or getattr(patient, "clinic", None)
    born = fields.get("date_of_birth")
    if clinic is not None and born is not None:
        _check_date_of_birth(clinic, born)
    _ensure_unique_in_clinic(patient, fields, "mrn", "patient_mrn_unique_in_clinic")
    _apply(patient, fields)
    signals.announce_consent_changes(
        patient,
        before,
        source=consent_source,
        by=by,
        document=consent_document,
        given_on=consent_given_on,
    )
    if reached is not None:
        signals.announce_channel_changes(patient, reached)
    return patient


# A person's credentials and the address their reset links go to are theirs: an admin
# names them once, for a new person, and never changes them (issue 15, item 1).
OWN_FIELDS = ("username", "email")


@transaction.atomic
def staff_save(
    user: Any | None = None,
    *,
    managed_clinics: set[int] | None,
    role: str | None = None,
    clinics: Iterable[Clinic] | None = None,
    invite_base_url: str = "",
    **fields: Any,
) -> Any:
    """Create or update a staff member and their role in ``clinics``.

    ``managed_clinics`` are the clinics the acting user administers (None: all). Only
    memberships there are added, changed or removed; others are left untouched.

    Nobody sets a password here. A new person gets none and, after the commit, an email
    with a one-time link to choose it (``invite_base_url`` is where the link points). An
    existing person's username and email cannot be changed: with them an admin of one
    clinic could take over an account that also works in clinics they do not run.
    """
    is_new = user is None
    if user is None:
        user = User()
    else:
        for name in OWN_FIELDS:
            if name in fields and fields[name] != getattr(user, name):
                raise _field_error(
                    name,
                    f"A person's {name} is theirs: an admin cannot change it.",
                    f"{name}_not_settable",
                )
    if "username" in fields:
        clash = User.objects.filter(username__iexact=fields["username"])
        if not is_new:
            clash = clash.exclude(pk=user.pk)
        if clash.exists():
            raise _field_error("username", "That username is taken.", "duplicate_username")
    for name, value in fields.items():
        setattr(user, name, value)
    if is_new:
        user.set_unusable_password()
    user.save()
    if is_new:
        staff_invite(user, invite_base_url)

    if clinics is not None and role is not None:
        wanted = {clinic.pk for clinic in clinics}
        existing = StaffMembership.objects.filter(user=user)
        if managed_clinics is not None:
            existing = existing.filter(clinic_id__in=managed_clinics)
        running = _clinics_run_by(user, existing)
        existing.exclude(clinic_id__in=wanted).delete()
        for clinic_id in wanted:
            StaffMembership.objects.update_or_create(
                user=user, clinic_id=clinic_id, defaults={"role": role}
            )
        _keep_someone_running(running)
    return user


def _clinics_run_by(user: Any, memberships: Any) -> list[int]:
    """The clinics (of ``memberships``) where ``user`` manages the staff, locked so two
    admins removing each other at once cannot leave a clinic with nobody to run it."""
    clinic_ids = [
        m.clinic_id for m in memberships.filter(role__in=roles_for(Capability.MANAGE_STAFF))
    ]
    list(Clinic.objects.select_for_update().filter(pk__in=clinic_ids).order_by("pk"))
    return clinic_ids


def _keep_someone_running(clinic_ids: Iterable[int]) -> None:
    """Refuse a change that leaves one of ``clinic_ids`` with nobody who manages its
    staff: nobody could add a person or set the clinic up again without a superuser."""
    for clinic_id in clinic_ids:
        if not StaffMembership.objects.filter(
            clinic_id=clinic_id,
            role__in=roles_for(Capability.MANAGE_STAFF),
            user__is_active=True,
        ).exists():
            raise Conflict(
                "This is the clinic's last admin: make someone else a clinic admin first.",
                code="last_clinic_admin",
            )


def staff_invite(user: Any, base_url: str) -> None:
    """After the commit, email ``user`` (who has no password yet) the link to choose one."""
    from clinic.tasks import send_staff_invitation

    transaction.on_commit(partial(send_staff_invitation.delay, user.pk, base_url))


@transaction.atomic
def staff_remove(user: Any, *, managed_clinics: set[int] | None, by: Any = None) -> None:
    """Take a staff member out of the acting admin's clinics (``by``: the acting user).

    Users are never deleted (their names stay on past records); one left without any
    clinic is deactivated so they can no longer log in. Memberships in clinics the
    admin does not run are never touched. Nobody removes themselves (409
    ``remove_self``: another admin does it), and a clinic keeps at least one admin (409
    ``last_clinic_admin``).
    """
    if by is not None and by.pk == user.pk:
        raise Conflict("You cannot remove yourself: another clinic admin can.", code="remove_self")
    memberships = StaffMembership.objects.filter(user=user)
    if managed_clinics is not None:
        memberships = memberships.filter(clinic_id__in=managed_clinics)
    running = _clinics_run_by(user, memberships)
    memberships.delete()
    _keep_someone_running(running)
    if not StaffMembership.objects.filter(user=user).exists():
        user.is_active = False
        user.save(update_fields=["is_active"])  # which revokes their tokens (clinic.tokens)


@transaction.atomic
def staff_set_role(user: Any, clinic: Clinic, role: str) -> StaffMembership:
    """Change ``user``'s role in ``clinic`` only (their other clinics keep theirs)."""
    membership = StaffMembership.objects.select_for_update().get(user=user, clinic=clinic)
    running = _clinics_run_by(user, StaffMembership.objects.filter(pk=membership.pk))
    membership.role = role
    membership.full_clean(validate_unique=False, validate_constraints=False)
    membership.save(update_fields=["role"])
    _keep_someone_running(running)
    return membership


@transaction.atomic
def clinic_create_with_admin(
    *, admin: Mapping[str, Any], invite_base_url: str, **fields: Any
) -> tuple[Clinic, Any]:
    """A new clinic and the first person to run it, together or not at all; the person
    is emailed the link to choose a password after the commit (no one types it)."""
    clinic = clinic_create(**fields)
    person = staff_save(
        managed_clinics=None,
        role=FIRST_PERSON_ROLE,
        clinics=[clinic],
        invite_base_url=invite_base_url,
        **admin,
    )
    return clinic, person


def purge_expired_logins() -> dict[str, int]:
    sessions, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return {"tokens": tokens.purge_expired(), "sessions": sessions}
