"""The waitlist through its real paths: a course cancelled (discontinued) frees its
chair, the on-commit task fits the waiting courses again, the earliest start moves
earlier and an offer appears (and, when the clinic turns it on, a text asking the
patient to call); booking from the offer is one action; an offer that no longer
fits is refused with 409 and worked out again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from clinic import services as clinic_services
from clinic.celery import app as celery_app
from clinic.errors import Conflict
from clinic.models import Role
from courses import services as course_services
from courses.models import CourseStatus
from notifications.models import Kind, Notification, ReminderPolicy
from scheduling import services
from scheduling.calendar import local_datetime
from scheduling.models import Session, SessionStatus, WaitlistEntry, WaitlistStatus
from tests.factories import ChairFactory, MembershipFactory

TOMORROW = dt.date(2026, 11, 26)


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """Tasks run where they are sent (the on-commit callbacks are run by the test)."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


@pytest.fixture
def one_chair(clinic: Any) -> Any:
    return ChairFactory(clinic=clinic, name="Chair 1")


@pytest.fixture
def full_chair(frozen_now: Any, one_chair: Any, make_course: Callable[..., Any]) -> Any:
    """An acute course booked at 09:30 every weekday from tomorrow on the one chair."""
    course = make_course(start=TOMORROW, at=dt.time(9, 30))
    services.course_schedule(course)
    return course


def _waiting(make_course: Callable[..., Any], **fields: Any) -> WaitlistEntry:
    course = make_course(start=TOMORROW, at=dt.time(9, 30))
    by = MembershipFactory(clinic=course.patient.clinic, role=Role.FRONT_DESK).user
    return services.waitlist_add(
        course, by=by, preferred_time=dt.time(9, 30), not_before=TOMORROW, **fields
    )


