"""The clinic set-up pages: the clinic's settings and opening hours, its chairs, its
staff, and (for superusers) a new clinic with its first admin.

Closures (scheduling/closure_views.py, scheduling/views.py) and the reminder policy
(notifications/policy_views.py) are set up on pages of their own apps, linked from the
same set-up tabs. Every change goes through clinic.services; a refusal lands on the
form that asked for it.
"""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from clinic import access, selectors, services
from clinic.capabilities import Capability
from clinic.models import Chair, Role, StaffMembership
from clinic.setup_forms import (
    ChairForm,
    ClinicSettingsForm,
    NewClinicForm,
    OpeningDays,
    OpeningDaysFormSet,
    StaffAddForm,
    StaffRoleForm,
    opening_days_initial,
)
from clinic.web import SESSION_KEY, Workplace, attempt, refusal_on_form, staff_page

User = get_user_model()


def _invite_base_url(request: HttpRequest) -> str:
    return settings.PUBLIC_BASE_URL or request.build_absolute_uri("/")


# --- the clinic's settings and hours ------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@staff_page(Capability.SET_UP_CLINIC)
def clinic_settings(request: HttpRequest, place: Workplace) -> HttpResponse:
    clinic = place.clinic
    if request.method != "POST":
        form = ClinicSettingsForm(instance=clinic)
        days = OpeningDaysFormSet(initial=opening_days_initial(clinic), prefix="day")
        return _settings_page(request, form, days)
    form = ClinicSettingsForm(request.POST, instance=clinic)
    days = cast(OpeningDays, OpeningDaysFormSet(request.POST, prefix="day"))
    if form.is_valid() and days.is_valid():
        fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
        # The form already wrote its values on the instance; the service starts afresh.
        clinic.refresh_from_db()
        saved, refusal = attempt(
            lambda: services.clinic_update(clinic, opening_hours=days.hours(), **fields)
        )
        if refusal is not None:
            refusal_on_form(form, refusal)
        elif saved is not None:
            messages.success(request, "The clinic's settings and hours are saved.")
            return redirect("setup-clinic")
    return _settings_page(request, form, days, status=400)


def _settings_page(
    request: HttpRequest, form: ClinicSettingsForm, days: Any, status: int = 200
) -> HttpResponse:
    return render(request, "clinic/setup/clinic.html", {"form": form, "days": days}, status=status)


