"""Sessions beyond a course's payer authorization (issue "Clinical safety", item 8).

One rule for the whole-course booking (planner, API, booking page and their previews),
a single session and a make-up: sessions outside the authorizations' count or dates are
booked marked pending authorization, or left unbooked, as the clinic's
``book_beyond_authorization`` says; ``authorization_short`` shows either way.

The course of ``make_course`` (10hz-standard) starts Monday 30 November 2026: acute
sessions every weekday to Friday 8 January (30), taper on 11, 13, 15 January, 19 and
21 January, and 25 January (36 in all).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from clinic.models import BeyondAuthorization, Role
from courses.models import TreatmentCourse
from courses.services import authorization_add
from scheduling.coverage import COUNT, DATES, sessions_outside
from scheduling.models import Session, SessionStatus
from scheduling.selectors import course_progress
from scheduling.services import (
    arrange_makeups_and_refresh,
    course_schedule,
    session_cancel,
)
from tests.factories import PatientFactory, catalog_protocol, cleared_screening

pytestmark = pytest.mark.usefixtures("frozen_now")

NY = ZoneInfo("America/New_York")
PENDING, LEAVE = BeyondAuthorization.PENDING, BeyondAuthorization.LEAVE
TAPER_DAYS = [dt.date(2027, 1, d) for d in (11, 13, 15, 19, 21, 25)]


def _authorize(
    course: Any,
    sessions: int = 30,
    until: dt.date = dt.date(2027, 6, 30),
    start: dt.date = dt.date(2026, 11, 1),
    number: str = "PA-1",
) -> Any:
    return authorization_add(
        course,
        payer="Aetna",
        number=number,
        sessions_authorized=sessions,
        valid_from=start,
        valid_until=until,
    )


def _setting(clinic: Any, value: str) -> None:
    clinic.book_beyond_authorization = value
    clinic.save(update_fields=["book_beyond_authorization"])


def _day(session: Any) -> dt.date:
    return session.starts_at.astimezone(NY).date()


def _booked(course: Any) -> list[Session]:
    return list(Session.objects.filter(course=course).order_by("starts_at"))


def _pending_days(course: Any) -> list[dt.date]:
    return [_day(s) for s in _booked(course) if s.pending_authorization]


def _reasons(course: Any) -> list[str]:
    return list(course_progress(course)["risk"]["reasons"])


# --- the rule itself -------------------------------------------------------------------


class Terms:
    def __init__(self, sessions: int, valid_from: dt.date, valid_until: dt.date) -> None:
        self.sessions_authorized = sessions
        self.valid_from = valid_from
        self.valid_until = valid_until


def test_sessions_are_counted_in_time_order_against_count_and_dates() -> None:
    days = [dt.date(2027, 1, d) for d in (4, 5, 6, 7, 8, 11)]
    assert sessions_outside(days, []) == {}  # no authorization on file: not tracked
    first = Terms(3, dt.date(2027, 1, 1), dt.date(2027, 1, 9))
    outside = sessions_outside(days, [first])
    assert {i: o.reason for i, o in outside.items()} == {3: COUNT, 4: COUNT, 5: DATES}
    assert outside[3].detail == "beyond the 3 authorized sessions"
    assert "11 Jan 2027 is outside the authorization's dates" in outside[5].detail
    # An extension from the 8th: the one ending soonest is used first, so the extension
    # still has room for the 11th.
    extension = Terms(2, dt.date(2027, 1, 8), dt.date(2027, 1, 31))
    outside = sessions_outside(days, [extension, first])
    assert {i: o.reason for i, o in outside.items()} == {3: COUNT}


# --- whole course: the planner's booking -------------------------------------------------


def test_pending_books_every_session_and_marks_those_beyond_the_count(
    make_course: Any, chairs: list[Any], clinic: Any
) -> None:
    course = make_course()
    _authorize(course, 30)
    course_schedule(course)
    assert len(_booked(course)) == 36
    assert _pending_days(course) == TAPER_DAYS  # the last six, in time order
    assert "authorization_short" in _reasons(course)


def test_leave_books_only_the_sessions_the_authorization_covers(
    make_course: Any, chairs: list[Any], clinic: Any
) -> None:
    _setting(clinic, LEAVE)
    course = make_course()
    _authorize(course, 30)
    course_schedule(course)
    booked = _booked(course)
    assert len(booked) == 30
    assert _day(booked[-1]) == dt.date(2027, 1, 8)
    assert not any(s.pending_authorization for s in booked)
    reasons = _reasons(course)
    assert "authorization_short" in reasons and "unscheduled_remaining" in reasons


@pytest.mark.parametrize(("setting", "booked"), [(PENDING, 36), (LEAVE, 33)])
def test_sessions_after_the_authorization_ends_are_outside_it(
    make_course: Any, chairs: list[Any], clinic: Any, setting: str, booked: int
) -> None:
    _setting(clinic, setting)
    course = make_course()
    _authorize(course, 36, until=dt.date(2027, 1, 15))
    course_schedule(course)
    assert len(_booked(course)) == booked
    expected = TAPER_DAYS[3:] if setting == PENDING else []
    assert _pending_days(course) == expected


def test_leave_refuses_a_course_whose_first_session_is_outside(
    make_course: Any, chairs: list[Any], clinic: Any, api_as: Any
) -> None:
    _setting(clinic, LEAVE)
    course = make_course()
    _authorize(course, 36, start=dt.date(2026, 12, 7))
    response = api_as(Role.FRONT_DESK).post(
        f"/api/v1/courses/{course.pk}/schedule/", {}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "authorization_exceeded"
    assert "first (mapping) session" in response.json()["detail"]
    assert _booked(course) == []


def test_an_extension_clears_the_pending_marks_it_covers(
    make_course: Any, chairs: list[Any], clinic: Any, api_as: Any
) -> None:
    course = make_course()
    _authorize(course, 30)
    course_schedule(course)
    extension = {
        "payer": "Aetna",
        "number": "PA-2",
        "sessions_authorized": 4,
        "valid_from": "2027-01-01",
        "valid_until": "2027-06-30",
    }
    response = api_as(Role.PSYCHIATRIST).post(
        f"/api/v1/courses/{course.pk}/authorizations/", extension, format="json"
    )
    assert response.status_code == 201, response.content
    assert _pending_days(course) == TAPER_DAYS[4:]
    authorization_add(
        course,
        payer="Aetna",
        number="PA-3",
        sessions_authorized=2,
        valid_from=dt.date(2027, 1, 1),
        valid_until=dt.date(2027, 6, 30),
    )
    assert _pending_days(course) == []
    assert "authorization_short" not in _reasons(course)


def test_a_cancelled_session_frees_its_place_for_a_pending_one(
    make_course: Any, chairs: list[Any], clinic: Any
) -> None:
    clinic.auto_makeup = False
    clinic.save(update_fields=["auto_makeup"])
    course = make_course()
    _authorize(course, 30)
    course_schedule(course)
    session_cancel(_booked(course)[5], reason="")
    assert _pending_days(course) == TAPER_DAYS[1:]


# --- make-ups ----------------------------------------------------------------------------


@pytest.mark.parametrize(("setting", "makeups"), [(PENDING, 1), (LEAVE, 0)])
def test_a_makeup_beyond_the_authorization_follows_the_setting(
    make_course: Any, chairs: list[Any], clinic: Any, setting: str, makeups: int
) -> None:
    _setting(clinic, setting)
    course = make_course()
    course_schedule(course)
    _authorize(course, 35)  # after booking: the 36th (25 January) is beyond it
    cancelled = session_cancel(_booked(course)[3], reason="")
    made = list(Session.objects.filter(makeup_for=cancelled))
    assert len(made) == makeups
    # The 35 still booked use the authorization up. The make-up (after the acute phase)
    # is counted in time order, so the course's last session is the one beyond it.
    assert _pending_days(course) == [TAPER_DAYS[-1]] * makeups
    assert arrange_makeups_and_refresh([course.pk]) == 0


# --- the API -----------------------------------------------------------------------------


@pytest.mark.parametrize(("setting", "booked"), [(PENDING, 36), (LEAVE, 30)])
def test_api_preview_lists_the_sessions_outside_and_books_nothing(
    make_course: Any, chairs: list[Any], clinic: Any, api_as: Any, setting: str, booked: int
) -> None:
    _setting(clinic, setting)
    course = make_course()
    _authorize(course, 30)
    client = api_as(Role.FRONT_DESK)
    url = f"/api/v1/courses/{course.pk}/schedule/"
    preview = client.post(url, {"dry_run": True}, format="json")
    assert preview.status_code == 200, preview.content
    body = preview.json()
    assert body["book_beyond_authorization"] == setting
    assert len(body["sessions"]) == booked
    assert [s["sequence"] for s in body["sessions"]] == list(range(1, booked + 1))
    pending = [s for s in body["sessions"] if s["pending_authorization"]]
    assert len(pending) == (6 if setting == PENDING else 0)
    outside = body["outside_authorization"]
    assert [dt.datetime.fromisoformat(o["starts_at"]).astimezone(NY).date() for o in outside] == (
        TAPER_DAYS
    )
    assert {(o["reason"], o["booked"]) for o in outside} == {(COUNT, setting == PENDING)}
    assert outside[0]["detail"] == "beyond the 30 authorized sessions"
    assert _booked(course) == []  # a preview books nothing

    response = client.post(url, {}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert len(body["sessions"]) == booked == len(_booked(course))
    assert sum(s["pending_authorization"] for s in body["sessions"]) == len(pending)
    assert len(body["outside_authorization"]) == 6


@pytest.mark.parametrize(
    ("authorized", "until", "detail"),
    [
        (1, dt.date(2027, 6, 30), "beyond the 1 authorized session"),
        (5, dt.date(2026, 11, 30), "01 Dec 2026 is outside the authorization's dates"),
    ],
)
def test_api_single_session_beyond_the_authorization(
    make_course: Any,
    chairs: list[Any],
    clinic: Any,
    api_as: Any,
    authorized: int,
    until: dt.date,
    detail: str,
) -> None:
    course = make_course()
    _authorize(course, authorized, until=until)
    client = api_as(Role.FRONT_DESK)

    def book(starts_at: str) -> Any:
        payload = {"course": course.pk, "starts_at": starts_at}
        return client.post("/api/v1/sessions/", payload, format="json")

    first = book("2026-11-30T10:00:00-05:00")
    assert first.status_code == 201 and first.json()["pending_authorization"] is False
    _setting(clinic, LEAVE)
    refused = book("2026-12-01T10:00:00-05:00")
    assert refused.status_code == 409
    assert refused.json()["code"] == "authorization_exceeded"
    assert detail in refused.json()["detail"]
    _setting(clinic, PENDING)
    second = book("2026-12-01T10:00:00-05:00")
    assert second.status_code == 201, second.content
    assert second.json()["pending_authorization"] is True
    assert "pending_authorization" in client.get(f"/api/v1/sessions/{first.json()['id']}/").json()


def test_clinic_admin_sets_the_rule_through_the_api(clinic: Any, api_as: Any) -> None:
    client = api_as(Role.CLINIC_ADMIN)
    url = f"/api/v1/clinics/{clinic.pk}/"
    assert client.get(url).json()["book_beyond_authorization"] == "pending"  # the default
    response = client.patch(url, {"book_beyond_authorization": "leave"}, format="json")
    assert response.status_code == 200, response.content
    clinic.refresh_from_db()
    assert clinic.book_beyond_authorization == LEAVE
    bad = client.patch(url, {"book_beyond_authorization": "sometimes"}, format="json")
    assert bad.status_code == 400 and "book_beyond_authorization" in bad.json()["errors"]


# --- the pages ---------------------------------------------------------------------------


def _booking_form(clinic: Any, psychiatrist: Any, **changes: str) -> dict[str, Any]:
    patient = PatientFactory(clinic=clinic)
    cleared_screening(patient, by=psychiatrist)
    return {
        "action": "preview",
        "patient": patient.pk,
        "protocol": catalog_protocol("10hz-standard").pk,
        "psychiatrist": psychiatrist.pk,
        "indication": "mdd",
        "start_date": "2026-11-30",
        "preferred_time": "09:30",
        "preferred_chair": "",
        "time_flex_minutes": "0",
        "payer": "Aetna",
        "authorization_number": "PA-1",
        "sessions_authorized": "30",
        "valid_from": "2026-11-01",
        "valid_until": "2027-06-30",
        **changes,
    }


@pytest.mark.parametrize(
    ("setting", "words", "booked"),
    [(PENDING, "Pending authorization", 36), (LEAVE, "Not booked", 30)],
)
def test_booking_page_preview_shows_the_sessions_outside_then_books_by_the_rule(
    page_as: Any,
    clinic: Any,
    psychiatrist: Any,
    chairs: list[Any],
    setting: str,
    words: str,
    booked: int,
) -> None:
    _setting(clinic, setting)
    client: Client = page_as(Role.FRONT_DESK)
    data = _booking_form(clinic, psychiatrist)
    html = client.post("/courses/book/", data).content.decode()
    assert "Preview: 36 sessions" in html
    assert "6 sessions fall outside the payer authorization." in html
    assert html.count(words) == 6
    assert html.count("Beyond the 30 authorized sessions") == 6
    assert f"Confirm booking of {booked} sessions" in html
    assert not TreatmentCourse.objects.filter(patient_id=data["patient"]).exists()

    response = client.post("/courses/book/", {**data, "action": "confirm"})
    assert response.status_code == 302
    course = TreatmentCourse.objects.get(patient_id=data["patient"])
    assert len(_booked(course)) == booked
    assert len(_pending_days(course)) == (6 if setting == PENDING else 0)
    page = client.get(response["Location"]).content.decode()
    assert page.count("Pending authorization") == (6 if setting == PENDING else 0)
    assert "Authorization covers fewer sessions than the course" in page


def test_board_and_technician_list_show_pending_authorization(
    page_as: Any, make_course: Any, chairs: list[Any], frozen_now: Any, api_as: Any
) -> None:
    course = make_course()
    _authorize(course, 30)
    course_schedule(course)
    pending = next(s for s in _booked(course) if s.pending_authorization)
    covered = _booked(course)[0]
    frozen_now.move_to(dt.datetime.combine(_day(pending), dt.time(8), tzinfo=NY))
    board = page_as(Role.FRONT_DESK).get("/board/").content.decode()
    assert f'id="session-{pending.pk}"' in board
    assert board.count("Pending authorization") == 1
    today = page_as(Role.TECHNICIAN).get("/today/").content.decode()
    assert today.count("Pending authorization") == 1
    api = api_as(Role.FRONT_DESK).get(
        "/api/v1/board/", {"clinic": course.patient.clinic_id, "date": _day(pending)}
    )
    [entry] = [s for chair in api.json()["chairs"] for s in chair["sessions"]]
    assert entry["id"] == pending.pk and entry["pending_authorization"] is True
    frozen_now.move_to(dt.datetime.combine(_day(covered), dt.time(8), tzinfo=NY))
    assert "Pending authorization" not in page_as(Role.FRONT_DESK).get("/board/").content.decode()
    assert covered.status == SessionStatus.SCHEDULED


@pytest.mark.parametrize(("setting", "status"), [(PENDING, 200), (LEAVE, 409)])
def test_a_move_past_the_authorization_follows_the_setting(
    make_course: Any, chairs: list[Any], clinic: Any, api_as: Any, setting: str, status: int
) -> None:
    _setting(clinic, setting)
    course = make_course()
    _authorize(course, 36, until=dt.date(2027, 1, 15))
    course_schedule(course)
    second = _booked(course)[1]  # Tuesday 1 December
    response = api_as(Role.FRONT_DESK).patch(
        f"/api/v1/sessions/{second.pk}/", {"starts_at": "2027-01-18T09:30:00-05:00"}, format="json"
    )
    assert response.status_code == status, response.content
    second.refresh_from_db()
    if setting == LEAVE:
        assert response.json()["code"] == "authorization_exceeded"
        assert "18 Jan 2027 is outside the authorization's dates" in response.json()["detail"]
        assert _day(second) == dt.date(2026, 12, 1)
    else:
        assert response.json()["pending_authorization"] is True
        assert _day(second) == dt.date(2027, 1, 18) and second.pending_authorization