def test_a_cancelled_course_moves_the_earliest_start_earlier_and_makes_an_offer(
    full_chair: Any,
    make_course: Callable[..., Any],
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    ReminderPolicy.objects.update_or_create(clinic=full_chair.patient.clinic)
    ReminderPolicy.objects.filter(clinic=full_chair.patient.clinic).update(waitlist_offer=True)
    with django_capture_on_commit_callbacks(execute=True):
        entry = _waiting(make_course)
    entry.refresh_from_db()
    last_session = Session.objects.filter(course=full_chair).latest("starts_at")
    assert entry.fit_start is not None
    assert entry.fit_start > last_session.starts_at.date()  # after the whole course
    assert entry.fit_computed_at is not None
    assert entry.offer_start is None  # the first fit is no offer

    psychiatrist = full_chair.psychiatrist
    with django_capture_on_commit_callbacks(execute=True):
        course_services.course_transition(
            full_chair, CourseStatus.DISCONTINUED, by=psychiatrist, reason="moved away"
        )
    entry.refresh_from_db()
    assert entry.fit_start == TOMORROW
    assert entry.offer_start == TOMORROW
    assert entry.offered_at is not None
    text = Notification.objects.get(kind=Kind.WAITLIST_OFFER)
    assert text.channel == "sms"
    assert text.patient_id == entry.course.patient_id
    assert text.session_id is None


def test_no_text_unless_the_clinic_turns_it_on(
    full_chair: Any,
    make_course: Callable[..., Any],
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        entry = _waiting(make_course)
    with django_capture_on_commit_callbacks(execute=True):
        course_services.course_transition(
            full_chair, CourseStatus.DISCONTINUED, by=full_chair.psychiatrist, reason="x"
        )
    entry.refresh_from_db()
    assert entry.offer_start == TOMORROW
    assert not Notification.objects.filter(kind=Kind.WAITLIST_OFFER).exists()


def test_no_text_to_a_patient_without_sms_consent(
    full_chair: Any, make_course: Callable[..., Any]
) -> None:
    entry = _waiting(make_course)
    patient = entry.course.patient
    patient.sms_consent = False
    patient.save()
    ReminderPolicy.objects.update_or_create(
        clinic=patient.clinic, defaults={"waitlist_offer": True}
    )
    services.waitlist_refresh(entry.clinic_id)
    Session.objects.filter(course=full_chair).update(status=SessionStatus.CANCELLED)
    assert services.waitlist_refresh(entry.clinic_id) == [entry.pk]
    assert not Notification.objects.filter(kind=Kind.WAITLIST_OFFER).exists()


def test_a_closure_and_a_chair_refit_the_waitlist(
    frozen_now: Any,
    one_chair: Any,
    make_course: Callable[..., Any],
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        entry = _waiting(make_course)
    entry.refresh_from_db()
    assert entry.fit_start == TOMORROW
    with django_capture_on_commit_callbacks(execute=True):
        closure = clinic_services.closure_save(
            clinic=entry.clinic, date=TOMORROW, reason="Thanksgiving"
        )
    entry.refresh_from_db()
    assert entry.fit_start == dt.date(2026, 11, 27)
    with django_capture_on_commit_callbacks(execute=True):
        clinic_services.closure_delete(closure)
    entry.refresh_from_db()
    assert (entry.fit_start, entry.offer_start) == (TOMORROW, TOMORROW)


def test_booking_from_the_offer_books_the_course_and_leaves_the_waitlist(
    full_chair: Any, make_course: Callable[..., Any]
) -> None:
    entry = _waiting(make_course, time_flex_minutes=30, time_preference="before")
    services.waitlist_refresh(entry.clinic_id)
    Session.objects.filter(course=full_chair).update(status=SessionStatus.CANCELLED)
    services.waitlist_refresh(entry.clinic_id)
    entry.refresh_from_db()
    assert entry.offer_start == TOMORROW

    booking = services.waitlist_book_offer(entry)

    entry.refresh_from_db()
    course = entry.course
    course.refresh_from_db()
    assert entry.status == WaitlistStatus.BOOKED
    assert entry.offer_start is None
    assert course.start_date == TOMORROW
    assert len(booking.sessions) == Session.objects.filter(course=course).count() > 0
    first = min(booking.sessions, key=lambda s: s.starts_at)
    assert first.starts_at.astimezone(course.patient.clinic.tz).time() == dt.time(9, 30)


def test_an_offer_that_no_longer_fits_is_refused_and_worked_out_again(
    frozen_now: Any, one_chair: Any, make_course: Callable[..., Any]
) -> None:
    entry = _waiting(make_course)
    services.waitlist_refresh(entry.clinic_id)
    WaitlistEntry.objects.filter(pk=entry.pk).update(offer_start=TOMORROW)
    # Someone else takes the chair at that time before front desk calls.
    services.course_schedule(make_course(start=TOMORROW, at=dt.time(9, 30)))

    with pytest.raises(Conflict) as refused:
        services.waitlist_book_offer(entry)

    assert refused.value.code == "offer_no_longer_fits"
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.WAITING
    assert entry.fit_start is not None and entry.fit_start > TOMORROW
    assert entry.offer_start == entry.fit_start
    assert not Session.objects.filter(course=entry.course).exists()
    assert "earliest start is now" in refused.value.detail


def test_a_waiting_course_that_starts_leaves_the_waitlist(
    frozen_now: Any, one_chair: Any, make_course: Callable[..., Any]
) -> None:
    entry = _waiting(make_course)
    course_services.course_transition(
        entry.course, CourseStatus.DISCONTINUED, by=entry.course.psychiatrist, reason="x"
    )
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.REMOVED


@pytest.mark.parametrize(
    ("state", "code"),
    [("booked", "already_scheduled"), ("active", "course_not_waiting")],
)
def test_only_a_planned_unbooked_course_waits(
    frozen_now: Any, one_chair: Any, make_course: Callable[..., Any], state: str, code: str
) -> None:
    course = make_course(start=TOMORROW)
    if state == "booked":
        services.course_schedule(course)
    else:
        type(course).objects.filter(pk=course.pk).update(status=CourseStatus.ACTIVE)
    with pytest.raises(Conflict) as refused:
        services.waitlist_add(course, by=None, preferred_time=dt.time(9, 30))
    assert refused.value.code == code


def test_one_waiting_entry_a_course(
    frozen_now: Any, one_chair: Any, make_course: Callable[..., Any]
) -> None:
    entry = _waiting(make_course)
    with pytest.raises(Conflict) as refused:
        services.waitlist_add(entry.course, by=None, preferred_time=dt.time(9))
    assert refused.value.code == "already_waiting"


def test_a_new_chair_and_a_lifted_block_refit_the_waitlist(
    full_chair: Any,
    make_course: Callable[..., Any],
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """The one chair is full at 09:30: a second chair makes room tomorrow (an offer);
    a block over tomorrow morning on it pushes the start back, and lifting it brings
    the offer back."""
    clinic = full_chair.patient.clinic
    with django_capture_on_commit_callbacks(execute=True):
        entry = _waiting(make_course)
    entry.refresh_from_db()
    assert entry.fit_start is not None and entry.fit_start > TOMORROW
    with django_capture_on_commit_callbacks(execute=True):
        chair = clinic_services.chair_save(clinic=clinic, name="Chair 2", device="MagPro")
    entry.refresh_from_db()
    assert (entry.fit_start, entry.offer_start) == (TOMORROW, TOMORROW)
    with django_capture_on_commit_callbacks(execute=True):
        block = services.chair_block_save(
            chair=chair,
            starts_at=local_datetime(TOMORROW, dt.time(8), clinic.tz),
            ends_at=local_datetime(TOMORROW, dt.time(12), clinic.tz),
            reason="Coil service",
        )
    entry.refresh_from_db()
    assert entry.fit_start == dt.date(2026, 11, 27)
    with django_capture_on_commit_callbacks(execute=True):
        services.chair_block_delete(block)
    entry.refresh_from_db()
    assert (entry.fit_start, entry.offer_start) == (TOMORROW, TOMORROW)


def test_a_waiting_course_booked_another_way_gets_no_offer_and_leaves_at_its_offer(
    full_chair: Any, make_course: Callable[..., Any]
) -> None:
    entry = _waiting(make_course)
    services.waitlist_refresh(entry.clinic_id)
    # The chair frees up, and front desk books the course from the booking page before
    # any refit: it no longer waits for room, so the refit offers it nothing.
    Session.objects.filter(course=full_chair).update(status=SessionStatus.CANCELLED)
    services.course_schedule(entry.course)
    assert services.waitlist_refresh(entry.clinic_id) == []
    assert not services.still_waiting(entry.clinic_id).exists()
    WaitlistEntry.objects.filter(pk=entry.pk).update(offer_start=TOMORROW)  # an older offer

    with pytest.raises(Conflict) as refused:
        services.waitlist_book_offer(entry)

    assert refused.value.code == "already_scheduled"
    entry.refresh_from_db()
    assert (entry.status, entry.offer_start) == (WaitlistStatus.BOOKED, None)


def test_an_offer_whose_day_has_passed_is_worked_out_again(
    frozen_now: Any, one_chair: Any, make_course: Callable[..., Any]
) -> None:
    entry = _waiting(make_course)
    services.waitlist_refresh(entry.clinic_id)
    today = entry.course.patient.clinic.today()
    WaitlistEntry.objects.filter(pk=entry.pk).update(offer_start=today - dt.timedelta(days=3))

    with pytest.raises(Conflict) as refused:
        services.waitlist_book_offer(entry)

    assert refused.value.code == "offer_no_longer_fits"
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.WAITING
    assert entry.fit_start is not None and entry.fit_start > today
    assert entry.offer_start == entry.fit_start
    assert not Session.objects.filter(course=entry.course).exists()
