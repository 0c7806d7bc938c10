"""Pages patients reach from a signed link: no login, nothing about the diagnosis or
the treatment type, only the appointment and the clinic's neutral name and phone."""

from __future__ import annotations

import datetime as dt

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods
from icalendar import Calendar, Event

from clinic.models import Clinic
from clinic.web import attempt
from notifications import content, links
from scheduling import services as scheduling_services
from scheduling.models import UPCOMING, Session, SessionStatus


@require_http_methods(["GET", "POST"])
def session_page(request: HttpRequest, token: str) -> HttpResponse:
    session = links.session_from_token(token)
    if session is None:
        return _dead_link(request, links.clinic_of_dead_link(token, short=False))
    return _session_page(request, session)


@require_http_methods(["GET", "POST"])
def short_session_page(request: HttpRequest, token: str) -> HttpResponse:
    """The same page from the short link a text message carries."""
    session = links.session_from_short_token(token)
    if session is None:
        return _dead_link(request, links.clinic_of_dead_link(token, short=True))
    return _session_page(request, session)


def _dead_link(request: HttpRequest, clinic: Clinic | None) -> HttpResponse:
    """404, with the clinic's neutral name and phone when we know whom the patient
    should call (notifications.links.clinic_of_dead_link)."""
    context = (
        {
            "clinic": clinic.display_name,
            "phone": content.display_phone(clinic.phone),
            "tel": clinic.phone,
        }
        if clinic is not None and clinic.phone
        else {"clinic": clinic.display_name if clinic else "", "phone": ""}
    )
    return render(request, "notifications/patient_link_dead.html", context, status=404)


def _session_page(request: HttpRequest, session: Session) -> HttpResponse:
    clinic = session.chair.clinic
    notice = ""
    if request.method == "POST":
        notice = _act(session, request.POST.get("action", ""))
        session.refresh_from_db()
    local = session.starts_at.astimezone(clinic.tz)
    calendar_token = links.calendar_token(session.course)
    cancel_deadline = session.starts_at - dt.timedelta(hours=clinic.patient_cancel_hours)
    return render(
        request,
        "notifications/patient_session.html",
        {
            "first_name": session.patient.first_name,
            "clinic": clinic.display_name,
            "phone": content.display_phone(clinic.phone),
            "date": content.human_date(local.date()),
            "time": content.human_time(local.time()),
            "status": session.status,
            "confirmed": session.patient_confirmed_at is not None,
            "upcoming": session.status in UPCOMING and session.starts_at > timezone.now(),
            "can_cancel": timezone.now() < cancel_deadline,
            "notice": notice,
            "calendar_url": reverse("patient-calendar", args=[calendar_token]),
        },
    )


def _act(session: Session, action: str) -> str:
    unchangeable = "This appointment can no longer be changed here."
    if session.status != SessionStatus.SCHEDULED or session.starts_at <= timezone.now():
        return unchangeable
    if action == "confirm":
        scheduling_services.session_confirm_by_patient(session)
        return "Thank you, your appointment is confirmed."
    if action == "cancel":
        _, refusal = attempt(lambda: scheduling_services.session_cancel_by_patient(session))
        if refusal is None:
            return "Your appointment is cancelled. We will be in touch about a new time."
        # Only the notice period is the patient's to know; other refusals stay vague.
        return refusal.message if refusal.code == "too_late" else unchangeable
    return ""


def course_calendar(request: HttpRequest, token: str) -> HttpResponse:
    course = links.course_from_token(token)
    if course is None:
        raise Http404("This link is not valid any more.")
    clinic = course.patient.clinic
    calendar = Calendar()
    calendar.add("prodid", "-//Cadence//appointments//EN")
    calendar.add("version", "2.0")
    sessions = list(
        Session.objects.filter(course=course, status__in=UPCOMING).order_by("starts_at")
    )
    for session in sessions:
        event = Event()
        event.add("uid", f"session-{session.pk}@cadence")
        event.add("summary", f"Appointment at {clinic.display_name}")
        event.add("dtstart", session.starts_at.astimezone(clinic.tz))
        event.add("dtend", session.ends_at.astimezone(clinic.tz))
        event.add("dtstamp", timezone.now())
        event.add("description", f"Questions or changes: {content.display_phone(clinic.phone)}")
        calendar.add_component(event)
    # Each TZID the events name is defined in the file (VTIMEZONE), so a calendar that
    # does not know the zone by name still places the visits right across DST; only
    # the course's years, to keep the file small.
    if sessions:
        first, last = sessions[0].starts_at.date(), sessions[len(sessions) - 1].ends_at.date()
        calendar.add_missing_timezones(dt.date(first.year, 1, 1), dt.date(last.year + 1, 1, 1))
    response = HttpResponse(calendar.to_ical(), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="appointments.ics"'
    return response
