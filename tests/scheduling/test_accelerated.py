"""Accelerated (SNT) courses as published: motor threshold on a day of its own (or first
thing on day 1, not one of the ten), ten sessions a day starting hourly (50 minutes from
the end of one 10-minute stimulation to the next start), five consecutive clinic days,
and a warning when a weekend or closure interrupts them."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from html import unescape
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from clinic.models import OpeningHours, Role
from courses.models import MappingSchedule, Protocol, ProtocolPhase
from scheduling.models import Session
from scheduling.selectors import course_progress
from scheduling.services import course_schedule
from tests.factories import ClosureFactory, PatientFactory, catalog_protocol, cleared_screening

pytestmark = pytest.mark.usefixtures("frozen_now")

FRIDAY = dt.date(2026, 11, 27)
MONDAY = dt.date(2026, 11, 30)
HOURLY = [dt.time(hour) for hour in range(8, 18)]  # 08:00 ... 17:00


@pytest.fixture
def eight_to_six(clinic: Any) -> Any:
    """The clinic open 08:00-18:00 on weekdays: ten hours."""
    OpeningHours.objects.filter(clinic=clinic).update(opens=dt.time(8), closes=dt.time(18))
    return clinic


def _sessions(course: Any) -> list[Session]:
    return list(Session.objects.filter(course=course).with_sequence().order_by("starts_at"))


def _local(session: Session, tz: Any) -> dt.datetime:
    return session.starts_at.astimezone(tz)


def _by_day(sessions: list[Session], tz: Any) -> dict[dt.date, list[Session]]:
    days: dict[dt.date, list[Session]] = {}
    for session in sessions:
        days.setdefault(_local(session, tz).date(), []).append(session)
    return days


def test_an_eight_to_six_clinic_books_a_whole_snt_course(
    make_course: Any, chairs: list[Any], eight_to_six: Any
) -> None:
    course = make_course("snt-accelerated", start=FRIDAY, at=dt.time(8))
    course_schedule(course)
    tz = eight_to_six.tz
    sessions = _sessions(course)
    assert len(sessions) == 51
    assert [s.sequence for s in sessions] == list(range(1, 52))  # type: ignore[attr-defined]
    mapping = sessions[0]
    assert mapping.kind == "mapping"
    assert _local(mapping, tz) == dt.datetime.combine(FRIDAY, dt.time(8), tzinfo=tz)
    assert mapping.ends_at - mapping.starts_at == dt.timedelta(minutes=60)
    days = _by_day(sessions[1:], tz)
    assert list(days) == [MONDAY + dt.timedelta(days=n) for n in range(5)]
    for day_sessions in days.values():
        assert [_local(s, tz).time() for s in day_sessions] == HOURLY
        assert {s.kind for s in day_sessions} == {"treatment"}
        assert all(s.ends_at - s.starts_at == dt.timedelta(minutes=15) for s in day_sessions)
    progress = course_progress(course)
    assert progress["sessions_total"] == 51
    assert progress["scheduled"] == 51
    assert "unscheduled_remaining" not in progress["risk"]["reasons"]


@pytest.fixture
def same_day_course(make_course: Any, clinic: Any) -> Any:
    """An SNT course whose protocol determines the motor threshold first thing on day 1."""
    protocol = catalog_protocol("snt-accelerated")
    same_day = Protocol.objects.create(
        clinic=clinic,
        code="snt-same-day",
        name="SNT, threshold on day 1",
        slot_minutes=15,
        mapping_minutes=60,
        mapping_schedule=MappingSchedule.SAME_DAY,
        sessions_per_day=10,
        min_gap_minutes=50,
        stimulation="iTBS",
        frequency_hz=protocol.frequency_hz,
        pulses_per_session=1800,
        intensity_pct_mt=90,
        treatment_minutes=10,
    )
    ProtocolPhase.objects.create(protocol=same_day, order=1, sessions=50, per_week=5)
    course = make_course("snt-accelerated", start=MONDAY, at=dt.time(7, 30))
    course.protocol = same_day
    course.save()
    return course


def test_mapping_first_thing_on_day_one_is_not_one_of_the_ten(
    same_day_course: Any, chairs: list[Any], clinic: Any
) -> None:
    course = same_day_course
    course_schedule(course)
    tz = clinic.tz
    days = _by_day(_sessions(course), tz)
    assert list(days) == [MONDAY + dt.timedelta(days=n) for n in range(5)]
    first = days[MONDAY]
    assert [s.kind for s in first] == ["mapping"] + ["treatment"] * 10
    assert [_local(s, tz).time() for s in first] == [
        dt.time(7, 30),
        *(dt.time(hour, 30) for hour in range(8, 18)),
    ]
    assert Counter(len(day) for day in days.values()) == {11: 1, 10: 4}


def test_a_weekend_between_treatment_days_is_booked_and_said(
    api_as: Callable[..., APIClient], make_course: Any, chairs: list[Any], eight_to_six: Any
) -> None:
    course = make_course("snt-accelerated", start=MONDAY, at=dt.time(8))
    response = api_as(Role.FRONT_DESK).post(
        f"/api/v1/courses/{course.pk}/schedule/", {}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert len(body["sessions"]) == 51
    assert body["sessions"][0]["kind"] == "mapping"
    [warning] = body["warnings"]
    assert warning["code"] == "treatment_days_interrupted"
    assert (warning["stops_after"], warning["resumes_on"]) == ("2026-12-04", "2026-12-07")
    assert "the weekend (Sat 05 Dec, Sun 06 Dec)" in warning["detail"]


def test_an_uninterrupted_snt_week_over_the_api_has_no_warning(
    api_as: Callable[..., APIClient], make_course: Any, chairs: list[Any], eight_to_six: Any
) -> None:
    course = make_course("snt-accelerated", start=FRIDAY, at=dt.time(8))
    client = api_as(Role.FRONT_DESK)
    response = client.post(f"/api/v1/courses/{course.pk}/schedule/", {}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["warnings"] == []
    assert len(response.json()["sessions"]) == 51
    assert client.get(f"/api/v1/courses/{course.pk}/").json()["sessions_total"] == 51
    board = client.get(f"/api/v1/board/?clinic={eight_to_six.pk}&date=2026-11-27").json()
    [mapping] = [entry for chair in board["chairs"] for entry in chair["sessions"]]
    assert (mapping["kind"], mapping["course"]["sequence"]) == ("mapping", 1)
    assert mapping["course"]["sessions_total"] == 51
    protocol = client.get("/api/v1/protocols/?page_size=50").json()["results"]
    snt = next(entry for entry in protocol if entry["code"] == "snt-accelerated")
    assert snt["sessions_total"] == 50  # the treatments; the mapping session is apart
    assert snt["mapping_schedule"] == "day_before"


def test_a_closure_between_treatment_days_is_said(
    make_course: Any, chairs: list[Any], eight_to_six: Any
) -> None:
    from scheduling.accelerated import treatment_breaks

    ClosureFactory(clinic=eight_to_six, date=dt.date(2026, 12, 2))
    course = make_course("snt-accelerated", start=FRIDAY, at=dt.time(8))
    sessions = course_schedule(course)
    # Mon, Tue, (closed Wed), Thu, Fri, (weekend), Mon: two interruptions.
    closure, weekend = treatment_breaks(sessions, eight_to_six.tz, 10)
    assert closure.skipped == [dt.date(2026, 12, 2)]
    assert "days without treatment (Wed 02 Dec)" in closure.message
    assert weekend.weekend_only and weekend.resumes_on == dt.date(2026, 12, 7)
    # A once-a-day course has weekends by design: nothing to say.
    standard = make_course(start=MONDAY, at=dt.time(9))
    assert treatment_breaks(course_schedule(standard), eight_to_six.tz, 1) == []


def test_single_sessions_may_start_hourly_but_not_closer(
    api_as: Callable[..., APIClient], make_course: Any, chairs: list[Any]
) -> None:
    course = make_course("snt-accelerated")
    desk = api_as(Role.FRONT_DESK)

    def book(at: str) -> Any:
        return desk.post(
            "/api/v1/sessions/",
            {"course": course.pk, "starts_at": f"2026-12-01T{at}:00-05:00"},
            format="json",
        )

    assert book("09:00").status_code == 201
    hourly = book("10:00")  # 50 minutes after the 10-minute stimulation ended
    assert hourly.status_code == 201, hourly.content
    closer = book("10:55")
    assert closer.status_code == 409
    assert closer.json()["code"] == "patient_conflict"
    assert "50 minutes" in closer.json()["detail"]
    assert book("08:05").status_code == 409  # 55 minutes before 09:00
    assert book("08:00").status_code == 201


# --- the booking page -------------------------------------------------------------------


def _preview(client: Client, clinic: Any, psychiatrist: Any, start: dt.date) -> str:
    patient = PatientFactory(clinic=clinic)
    cleared_screening(patient, by=psychiatrist)
    response = client.post(
        "/courses/book/",
        {
            "action": "preview",
            "patient": patient.pk,
            "protocol": catalog_protocol("snt-accelerated").pk,
            "psychiatrist": psychiatrist.pk,
            "indication": "mdd",
            "start_date": start.isoformat(),
            "preferred_time": "08:00",
            "preferred_chair": "",
            "time_flex_minutes": "0",
        },
    )
    assert response.status_code == 200, response.content
    return unescape(response.content.decode())


def test_booking_page_previews_snt_and_says_when_a_weekend_interrupts(
    page_as: Callable[[str], Client], chairs: list[Any], eight_to_six: Any, psychiatrist: Any
) -> None:
    client = page_as(Role.FRONT_DESK)
    page = _preview(client, eight_to_six, psychiatrist, FRIDAY)
    assert "Preview: 51 sessions" in page
    assert "<td>1</td><td>Fri 27 Nov 2026</td>" in page
    assert "Mapping (motor threshold)" in page
    assert "not consecutive" not in page

    page = _preview(client, eight_to_six, psychiatrist, MONDAY)
    assert "Preview: 51 sessions" in page
    assert (
        "The treatment days are not consecutive: the weekend (Sat 05 Dec, Sun 06 Dec) falls "
        "between Fri 04 Dec and Mon 07 Dec."
    ) in page


def test_day_one_holds_the_mapping_session_besides_the_ten(
    api_as: Callable[..., APIClient], same_day_course: Any, chairs: list[Any], clinic: Any
) -> None:
    course_schedule(same_day_course)
    days = _by_day(_sessions(same_day_course), clinic.tz)
    desk = api_as(Role.FRONT_DESK)
    # Day 1 has the mapping session and ten treatments: the last may still move an hour.
    last = days[MONDAY][-1]
    moved = desk.patch(
        f"/api/v1/sessions/{last.pk}/", {"starts_at": "2026-11-30T18:30:00-05:00"}, format="json"
    )
    assert moved.status_code == 200, moved.content
    # Any other day has its ten already: an eleventh treatment is refused.
    extra = desk.post(
        "/api/v1/sessions/",
        {"course": same_day_course.pk, "starts_at": "2026-12-01T18:30:00-05:00"},
        format="json",
    )
    assert extra.status_code == 409
    assert extra.json()["detail"] == "The protocol allows 10 session(s) a day."
