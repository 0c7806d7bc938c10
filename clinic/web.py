"""What every staff HTML page shares: which clinic the page is about, the viewer's role
there, and the navigation that role sees.

A staff member may work for several clinics; the clinic a page shows is the one picked
with the switcher (kept in the session), else the first one they belong to. Superusers
may pick any clinic. A page names the capability it needs with
``@staff_page(Capability.X)`` (:mod:`clinic.capabilities`); a role without it gets a 403
page, an anonymous visitor the login page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError
from django.db.models import ProtectedError, RestrictedError
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from clinic import access, mfa
from clinic.capabilities import Capability, roles_for
from clinic.errors import DomainError, Refusal, refusal_for
from clinic.models import Clinic, Role

SESSION_KEY = "cadence_clinic_id"
# Ids of elements that reload part of a page on a timer. htmx names the element behind
# a request in its HX-Trigger header; such a request is not the person's activity.
AUTO_REFRESH_TRIGGERS = frozenset({"board-live"})


def is_htmx(request: HttpRequest) -> bool:
    """The request came from htmx (django-htmx's middleware reads the header)."""
    return bool(getattr(request, "htmx", False))


Result = TypeVar("Result")


def attempt(change: Callable[[], Result]) -> tuple[Result | None, Refusal | None]:
    """Run a service call for a page: ``(its result, None)``, or ``(None, the refusal)``
    with the status, code and message the API answers the same refusal with
    (clinic.errors.refusal_for). Anything else (a bug, an outage) raises."""
    try:
        return change(), None
    except (DomainError, ValidationError, DatabaseError, ProtectedError, RestrictedError) as exc:
        refusal = refusal_for(exc)
        if refusal is None:
            raise
        return None, refusal


def refusal_on_form(form: BaseForm, refusal: Refusal) -> None:
    """Show a refusal on the form that asked for the change: each message by its field
    where the form has that field, the rest above the form."""
    if not refusal.fields:
        form.add_error(None, refusal.message)
        return
    for name, messages in refusal.fields.items():
        form.add_error(name if name in form.fields else None, messages)


def is_auto_refresh(request: HttpRequest) -> bool:
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-Trigger") in AUTO_REFRESH_TRIGGERS
    )


class IdleSessionMiddleware(SessionMiddleware):
    """Django's session middleware, whose session ends after SESSION_IDLE_MINUTES
    without activity (SESSION_SAVE_EVERY_REQUEST): a page refreshing itself on a timer
    must not keep a session alive at an unattended desk, so its requests neither save
    the session nor renew the cookie."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if is_auto_refresh(request):
            return response
        return super().process_response(request, response)


@dataclass(frozen=True)
class Workplace:
    """The clinic a page is about and the viewer's role in it (``None`` role: superuser
    without a membership, who holds every capability)."""

    clinic: Clinic
    role: str | None
    clinics: tuple[Clinic, ...]

    def can(self, capability: Capability) -> bool:
        return self.role is None or self.role in roles_for(capability)

    @property
    def role_label(self) -> str:
        return Role(self.role).label if self.role else "Superuser"


def workplace(request: HttpRequest) -> Workplace | None:
    """The viewer's current clinic and role, cached on the request (one query)."""
    cached = getattr(request, "_cadence_workplace", False)
    if cached is not False:
        return cast(Workplace | None, cached)
    user = request.user
    found: Workplace | None = None
    if user.is_authenticated:
        roles = access.roles_by_clinic(user)
        clinics = Clinic.objects.order_by("name")
        if not access.is_superuser(user):
            clinics = clinics.filter(id__in=roles)
        listed = tuple(clinics)
        if listed:
            wanted = request.session.get(SESSION_KEY)
            chosen = next((c for c in listed if c.pk == wanted), listed[0])
            found = Workplace(chosen, roles.get(chosen.pk), listed)
    request._cadence_workplace = found  # type: ignore[attr-defined]
    return found


