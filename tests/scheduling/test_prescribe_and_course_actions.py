"""Prescribing and the course actions on pages (issue 13, "Screening and prescribing"):
a psychiatrist prescribes a course (with an authorization) for the front desk to book,
or books it at once after the booking page's preview; pause keeps or releases the
sessions inside it, resume re-plans the released ones from a date (previewed), complete
and discontinue say what they release, and an authorization added books the make-ups
that now fit. Who may do what."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from html import unescape
from typing import Any

import pytest
from django.test import Client

from clinic.models import Role
from courses.models import CourseStatus, TreatmentCourse
from scheduling.models import Session, SessionKind, SessionStatus
from scheduling.services import arrange_makeups, course_schedule, session_cancel
from scheduling.services.course_status import PAUSE_REASON
from tests.factories import ClinicFactory, PatientFactory, catalog_protocol, cleared_screening

pytestmark = pytest.mark.usefixtures("frozen_now")

TODAY = dt.date(2026, 11, 25)  # frozen_now: Wednesday, 12:00 in New York


def _text(response: Any) -> str:
    return unescape(response.content.decode())


def _login(
    client: Client,
    actor: str,
    staff: Callable[..., Any],
    superuser: Any,
    outsider: str = Role.PSYCHIATRIST,
) -> None:
    """``outsider``: staff of another clinic, in a role that may use the page."""
    if actor == "superuser":
        client.force_login(superuser)
    elif actor == "outsider":
        client.force_login(staff(outsider, in_clinic=ClinicFactory(slug="elsewhere")))
    elif actor != "anonymous":
        client.force_login(staff(actor))


def _prescription(**changes: Any) -> dict[str, Any]:
    return {
        "protocol": catalog_protocol("10hz-standard").pk,
        "indication": "mdd",
        "start_date": "2026-11-30",
        "preferred_time": "09:30",
        "time_flex_minutes": "0",
        "payer": "Aetna",
        "authorization_number": "PA-1",
        "sessions_authorized": "36",
        "valid_from": "2026-11-30",
        "valid_until": "2027-03-31",
        **changes,
    }


@pytest.fixture
def cleared_patient(clinic: Any, psychiatrist: Any) -> Any:
    patient = PatientFactory(clinic=clinic)
    cleared_screening(patient, by=psychiatrist)
    return patient


@pytest.fixture
def booked(make_course: Callable[..., Any], chairs: list[Any]) -> Any:
    course = make_course(status=CourseStatus.ACTIVE)
    course_schedule(course)
    return course


# --- Prescribing -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "status"),
    [
        ("anonymous", 302),
        ("superuser", 200),
        ("outsider", 404),
        (Role.FRONT_DESK, 403),
        (Role.TECHNICIAN, 403),
        (Role.PSYCHIATRIST, 200),
        (Role.CLINIC_ADMIN, 403),
    ],
)
def test_who_may_open_the_prescribing_page(
    actor: str, status: int, client: Client, cleared_patient: Any, staff: Any, superuser: Any
) -> None:
    _login(client, actor, staff, superuser)
    response = client.get(f"/courses/prescribe/?patient={cleared_patient.pk}")
    assert response.status_code == status
    if status == 200:
        assert "sessions, 5 a week" in _text(response)  # each protocol's plan in words
    posted = client.post(f"/courses/prescribe/?patient={cleared_patient.pk}", _prescription())
    # A superuser opens the page but is no psychiatrist of the clinic: the service's
    # refusal shows on the form.
    expected = {"superuser": 400, Role.PSYCHIATRIST: 302}.get(actor, status)
    assert posted.status_code == expected
    assert TreatmentCourse.objects.exists() == (actor == Role.PSYCHIATRIST)


def test_prescribing_creates_the_course_with_its_authorization_for_the_front_desk(
    client: Client, cleared_patient: Any, psychiatrist: Any, chairs: list[Any]
) -> None:
    client.force_login(psychiatrist)
    page = _text(client.get(f"/courses/prescribe/?patient={cleared_patient.pk}"))
    assert "sessions, 5 a week" in page
    response = client.post(
        f"/courses/prescribe/?patient={cleared_patient.pk}",
        _prescription(action="prescribe", preferred_chair=chairs[1].pk, primary_instrument=""),
    )
    course = TreatmentCourse.objects.get(patient=cleared_patient)
    assert response["Location"] == f"/courses/{course.pk}/"
    assert course.psychiatrist == psychiatrist and course.status == CourseStatus.PLANNED
    assert course.preferred_chair == chairs[1] and course.primary_instrument == "phq9"
    authorization = course.authorizations.get()
    assert (authorization.payer, authorization.sessions_authorized) == ("Aetna", 36)
    assert not Session.objects.exists()  # the front desk books it


def test_prescribe_and_book_now_previews_then_books(
    client: Client, cleared_patient: Any, psychiatrist: Any, chairs: list[Any]
) -> None:
    client.force_login(psychiatrist)
    url = f"/courses/prescribe/?patient={cleared_patient.pk}"
    preview = client.post(url, _prescription(action="book_preview"))
    text = _text(preview)
    assert preview.status_code == 200 and "Preview: 36 sessions" in text
    assert "Nothing is prescribed or booked yet" in text
    assert not TreatmentCourse.objects.exists() and not Session.objects.exists()
    confirmed = client.post(url, _prescription(action="book_confirm"))
    course = TreatmentCourse.objects.get(patient=cleared_patient)
    assert confirmed["Location"] == f"/courses/{course.pk}/"
    assert Session.objects.filter(course=course).count() == 36
    assert course.authorizations.count() == 1


def test_prescribing_refusals_show_on_the_form(
    client: Client, cleared_patient: Any, psychiatrist: Any, h1_chair: Any, chairs: list[Any]
) -> None:
    client.force_login(psychiatrist)
    url = f"/courses/prescribe/?patient={cleared_patient.pk}"
    far = client.post(url, _prescription(action="prescribe", start_date="2028-01-10"))
    assert far.status_code == 400
    assert "A course starts within a year of today." in _text(far)
    # A figure-8 protocol on a chair with only H coils: the service's rule, on the form.
    wrong_chair = client.post(url, _prescription(action="prescribe", preferred_chair=h1_chair.pk))
    assert wrong_chair.status_code == 400 and "coil" in _text(wrong_chair)
    assert not TreatmentCourse.objects.exists()
    # An open course already: 409 with its message.
    client.post(url, _prescription(action="prescribe"))
    again = client.post(url, _prescription(action="prescribe"))
    assert again.status_code == 409 and "already has an open course" in _text(again)


# --- Course actions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "status"),
    [
        ("anonymous", 302),
        ("superuser", 200),
        ("outsider", 404),
        (Role.FRONT_DESK, 403),
        (Role.TECHNICIAN, 403),
        (Role.PSYCHIATRIST, 200),
        (Role.CLINIC_ADMIN, 403),
    ],
)
@pytest.mark.parametrize("action", ["pause", "complete", "discontinue"])
def test_who_may_change_a_course_status(
    action: str, actor: str, status: int, client: Client, booked: Any, staff: Any, superuser: Any
) -> None:
    _login(client, actor, staff, superuser)
    assert client.get(f"/courses/{booked.pk}/status/{action}/").status_code == status
    response = client.post(
        f"/courses/{booked.pk}/status/{action}/",
        {"confirm": "1", "from_date": "2026-11-25", "bookings": "keep", "reason": "Moved away"},
    )
    assert response.status_code == (302 if status == 200 else status)
    booked.refresh_from_db()
    changed = status == 200
    assert (booked.status != CourseStatus.ACTIVE) == changed


@pytest.mark.parametrize(
    ("actor", "status"),
    [
        ("anonymous", 302),
        ("superuser", 200),
        ("outsider", 404),
        (Role.FRONT_DESK, 200),
        (Role.TECHNICIAN, 403),
        (Role.PSYCHIATRIST, 200),
        (Role.CLINIC_ADMIN, 200),
    ],
)
def test_who_may_add_an_authorization(
    actor: str, status: int, client: Client, booked: Any, staff: Any, superuser: Any
) -> None:
    _login(client, actor, staff, superuser, outsider=Role.FRONT_DESK)
    url = f"/courses/{booked.pk}/authorizations/new/"
    assert client.get(url).status_code == status
    response = client.post(
        url,
        {
            "payer": "Aetna",
            "number": "PA-2",
            "sessions_authorized": "10",
            "valid_from": "2026-11-25",
            "valid_until": "2027-06-30",
        },
    )
    assert response.status_code == (302 if status == 200 else status)
    assert booked.authorizations.count() == (1 if status == 200 else 0)


def test_pause_lists_the_sessions_inside_it_and_keeps_them(
    page_as: Callable[[str], Client], booked: Any
) -> None:
    client = page_as(Role.PSYCHIATRIST)
    course_page = _text(client.get(f"/courses/{booked.pk}/"))
    assert f"/courses/{booked.pk}/status/pause/" in course_page
    assert f"/courses/{booked.pk}/status/resume/" not in course_page  # not paused
    page = _text(client.get(f"/courses/{booked.pk}/status/pause/?from_date=2026-12-14"))
    ahead = Session.objects.filter(course=booked, starts_at__date__gte=dt.date(2026, 12, 14))
    assert f"{ahead.count()} sessions booked from 2026-12-14 on" in page
    client.post(
        f"/courses/{booked.pk}/status/pause/",
        {"confirm": "1", "from_date": "2026-12-14", "bookings": "keep"},
    )
    booked.refresh_from_db()
    assert booked.status == CourseStatus.PAUSED
    assert not Session.objects.filter(course=booked, status=SessionStatus.CANCELLED).exists()


def test_pause_releases_then_resume_re_plans_from_a_date_after_a_preview(
    page_as: Callable[[str], Client], booked: Any
) -> None:
    client = page_as(Role.PSYCHIATRIST)
    before = Session.objects.filter(course=booked, starts_at__date__lt=dt.date(2026, 12, 14))
    kept_ids = set(before.values_list("pk", flat=True))
    client.post(
        f"/courses/{booked.pk}/status/pause/",
        {"confirm": "1", "from_date": "2026-12-14", "bookings": "release", "reason": "Surgery"},
    )
    released = Session.objects.filter(course=booked, cancel_reason=PAUSE_REASON)
    assert released.count() == 36 - len(kept_ids)
    assert all(s.starts_at.date() >= dt.date(2026, 12, 14) for s in released)
    assert (
        set(
            Session.objects.filter(course=booked, status=SessionStatus.SCHEDULED).values_list(
                "pk", flat=True
            )
        )
        == kept_ids
    )
    # While paused, no make-up is booked for what the pause released.
    assert arrange_makeups([booked.pk]) == 0
    page = _text(client.get(f"/courses/{booked.pk}/status/resume/"))
    assert f"{released.count()} sessions released by the pause" in page
    preview = client.post(
        f"/courses/{booked.pk}/status/resume/", {"preview": "1", "from_date": "2027-01-04"}
    )
    text = _text(preview)
    assert preview.status_code == 200 and "re-planned" in text and "Mon 4 Jan 2027" in text
    booked.refresh_from_db()
    assert booked.status == CourseStatus.PAUSED  # the preview changed nothing
    assert not Session.objects.filter(course=booked, kind=SessionKind.MAKEUP).exists()
    client.post(f"/courses/{booked.pk}/status/resume/", {"confirm": "1", "from_date": "2027-01-04"})
    booked.refresh_from_db()
    assert booked.status == CourseStatus.ACTIVE
    replanned = Session.objects.filter(course=booked, kind=SessionKind.MAKEUP)
    assert replanned.count() == released.count()
    assert min(s.starts_at.date() for s in replanned) == dt.date(2027, 1, 4)


def test_resume_is_refused_for_an_active_course(
    page_as: Callable[[str], Client], booked: Any
) -> None:
    client = page_as(Role.PSYCHIATRIST)
    response = client.post(
        f"/courses/{booked.pk}/status/resume/", {"confirm": "1", "from_date": "2026-11-26"}
    )
    assert response.status_code == 409
    assert "An active course cannot become active" in _text(response)
    assert "This course is active: it cannot be resumed" in _text(
        client.get(f"/courses/{booked.pk}/status/resume/")
    )


def test_discontinue_needs_a_reason_and_says_what_it_releases(
    page_as: Callable[[str], Client], booked: Any
) -> None:
    client = page_as(Role.PSYCHIATRIST)
    page = _text(client.get(f"/courses/{booked.pk}/status/discontinue/"))
    assert "The 36 sessions still booked will be cancelled" in page
    refused = client.post(f"/courses/{booked.pk}/status/discontinue/", {"confirm": "1"})
    assert refused.status_code == 400 and "Record why" in _text(refused)
    client.post(
        f"/courses/{booked.pk}/status/discontinue/", {"confirm": "1", "reason": "Moved away"}
    )
    booked.refresh_from_db()
    assert booked.status == CourseStatus.DISCONTINUED and booked.status_reason == "Moved away"
    assert not Session.objects.filter(course=booked, status=SessionStatus.SCHEDULED).exists()


def test_an_authorization_added_books_the_makeups_that_now_fit(
    page_as: Callable[[str], Client], make_course: Callable[..., Any], chairs: list[Any]
) -> None:
    from courses.models import Authorization

    course = make_course(status=CourseStatus.ACTIVE)
    Authorization.objects.create(
        course=course,
        payer="Aetna",
        number="PA-1",
        sessions_authorized=36,
        valid_from=dt.date(2026, 11, 30),
        valid_until=dt.date(2027, 3, 31),
    )
    clinic = course.patient.clinic
    clinic.auto_makeup = False
    clinic.save()
    sessions = course_schedule(course)
    session_cancel(sessions[3], reason="sick")
    clinic.auto_makeup = True
    clinic.save()
    response = page_as(Role.FRONT_DESK).post(
        f"/courses/{course.pk}/authorizations/new/",
        {
            "payer": "Aetna",
            "number": "PA-2",
            "sessions_authorized": "5",
            "valid_from": "2026-11-25",
            "valid_until": "2027-03-31",
        },
        follow=True,
    )
    assert "Authorization added. 1 make-up session(s) booked" in _text(response)
    assert Session.objects.filter(course=course, kind=SessionKind.MAKEUP).count() == 1


# --- The front desk books a prescribed course -----------------------------------------


@pytest.mark.parametrize(
    ("actor", "status"),
    [
        ("anonymous", 302),
        ("superuser", 200),
        ("outsider", 404),
        (Role.FRONT_DESK, 200),
        (Role.TECHNICIAN, 403),
        (Role.PSYCHIATRIST, 403),
        (Role.CLINIC_ADMIN, 200),
    ],
)
def test_who_may_book_a_prescribed_course(
    actor: str,
    status: int,
    client: Client,
    make_course: Callable[..., Any],
    chairs: list[Any],
    staff: Any,
    superuser: Any,
) -> None:
    course = make_course()
    _login(client, actor, staff, superuser, outsider=Role.FRONT_DESK)
    url = f"/courses/{course.pk}/book/"
    assert client.get(url).status_code == status
    response = client.post(url, {"action": "confirm", "time_flex_minutes": "0"})
    assert response.status_code == (302 if status == 200 else status)
    assert Session.objects.filter(course=course).count() == (36 if status == 200 else 0)


def test_the_front_desk_books_a_prescribed_course_after_a_preview(
    page_as: Callable[[str], Client], make_course: Callable[..., Any], chairs: list[Any]
) -> None:
    course = make_course()
    client = page_as(Role.FRONT_DESK)
    assert f"/courses/{course.pk}/book/" in _text(client.get(f"/courses/{course.pk}/"))
    preview = client.post(
        f"/courses/{course.pk}/book/", {"action": "preview", "time_flex_minutes": "0"}
    )
    assert "Preview: 36 sessions" in _text(preview)
    assert not Session.objects.filter(course=course).exists()
    done = client.post(
        f"/courses/{course.pk}/book/", {"action": "confirm", "time_flex_minutes": "0"}
    )
    assert done["Location"] == f"/courses/{course.pk}/"
    assert Session.objects.filter(course=course).count() == 36
    # Booked once: a second confirmation is refused with the service's message.
    again = client.post(
        f"/courses/{course.pk}/book/", {"action": "confirm", "time_flex_minutes": "0"}
    )
    assert again.status_code == 409 and "already has sessions" in _text(again)


def test_the_pause_page_reads_a_fixed_number_of_queries(
    page_as: Callable[[str], Client], booked: Any, make_course: Callable[..., Any]
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = page_as(Role.PSYCHIATRIST)
    url = f"/courses/{booked.pk}/status/pause/"
    client.get(url)
    with CaptureQueriesContext(connection) as late:
        client.get(f"{url}?from_date=2027-01-25")  # a few sessions inside
    with CaptureQueriesContext(connection) as early:
        page = _text(client.get(f"{url}?from_date=2026-11-30"))  # every session
    assert "36 sessions booked from 2026-11-30 on" in page
    assert len(early) == len(late) <= 11  # 10, and the second factor's device (django-otp)
