"""The waitlist: a cleared patient's prescribed, unbooked course waiting for room,
its earliest start kept up to date as capacity changes, the offer front desk sees when
that start moves earlier, and booking the course from the offer in one action."""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.utils import timezone

from clinic.errors import Conflict
from courses import services as course_services
from courses.models import CourseStatus, ProtocolPhase, ScreeningStatus, TreatmentCourse
from courses.selectors import latest_screening
from scheduling import signals
from scheduling.models import OCCUPYING, Session, WaitlistEntry, WaitlistStatus
from scheduling.services.booking import FAILURE_MESSAGES, CourseBooking, course_schedule_booking
from scheduling.waitlist import HORIZON_WEEKS, earliest_starts

OFFER_PASSED = "offer_passed"
ALREADY_BOOKED = "already_scheduled"  # the booking's own code for a course with sessions
ENTRY_FIELDS = ("time_preference", "preferred_time", "time_flex_minutes", "weekdays", "not_before")


def still_waiting(clinic_id: int) -> QuerySet[WaitlistEntry]:
    """A clinic's waiting entries whose course has no booked session. A course booked
    another way than from its offer (the booking page, the ``schedule`` action) keeps
    its entry until the entry is next touched; it is no longer waiting for room, so it
    gets no offer, no text, and no place on the waitlist, the board or the forecast."""
    booked = Session.objects.filter(course=OuterRef("course_id"), status__in=OCCUPYING)
    return WaitlistEntry.objects.filter(clinic_id=clinic_id, status=WaitlistStatus.WAITING).exclude(
        Exists(booked)
    )


def waiting_entries(clinic_id: int) -> QuerySet[WaitlistEntry]:
    """A clinic's waiting entries with what fitting their courses reads."""
    return (
        still_waiting(clinic_id)
        .select_related("course__patient__clinic", "course__protocol")
        .prefetch_related(
            Prefetch("course__protocol__phases", queryset=ProtocolPhase.objects.order_by("order"))
        )
    )


def _check_entry(course: TreatmentCourse, fields: dict[str, Any]) -> None:
    today = course.patient.clinic.today()
    not_before = fields.get("not_before")
    if not_before is not None and not today <= not_before <= today + dt.timedelta(days=365):
        raise ValidationError(
            {
                "not_before": ValidationError(
                    "Pick a day from today to a year ahead.", "out_of_range"
                )
            }
        )
    weekdays = fields.get("weekdays")
    if weekdays is not None and not 1 <= weekdays <= 127:
        raise ValidationError(
            {"weekdays": ValidationError("Pick at least one weekday.", "invalid")}
        )


@transaction.atomic
def waitlist_add(course: TreatmentCourse, *, by: Any, **fields: Any) -> WaitlistEntry:
    """Put a prescribed course on the waitlist: planned, without sessions, its patient's
    screening cleared (409 ``course_not_waiting``, ``already_scheduled``,
    ``screening_required``; a second waiting entry: 409 ``already_waiting``). Its
    earliest start is worked out after the commit."""
    course = (
        TreatmentCourse.objects.select_for_update(of=("self",))
        .select_related("patient__clinic")
        .get(pk=course.pk)
    )
    if course.status != CourseStatus.PLANNED:
        raise Conflict(
            f"A {course.status} course cannot wait for a start.", code="course_not_waiting"
        )
    if Session.objects.filter(course=course, status__in=OCCUPYING).exists():
        raise Conflict("This course is already booked.", code="already_scheduled")
    screening = latest_screening(course.patient)
    if screening is None or screening.status != ScreeningStatus.CLEARED:
        raise Conflict(
            "The patient's screening is not cleared by a psychiatrist.",
            code="screening_required",
        )
    if WaitlistEntry.objects.filter(course=course, status=WaitlistStatus.WAITING).exists():
        raise Conflict("This course is already on the waitlist.", code="already_waiting")
    fields.setdefault("not_before", course.patient.clinic.today())
    _check_entry(course, fields)
    entry = WaitlistEntry(clinic_id=course.patient.clinic_id, course=course, added_by=by)
    for name in ENTRY_FIELDS:
        if name in fields:
            setattr(entry, name, fields[name])
    entry.full_clean(validate_constraints=False, validate_unique=False)
    entry.save()
    refresh_on_commit(entry.clinic_id)
    return entry