def staff_page(
    capability: Capability,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Open the view to staff whose role in their current clinic holds ``capability``;
    the view receives the :class:`Workplace` as its second argument. The wrapped view
    carries the capability as ``.capability`` (the docs test reads it)."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return _to_login(request)
            place = workplace(request)
            if place is None:
                raise PermissionDenied("You do not belong to any clinic yet.")
            if not place.can(capability):
                raise PermissionDenied("Your role does not include this page.")
            return view(request, place, *args, **kwargs)

        wrapped.capability = capability  # type: ignore[attr-defined]
        return wrapped

    return decorate


def _to_login(request: HttpRequest) -> HttpResponse:
    """The login page, then back here. An htmx request (a button on the board, the
    board's own refresh) takes the whole page there: swapping the login form into a
    session block would help nobody."""
    if request.headers.get("HX-Request") != "true":
        return redirect_to_login(request.get_full_path())
    current = urlsplit(request.headers.get("HX-Current-URL", ""))
    if current.path:
        back = current.path + (f"?{current.query}" if current.query else "")
    else:
        back = request.get_full_path() if request.method == "GET" else reverse("home")
    return HttpResponseClientRedirect(redirect_to_login(back).url)


@require_POST
@login_required
def switch_clinic(request: HttpRequest) -> HttpResponse:
    try:
        clinic_id = int(request.POST.get("clinic", ""))
    except ValueError:
        clinic_id = 0
    if not (access.can_see_clinic(request.user, clinic_id)):
        raise PermissionDenied("You do not work for that clinic.")
    request.session[SESSION_KEY] = clinic_id
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = reverse("home")
    return redirect(target)


# (label, url name, the capability that opens the page) in the order the navigation
# shows them.
NAVIGATION: tuple[tuple[str, str, Capability], ...] = (
    ("Day board", "board-page", Capability.OPEN_BOARD),
    ("Patients", "patient-list", Capability.READ_CLINIC_RECORDS),
    ("Book a course", "course-book", Capability.BOOK_SESSIONS),
    ("Waitlist", "waitlist-page", Capability.BOOK_SESSIONS),
    ("Capacity", "capacity-forecast-page", Capability.READ_CAPACITY_FORECAST),
    ("Closures", "closures-page", Capability.OPEN_CLOSURES),
    ("Today's sessions", "technician-today", Capability.OPEN_TODAY),
    ("My courses", "psychiatrist-dashboard", Capability.OPEN_DASHBOARD),
    ("Outcomes", "outcomes-report", Capability.READ_OUTCOMES),
    ("Billing", "billing-page", Capability.EXPORT_BILLING),
    ("Outbox", "outbox", Capability.READ_OUTBOX),
    ("Patient messages", "patient-messages", Capability.READ_PATIENT_MESSAGES),
    ("Set-up", "setup-clinic", Capability.SET_UP_CLINIC),
    ("Audit trail", "audit-page", Capability.READ_AUDIT_TRAIL),
)

# A count shown next to a navigation link (url name -> count for the workplace), from
# an app above this one, which registers it in its AppConfig.ready().
NAV_BADGES: dict[str, Callable[[Workplace], int]] = {}


def register_nav_badge(url_name: str, count: Callable[[Workplace], int]) -> None:
    NAV_BADGES[url_name] = count


def navigation(request: HttpRequest) -> dict[str, Any]:
    """Template context: the current workplace and the links its role sees."""
    if not request.user.is_authenticated or request.path.startswith("/p/"):
        return {}
    session = getattr(request, "session", {})
    if session.get(mfa.SESSION_KEY) == mfa.PENDING and not mfa.session_verified(request):
        return {"mfa_pending": True}  # the login's second step: nowhere to go yet
    place = workplace(request)
    links = []
    if place is not None:
        for label, name, capability in NAVIGATION:
            if place.can(capability):
                url = reverse(name)
                badge = NAV_BADGES[name](place) if name in NAV_BADGES else 0
                links.append(
                    {"label": label, "url": url, "current": request.path == url, "badge": badge}
                )
    return {"workplace": place, "nav_links": links}
