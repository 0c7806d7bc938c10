"""Make-up sessions for missed and cancelled ones, after the last session of their phase,
within the course window and the authorization; an authorization extension books the
make-ups that did not fit before."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from courses import services as course_services
from courses.models import (
    Authorization,
    CourseStatus,
    TreatmentCourse,
)
from courses.selectors import window_end_date
from scheduling import signals
from scheduling.calendar import ClinicCalendar, load_calendar
from scheduling.coverage import COUNT
from scheduling.models import (
    OCCUPYING,
    Session,
    SessionEventAction,
    SessionKind,
    SessionStatus,
)
from scheduling.planner import (
    Planner,
)
from scheduling.risk import recompute_risk
from scheduling.services.authorization import (
    books_beyond,
    outside_if_added,
    refresh_pending_authorization,
)

ANY_DAY = (0, 1, 2, 3, 4, 5, 6)  # make-ups may go on any day the clinic is open
MAKEUP_STATUSES = (CourseStatus.PLANNED, CourseStatus.ACTIVE)


@transaction.atomic
def arrange_makeups_and_refresh(course_ids: Iterable[int]) -> int:
    course_ids = list(course_ids)
    booked = arrange_makeups(course_ids)
    refresh_pending_authorization(course_ids)
    recompute_risk(course_ids)
    return booked


@transaction.atomic
def authorization_extend(course: TreatmentCourse, **fields: Any) -> Authorization:
    """Add an authorization (an extension) to a course; sessions lost earlier that found
    no make-up within the old one get theirs now, if they fit, and sessions booked
    pending authorization that it covers are pending no more."""
    authorization = course_services.authorization_add(course, **fields)
    arrange_makeups_and_refresh([course.pk])
    return authorization


def arrange_makeups(course_ids: Iterable[int]) -> int:
    """Book a make-up for every missed or cancelled session of these courses that has
    none yet, after the last session of its phase, within the course window and the
    authorization. Safe to run twice at once: each course is locked while its make-ups
    are arranged, and a session can have only one make-up (a unique key)."""
    booked = 0
    for course_id in sorted(set(course_ids)):
        with transaction.atomic():
            course = (
                TreatmentCourse.objects.select_for_update(of=("self",))
                .select_related("patient__clinic", "protocol")
                .filter(
                    pk=course_id,
                    # A paused course books no make-up: what it gave up is re-planned
                    # when it resumes (services.course_status.course_resume).
                    status__in=MAKEUP_STATUSES,
                    patient__clinic__auto_makeup=True,
                )
                .first()
            )
            if course is None:
                continue
            lost = list(
                Session.objects.filter(
                    course=course,
                    status__in=[SessionStatus.MISSED, SessionStatus.CANCELLED],
                    makeup__isnull=True,
                )
                # A withdrawn make-up (the visit it replaced took place) is not made up.
                .exclude(events__action=SessionEventAction.MAKEUP_WITHDRAWN)
                .order_by("starts_at")
            )
            if lost:
                booked += len(book_makeups(course, lost))
    return booked


def book_makeups(
    course: TreatmentCourse,
    lost: Sequence[Session],
    *,
    not_before: dt.date | None = None,
    extra_days: int = 0,
) -> list[Session]:
    """Within the course window (``extra_days`` longer: a pause's length); beyond the
    authorization only when the clinic books such sessions (marked pending by the
    refresh after it), as for any booking. None before ``not_before``. The sessions
    booked."""
    clinic = course.patient.clinic
    protocol = course.protocol
    today = clinic.today()
    beyond = books_beyond(clinic)
    authorizations = [] if beyond else list(course.authorizations.all())
    window_end = window_end_date(course) + dt.timedelta(days=extra_days)
    if authorizations:  # no need to look past the authorization's last day
        window_end = min(window_end, max(a.valid_until for a in authorizations))
    if window_end < today:
        return []
    calendar = load_calendar(
        clinic, today, window_end, coil=protocol.coil, patient_id=course.patient_id
    )
    planner = Planner(
        calendar, preferred_time=course.preferred_time, preferred_chair_id=course.preferred_chair_id
    )
    occupying = list(
        Session.objects.filter(course=course, status__in=OCCUPYING).order_by("starts_at")
    )
    held = [session.starts_at for session in occupying]
    last_by_phase: dict[int, dt.datetime] = {}
    for session in occupying:
        last_by_phase[session.phase] = session.starts_at
    created = []
    for session in lost:
        if session.kind == SessionKind.MAPPING:
            # The next session takes over the motor-threshold determination; the lost
            # slot is made up as an ordinary treatment at the end of the phase.
            _promote_to_mapping(course, calendar)
        last = last_by_phase.get(session.phase)
        after = max(today, last.astimezone(clinic.tz).date()) if last else today
        if not_before is not None:
            after = max(after, not_before - dt.timedelta(days=1))
        found = planner.next_free_day(
            after, ANY_DAY, protocol.slot_minutes, protocol.sessions_per_day, window_end
        )
        if found is None:
            continue
        _, start, chair_id = found
        outside = outside_if_added(clinic, held, start, authorizations)
        if outside is not None:
            if outside.reason == COUNT:
                break  # every later make-up would be beyond the count too
            continue
        created.append(
            Session(
                course=course,
                patient_id=course.patient_id,
                chair_id=chair_id,
                starts_at=start,
                ends_at=start + dt.timedelta(minutes=protocol.slot_minutes),
                kind=SessionKind.MAKEUP,
                phase=session.phase,
                makeup_for=session,
            )
        )
        last_by_phase[session.phase] = start
        held.append(start)
    Session.objects.bulk_create(created)
    signals.announce_makeups_booked(session.pk for session in created)
    return created


def _promote_to_mapping(course: TreatmentCourse, calendar: ClinicCalendar) -> bool:
    """When the mapping session is lost, the course's next session becomes the mapping
    session (longer slot), if its chair and the patient are free for the extra time."""
    if Session.objects.filter(
        course=course, kind=SessionKind.MAPPING, status__in=OCCUPYING
    ).exists():
        return True
    following = (
        Session.objects.filter(
            course=course, status=SessionStatus.SCHEDULED, starts_at__gte=timezone.now()
        )
        .order_by("starts_at")
        .first()
    )
    if following is None:
        return False
    new_end = following.starts_at + dt.timedelta(minutes=course.protocol.mapping_minutes)
    extra = (following.ends_at, new_end)
    if new_end > following.ends_at and not (
        calendar.within_hours(following.starts_at, new_end)
        and calendar.chair_free(following.chair_id, *extra)
        and calendar.patient_free(*extra)
    ):
        return False
    Session.objects.filter(pk=following.pk).update(
        kind=SessionKind.MAPPING, ends_at=new_end, updated_at=timezone.now()
    )
    calendar.hold(following.chair_id, *extra)
    return True