@transaction.atomic
def waitlist_update(entry: WaitlistEntry, **fields: Any) -> WaitlistEntry:
    """Change a waiting entry's times, weekdays or first day; its earliest start is
    worked out again (an offer made on the old wishes is withdrawn)."""
    entry = (
        WaitlistEntry.objects.select_for_update()
        .select_related("course__patient__clinic")
        .get(pk=entry.pk)
    )
    if entry.status != WaitlistStatus.WAITING:
        raise Conflict("This entry has left the waitlist.", code="not_waiting")
    _check_entry(entry.course, fields)
    for name in ENTRY_FIELDS:
        if name in fields:
            setattr(entry, name, fields[name])
    entry.fit_start = entry.fit_computed_at = entry.offer_start = entry.offered_at = None
    entry.full_clean(validate_constraints=False, validate_unique=False)
    entry.save()
    refresh_on_commit(entry.clinic_id)
    return entry


def waitlist_remove(entry: WaitlistEntry) -> WaitlistEntry:
    """Take an entry off the waitlist (it is kept, marked removed)."""
    with transaction.atomic():
        entry = WaitlistEntry.objects.select_for_update().get(pk=entry.pk)
        if entry.status != WaitlistStatus.WAITING:
            raise Conflict("This entry has left the waitlist.", code="not_waiting")
        entry.status = WaitlistStatus.REMOVED
        entry.offer_start = entry.offered_at = None
        entry.closed_at = timezone.now()
        entry.save()
    return entry


def waitlist_course_left(course: TreatmentCourse) -> int:
    """A waiting course that is no longer planned (started, or ended) leaves the
    waitlist: its entry is marked removed (in the transaction of its change)."""
    if course.status == CourseStatus.PLANNED:
        return 0
    return WaitlistEntry.objects.filter(course=course, status=WaitlistStatus.WAITING).update(
        status=WaitlistStatus.REMOVED,
        offer_start=None,
        offered_at=None,
        closed_at=timezone.now(),
    )


def refresh_on_commit(clinic_id: int) -> None:
    """Work the clinic's waiting courses' earliest starts out again once the change
    that may have moved them commits (a Celery task; only the clinic's id travels)."""
    from scheduling.tasks import refresh_waitlist

    transaction.on_commit(partial(refresh_waitlist.delay, clinic_id))


def _next_offer(entry: WaitlistEntry, fit: dt.date | None) -> tuple[dt.date | None, bool]:
    """(the entry's offer after this fit, whether it is a new one). An offer is made when
    the earliest start moves earlier than the last one worked out (or a course that
    fitted nowhere in the horizon now fits); an open offer follows the fit, and is
    withdrawn when the course no longer fits at all."""
    computed_before = entry.fit_computed_at is not None
    earlier = (
        fit is not None and computed_before and (entry.fit_start is None or fit < entry.fit_start)
    )
    if earlier:
        return fit, True
    if entry.offer_start is not None:
        return fit, False
    return None, False


def waitlist_refresh(clinic_id: int) -> list[int]:
    """Work out every waiting course's earliest start in the clinic, store it with
    when, and make offers where it moved earlier; the ids of the entries with a new
    offer (the clinic may text those patients: ``signals.waitlist_offers_made``)."""
    from clinic.models import Clinic

    with transaction.atomic():
        clinic = Clinic.objects.prefetch_related("opening_hours").get(pk=clinic_id)
        entries = list(waiting_entries(clinic_id).select_for_update(of=("self",)))
        fits = earliest_starts(clinic, entries)
        now = timezone.now()
        offered: list[int] = []
        for entry in entries:
            fit = fits[entry.pk]
            offer, new = _next_offer(entry, fit)
            if new:
                entry.offered_at = now
                offered.append(entry.pk)
            elif offer is None:
                entry.offered_at = None
            entry.offer_start, entry.fit_start, entry.fit_computed_at = offer, fit, now
        WaitlistEntry.objects.bulk_update(
            entries, ["fit_start", "fit_computed_at", "offer_start", "offered_at"]
        )
        if offered:
            signals.announce_waitlist_offers(offered)
    return offered