# --- chairs --------------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@staff_page(Capability.SET_UP_CLINIC)
def chairs(request: HttpRequest, place: Workplace) -> HttpResponse:
    """The clinic's chairs (active and not) and a form to add one."""
    form = ChairForm(request.POST or None, initial={"coils": ["figure-8"], "active": True})
    if request.method == "POST" and _save_chair(request, place, form, None):
        return redirect("setup-chairs")
    listed = Chair.objects.filter(clinic=place.clinic).order_by("name", "id")
    return render(
        request,
        "clinic/setup/chairs.html",
        {"chairs": listed, "form": form, "may_block": place.can(Capability.BLOCK_CHAIRS)},
        status=400 if form.is_bound else 200,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@staff_page(Capability.SET_UP_CLINIC)
def chair_edit(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    chair = get_object_or_404(Chair, pk=pk, clinic=place.clinic)
    form = ChairForm(request.POST or None, instance=chair)
    if request.method == "POST" and _save_chair(request, place, form, chair):
        return redirect("setup-chairs")
    return render(
        request,
        "clinic/setup/chair_edit.html",
        {"chair": chair, "form": form},
        status=400 if form.is_bound else 200,
    )


def _save_chair(
    request: HttpRequest, place: Workplace, form: ChairForm, chair: Chair | None
) -> bool:
    if not form.is_valid():
        return False
    fields = {name: form.cleaned_data[name] for name in ("name", "device", "coils", "active")}
    if chair is not None:
        chair.refresh_from_db()
    saved, refusal = attempt(lambda: services.chair_save(chair, clinic=place.clinic, **fields))
    if refusal is not None:
        refusal_on_form(form, refusal)
    if saved is None:
        return False
    messages.success(request, f"{saved.name} is saved.")
    return True


# --- staff ---------------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@staff_page(Capability.MANAGE_STAFF)
def staff(request: HttpRequest, place: Workplace) -> HttpResponse:
    """The clinic's staff with their roles; a new person is added with a role and gets
    an email to choose their password."""
    form = StaffAddForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        person, refusal = attempt(
            lambda: services.staff_save(
                managed_clinics={place.clinic.pk},
                role=data["role"],
                clinics=[place.clinic],
                invite_base_url=_invite_base_url(request),
                **{k: data[k] for k in ("username", "first_name", "last_name", "email")},
            )
        )
        if refusal is not None:
            refusal_on_form(form, refusal)
        elif person is not None:
            messages.success(
                request,
                f"{person.get_full_name()} is added; an email with a link to choose a "
                f"password is on its way to {person.email}.",
            )
            return redirect("setup-staff")
    return _staff_page(request, place, form=form, status=400 if form.is_bound else 200)


def _staff_page(
    request: HttpRequest,
    place: Workplace,
    *,
    form: StaffAddForm | None = None,
    errors: dict[int, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    members = selectors.clinic_staff(place.clinic)
    rows = [
        {
            "membership": m,
            "role_form": StaffRoleForm(initial={"role": m.role}, prefix=f"m{m.pk}"),
            "is_me": m.user_id == request.user.pk,
            "error": (errors or {}).get(m.pk, ""),
        }
        for m in members
    ]
    return render(
        request,
        "clinic/setup/staff.html",
        {"rows": rows, "form": form or StaffAddForm()},
        status=status,
    )


@require_POST
@staff_page(Capability.MANAGE_STAFF)
def staff_role(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    membership = get_object_or_404(StaffMembership, pk=pk, clinic=place.clinic)
    form = StaffRoleForm(request.POST, prefix=f"m{membership.pk}")
    if not form.is_valid():
        return _staff_page(request, place, errors={pk: "Choose a role."}, status=400)
    _, refusal = attempt(
        lambda: services.staff_set_role(membership.user, place.clinic, form.cleaned_data["role"])
    )
    if refusal is not None:
        return _staff_page(request, place, errors={pk: refusal.message}, status=refusal.status)
    messages.success(
        request,
        f"{membership.user.get_full_name() or membership.user.username} is now "
        f"{Role(form.cleaned_data['role']).label.lower()}.",
    )
    return redirect("setup-staff")


@require_POST
@staff_page(Capability.MANAGE_STAFF)
def staff_remove(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    """Take the person out of this clinic (only); see clinic.services.staff_remove."""
    membership = get_object_or_404(StaffMembership, pk=pk, clinic=place.clinic)
    person = membership.user
    _, refusal = attempt(
        lambda: services.staff_remove(person, managed_clinics={place.clinic.pk}, by=request.user)
    )
    if refusal is not None:
        return _staff_page(request, place, errors={pk: refusal.message}, status=refusal.status)
    messages.success(request, f"{person.get_full_name() or person.username} no longer works here.")
    return redirect("setup-staff")


# --- a new clinic (superusers) -------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
def new_clinic(request: HttpRequest) -> HttpResponse:
    """A superuser creates a clinic and its first clinic admin, who is invited by email."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not access.is_superuser(request.user):
        raise PermissionDenied("Only a superuser creates clinics.")
    form = NewClinicForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        created, refusal = attempt(
            lambda: services.clinic_create_with_admin(
                admin=form.admin_fields(),
                invite_base_url=_invite_base_url(request),
                **form.clinic_fields(),
            )
        )
        if refusal is not None:
            refusal_on_form(form, NewClinicForm.on_admin_fields(refusal))
        elif created is not None:
            clinic, person = created
            request.session[SESSION_KEY] = clinic.pk
            messages.success(
                request,
                f"{clinic.name} is created; {person.get_full_name()} is its clinic admin and "
                f"is emailed a link to choose a password.",
            )
            return redirect("setup-clinic")
    return render(
        request,
        "clinic/setup/new_clinic.html",
        {"form": form},
        status=400 if form.is_bound else 200,
    )
