"""The course actions of the course page, each on a confirmation page that says what
will happen to the bookings before anything does: pause (the sessions inside the
pause, kept or released), resume (the released sessions re-planned from a date,
previewed by a dry run), complete and discontinue (the sessions still booked are
released), and an authorization added (the make-ups that now fit are booked, the
sessions it covers are pending no more)."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django.contrib import messages
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from clinic.capabilities import Capability
from clinic.models import Chair
from clinic.web import Workplace, attempt, refusal_on_form, staff_page
from courses import services as course_services
from courses.course_action_forms import (
    RELEASE,
    AuthorizationForm,
    EndForm,
    PauseForm,
    ResumeForm,
)
from courses.models import COURSE_TRANSITIONS, CourseStatus, TreatmentCourse
from scheduling import services as scheduling_services
from scheduling.course_views import _scoped_courses
from scheduling.models import Session, SessionKind
from scheduling.services import course_status

ACTIONS = {
    "pause": CourseStatus.PAUSED,
    "resume": CourseStatus.ACTIVE,
    "complete": CourseStatus.COMPLETED,
    "discontinue": CourseStatus.DISCONTINUED,
}


def _page(
    request: HttpRequest,
    course: TreatmentCourse,
    action: str,
    form: Form,
    *,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    context = {
        "course": course,
        "clinic": course.patient.clinic,
        "action": action,
        "form": form,
        "allowed": ACTIONS.get(action) in COURSE_TRANSITIONS[course.status]
        if action in ACTIONS
        else True,
        **extra,
    }
    return render(request, "courses/course_action.html", context, status=status)


def _done(request: HttpRequest, course: TreatmentCourse, text: str) -> HttpResponse:
    messages.success(request, text)
    return redirect(reverse("course-detail", args=[course.pk]))


@staff_page(Capability.CHANGE_COURSE_STATUS)
def course_action(request: HttpRequest, place: Workplace, pk: int, action: str) -> HttpResponse:
    if action not in ACTIONS:
        raise Http404("No such course action.")
    course = get_object_or_404(_scoped_courses(place), pk=pk)
    today = course.patient.clinic.today()
    posted = request.method == "POST"
    if action == "pause":
        return _pause(request, course, today, posted)
    if action == "resume":
        return _resume(request, course, today, posted)
    return _end(request, course, action, today, posted)


def _pause(
    request: HttpRequest, course: TreatmentCourse, today: dt.date, posted: bool
) -> HttpResponse:
    if posted:
        form = PauseForm(request.POST)
        from_date = form.cleaned_data["from_date"] if form.is_valid() else today
    else:
        # "Show the sessions inside a pause from": the day asked, else today.
        from_date = _day(request.GET.get("from_date", "")) or today
        form = PauseForm(initial={"from_date": from_date, "bookings": "keep"})
    ahead = course_status.sessions_ahead(course, from_date)
    if not (posted and form.is_valid() and request.POST.get("confirm")):
        status = 400 if posted and not form.is_valid() else 200
        return _page(
            request, course, "pause", form, status=status, ahead=ahead, from_date=from_date
        )
    released, refusal = attempt(
        lambda: course_status.course_pause(
            course,
            by=request.user,
            reason=form.cleaned_data["reason"],
            release=form.cleaned_data["bookings"] == RELEASE,
            from_date=from_date,
        )
    )
    if refusal is not None:
        refusal_on_form(form, refusal)
        return _page(
            request, course, "pause", form, status=refusal.status, ahead=ahead, from_date=from_date
        )
    count = len(cast(list[int], released))
    if form.cleaned_data["bookings"] == RELEASE:
        return _done(request, course, f"Course paused. {count} booked session(s) released.")
    return _done(request, course, f"Course paused. {len(ahead)} booked session(s) kept.")


def _day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _resume(
    request: HttpRequest, course: TreatmentCourse, today: dt.date, posted: bool
) -> HttpResponse:
    form = ResumeForm(request.POST) if posted else ResumeForm(initial={"from_date": today})
    released = course_status.released_by_pause(course)
    if not posted or not form.is_valid():
        return _page(
            request, course, "resume", form, status=400 if posted else 200, released=released
        )
    confirm = bool(request.POST.get("confirm"))
    result, refusal = attempt(
        lambda: course_status.course_resume(
            course, by=request.user, from_date=form.cleaned_data["from_date"], dry_run=not confirm
        )
    )
    if refusal is not None:
        refusal_on_form(form, refusal)
        return _page(request, course, "resume", form, status=refusal.status, released=released)
    booked, unplaced = cast(tuple[list[Session], int], result)
    if confirm:
        text = f"Course resumed. {len(booked)} session(s) re-planned."
        if unplaced:
            text += f" {unplaced} found no place within the course window and authorization."
        return _done(request, course, text)
    chairs = dict(Chair.objects.filter(clinic=course.patient.clinic).values_list("id", "name"))
    return _page(
        request,
        course,
        "resume",
        form,
        released=released,
        unplaced=unplaced,
        previewed=True,
        preview_rows=[(s, chairs.get(s.chair_id, "")) for s in booked],
    )


def _end(
    request: HttpRequest, course: TreatmentCourse, action: str, today: dt.date, posted: bool
) -> HttpResponse:
    required = action == "discontinue"
    form = EndForm(request.POST if posted else None, reason_required=required)
    ahead = course_status.sessions_ahead(course, today)
    if not posted or not form.is_valid():
        return _page(request, course, action, form, status=400 if posted else 200, ahead=ahead)
    _, refusal = attempt(
        lambda: course_services.course_transition(
            course, ACTIONS[action], by=request.user, reason=form.cleaned_data["reason"]
        )
    )
    if refusal is not None:
        refusal_on_form(form, refusal)
        return _page(request, course, action, form, status=refusal.status, ahead=ahead)
    word = "completed" if action == "complete" else "discontinued"
    return _done(request, course, f"Course {word}. {len(ahead)} booked session(s) released.")


@staff_page(Capability.EXTEND_AUTHORIZATION)
def authorization_add(request: HttpRequest, place: Workplace, pk: int) -> HttpResponse:
    """Add an authorization (an extension), as the API does: the make-ups that now fit
    are booked, and sessions pending authorization that it covers are pending no more."""
    course = get_object_or_404(_scoped_courses(place), pk=pk)
    if request.method != "POST":
        return _page(request, course, "authorization", AuthorizationForm())
    form = AuthorizationForm(request.POST)
    if not form.is_valid():
        return _page(request, course, "authorization", form, status=400)
    sessions = Session.objects.filter(course=course)
    makeups_before = sessions.filter(kind=SessionKind.MAKEUP).count()
    pending_before = sessions.filter(pending_authorization=True).count()
    _, refusal = attempt(lambda: scheduling_services.authorization_extend(course, **form.terms()))
    if refusal is not None:
        refusal_on_form(form, refusal)
        return _page(request, course, "authorization", form, status=refusal.status)
    makeups = sessions.filter(kind=SessionKind.MAKEUP).count() - makeups_before
    cleared = pending_before - sessions.filter(pending_authorization=True).count()
    return _done(
        request,
        course,
        f"Authorization added. {makeups} make-up session(s) booked; "
        f"{max(cleared, 0)} session(s) no longer pending authorization.",
    )