def waitlist_dismiss_offer(entry: WaitlistEntry) -> WaitlistEntry:
    """Front desk called and the patient declined: the offer goes, the entry waits on."""
    with transaction.atomic():
        entry = WaitlistEntry.objects.select_for_update().get(pk=entry.pk)
        if entry.offer_start is None:
            raise Conflict("This entry has no offer.", code="no_offer")
        entry.offer_start = entry.offered_at = None
        entry.save(update_fields=["offer_start", "offered_at", "updated_at"])
    return entry


def waitlist_book_offer(entry: WaitlistEntry) -> CourseBooking:
    """Book the course from its offer in one action: every session from the offered
    start at the entry's times (all or nothing), and the entry leaves the waitlist. If
    it no longer fits, 409 ``offer_no_longer_fits`` names the start worked out anew
    (stored on the entry, which keeps waiting)."""
    try:
        return _book_offer(entry)
    except Conflict as refused:
        if refused.code == ALREADY_BOOKED:  # booked another way: the entry leaves
            WaitlistEntry.objects.filter(pk=entry.pk, status=WaitlistStatus.WAITING).update(
                status=WaitlistStatus.BOOKED,
                offer_start=None,
                offered_at=None,
                closed_at=timezone.now(),
            )
        if refused.code not in FAILURE_MESSAGES and refused.code != OFFER_PASSED:
            raise
        waitlist_refresh(entry.clinic_id)
        entry.refresh_from_db()
        now_fits = (
            f"The earliest start is now {entry.fit_start:%a %d %b %Y}."
            if entry.fit_start is not None
            else f"It fits nowhere in the next {HORIZON_WEEKS} weeks."
        )
        raise Conflict(
            f"The offered start no longer fits every session. {now_fits}",
            code="offer_no_longer_fits",
            conflicts=[
                {
                    "fit_start": entry.fit_start.isoformat() if entry.fit_start else None,
                    "offer_start": entry.offer_start.isoformat() if entry.offer_start else None,
                },
                *refused.conflicts,
            ],
        ) from refused


@transaction.atomic
def _book_offer(entry: WaitlistEntry) -> CourseBooking:
    entry = WaitlistEntry.objects.select_for_update(of=("self",)).get(pk=entry.pk)
    if entry.status != WaitlistStatus.WAITING:
        raise Conflict("This entry has left the waitlist.", code="not_waiting")
    if entry.offer_start is None:
        raise Conflict("This entry has no offer to book.", code="no_offer")
    course = TreatmentCourse.objects.select_related("patient__clinic", "protocol").get(
        pk=entry.course_id
    )
    if Session.objects.filter(course=course, status__in=OCCUPYING).exists():
        raise Conflict("This course has been booked already.", code=ALREADY_BOOKED)
    if entry.offer_start <= course.patient.clinic.today():
        # Offers start tomorrow at the earliest; one not booked in time has passed,
        # and is worked out again (waitlist_book_offer).
        raise Conflict("The offered start has passed.", code=OFFER_PASSED)
    course_services.course_update(
        course, start_date=entry.offer_start, preferred_time=entry.preferred_time
    )
    booking = course_schedule_booking(
        course,
        time_flex_minutes=entry.time_flex_minutes,
        flex_direction=entry.time_preference,
    )
    entry.status = WaitlistStatus.BOOKED
    entry.offer_start = entry.offered_at = None
    entry.closed_at = timezone.now()
    entry.save()
    refresh_on_commit(entry.clinic_id)  # the others' starts may have moved later
    return booking
