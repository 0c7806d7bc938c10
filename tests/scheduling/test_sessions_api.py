"""Single sessions over HTTP: booking rules and their codes, moves, attendance, board."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import BeyondAuthorization, Role
from courses import services as course_services
from scheduling.models import Session
from scheduling.services import course_schedule
from tests.factories import ChairBlockFactory, ClosureFactory, ScreeningFactory

pytestmark = pytest.mark.usefixtures("frozen_now")

MONDAY_1000 = "2026-11-30T10:00:00-05:00"  # New York, the week after NOW


@pytest.fixture
def desk(staff: Any, api: Any) -> Any:
    return api(staff(Role.FRONT_DESK))


@pytest.fixture
def tech(staff: Any, api: Any) -> Any:
    return api(staff(Role.TECHNICIAN))


def _book(client: Any, course: Any, starts_at: str = MONDAY_1000, **extra: Any) -> Any:
    return client.post(
        "/api/v1/sessions/", {"course": course.pk, "starts_at": starts_at, **extra}, format="json"
    )


def test_book_picks_a_free_chair_and_the_slot_length(
    desk: Any, make_course: Any, chairs: list[Any]
) -> None:
    course = make_course()
    response = _book(desk, course)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["chair"] == chairs[0].pk
    start = dt.datetime.fromisoformat(body["starts_at"])
    end = dt.datetime.fromisoformat(body["ends_at"])
    assert end - start == dt.timedelta(minutes=40)
    assert body["status"] == "scheduled" and body["sequence"] == 1


@pytest.mark.parametrize(
    ("starts_at", "code"),
    [
        ("2026-11-30T06:00:00-05:00", "outside_hours"),
        ("2026-11-30T18:45:00-05:00", "outside_hours"),  # would end after 19:00
        ("2026-11-28T10:00:00-05:00", "closed"),  # a Saturday: no opening hours
    ],
)
def test_booking_outside_opening(
    desk: Any, make_course: Any, chairs: list[Any], starts_at: str, code: str
) -> None:
    response = _book(desk, make_course(), starts_at)
    assert response.status_code == 409
    assert response.json()["code"] in {code, "outside_hours"}


def test_booking_on_a_closure(desk: Any, make_course: Any, chairs: list[Any], clinic: Any) -> None:
    ClosureFactory(clinic=clinic, date=dt.date(2026, 11, 30))
    response = _book(desk, make_course())
    assert response.status_code == 409
    assert response.json()["code"] == "closed"


def test_chair_conflict_and_block(desk: Any, make_course: Any, chairs: list[Any]) -> None:
    first = _book(desk, make_course(), chair=chairs[0].pk)
    assert first.status_code == 201
    second = _book(desk, make_course(), "2026-11-30T10:20:00-05:00", chair=chairs[0].pk)
    assert second.status_code == 409
    assert second.json()["code"] == "slot_conflict"
    ChairBlockFactory(
        chair=chairs[1],
        starts_at=dt.datetime(2026, 11, 30, 15, tzinfo=dt.UTC),
        ends_at=dt.datetime(2026, 11, 30, 17, tzinfo=dt.UTC),
    )
    blocked = _book(desk, make_course(), chair=chairs[1].pk)
    assert blocked.json()["code"] == "slot_conflict"


def test_back_to_back_is_not_a_conflict(desk: Any, make_course: Any, chairs: list[Any]) -> None:
    _book(desk, make_course(), "2026-11-30T10:00:00-05:00", chair=chairs[0].pk)
    response = _book(desk, make_course(), "2026-11-30T10:40:00-05:00", chair=chairs[0].pk)
    assert response.status_code == 201  # [10:00, 10:40) and [10:40, 11:20) do not overlap


def test_patient_conflict_and_daily_limit(desk: Any, make_course: Any, chairs: list[Any]) -> None:
    course = make_course()
    assert _book(desk, course, chair=chairs[0].pk).status_code == 201
    same_time = _book(desk, course, chair=chairs[1].pk)
    assert same_time.json()["code"] == "patient_conflict"
    later = _book(desk, course, "2026-11-30T15:00:00-05:00")
    assert later.status_code == 409
    assert later.json()["code"] == "patient_conflict"  # 10hz-standard: one a day


def test_screening_must_be_cleared(desk: Any, make_course: Any, chairs: list[Any]) -> None:
    course = make_course()
    ScreeningFactory(patient=course.patient)  # a newer, pending screening
    response = _book(desk, course)
    assert response.status_code == 409
    assert response.json()["code"] == "screening_required"


def test_authorization_limit(desk: Any, make_course: Any, chairs: list[Any], clinic: Any) -> None:
    clinic.book_beyond_authorization = BeyondAuthorization.LEAVE  # else booked, pending
    clinic.save()
    course = make_course()
    course_services.authorization_add(
        course,
        payer="Aetna",
        number="1",
        sessions_authorized=1,
        valid_from=dt.date(2026, 11, 1),
        valid_until=dt.date(2027, 3, 1),
    )
    assert _book(desk, course).status_code == 201
    second = _book(desk, course, "2026-12-01T10:00:00-05:00")
    assert second.status_code == 409
    assert second.json()["code"] == "authorization_exceeded"


def test_no_booking_in_the_past(desk: Any, make_course: Any, chairs: list[Any]) -> None:
    response = _book(desk, make_course(), "2026-11-24T10:00:00-05:00")
    assert response.status_code == 400
    assert "starts_at" in response.json()["errors"]


def test_only_a_started_session_can_be_marked_missed(
    desk: Any, make_course: Any, chairs: list[Any], frozen_now: Any
) -> None:
    session_id = _book(desk, make_course()).json()["id"]  # Monday 30 November 10:00
    url = f"/api/v1/sessions/{session_id}/mark-missed/"
    early = desk.post(url, {}, format="json")
    assert early.status_code == 409
    assert early.json()["code"] == "invalid_transition"
    assert "only once it has started" in early.json()["detail"]
    assert Session.objects.get(pk=session_id).status == "scheduled"
    frozen_now.move_to(dt.datetime(2026, 11, 30, 15, 5, tzinfo=dt.UTC))  # 10:05 New York
    assert desk.post(url, {}, format="json").json()["status"] == "missed"


def test_move_and_wrong_state(
    desk: Any, tech: Any, make_course: Any, chairs: list[Any], frozen_now: Any
) -> None:
    session_id = _book(desk, make_course()).json()["id"]
    moved = desk.patch(
        f"/api/v1/sessions/{session_id}/",
        {"starts_at": "2026-12-01T11:00:00-05:00", "chair": chairs[2].pk},
        format="json",
    )
    assert moved.status_code == 200, moved.content
    assert moved.json()["chair"] == chairs[2].pk
    frozen_now.move_to(dt.datetime(2026, 12, 1, 15, 50, tzinfo=dt.UTC))  # 10:50 New York
    assert tech.post(f"/api/v1/sessions/{session_id}/check-in/").status_code == 200
    again = desk.patch(f"/api/v1/sessions/{session_id}/", {"starts_at": MONDAY_1000}, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"


def test_attendance_flow(
    desk: Any, tech: Any, make_course: Any, chairs: list[Any], frozen_now: Any
) -> None:
    course = make_course()
    session_id = _book(desk, course).json()["id"]  # Monday 30 November 10:00 New York
    complete_early = tech.post(
        f"/api/v1/sessions/{session_id}/complete/",
        {"pulses_delivered": 3000, "intensity_pct_mt": 120, "coil_position": "F3"},
        format="json",
    )
    assert complete_early.json()["code"] == "invalid_transition"
    frozen_now.move_to(dt.datetime(2026, 11, 30, 14, 50, tzinfo=dt.UTC))  # 09:50 New York
    assert tech.post(f"/api/v1/sessions/{session_id}/check-in/").status_code == 200
    frozen_now.move_to(dt.datetime(2026, 11, 30, 15, 40, tzinfo=dt.UTC))  # 10:40 New York
    course.refresh_from_db()
    assert course.status == "active"  # the first check-in starts a planned course
    bad_record = tech.post(
        f"/api/v1/sessions/{session_id}/complete/",
        {"pulses_delivered": -1, "intensity_pct_mt": 500, "side_effects": ["hiccups"]},
        format="json",
    )
    assert bad_record.status_code == 400
    assert {"pulses_delivered", "intensity_pct_mt", "side_effects", "coil_position"} <= set(
        bad_record.json()["errors"]
    )
    done = tech.post(
        f"/api/v1/sessions/{session_id}/complete/",
        {
            "pulses_delivered": 3000,
            "intensity_pct_mt": 120,
            "coil_position": "Beam F3",
            "side_effects": ["headache", "scalp_discomfort"],
            "side_effects_other": "mild jaw tension",
        },
        format="json",
    )
    assert done.status_code == 200
    assert done.json()["status"] == "completed"
    assert done.json()["record"]["side_effects"] == ["headache", "scalp_discomfort"]
    for verb in ("check-in", "cancel", "mark-missed"):
        response = desk.post(f"/api/v1/sessions/{session_id}/{verb}/", {}, format="json")
        assert response.status_code in (403, 409)
        if response.status_code == 409:
            assert response.json()["code"] == "invalid_transition"


def test_front_desk_does_not_see_the_treatment_record(
    desk: Any, tech: Any, make_course: Any, chairs: list[Any], frozen_now: Any
) -> None:
    session_id = _book(desk, make_course()).json()["id"]
    frozen_now.move_to(dt.datetime(2026, 11, 30, 15, 5, tzinfo=dt.UTC))  # 10:05 New York
    tech.post(f"/api/v1/sessions/{session_id}/check-in/")
    tech.post(
        f"/api/v1/sessions/{session_id}/complete/",
        {"pulses_delivered": 3000, "intensity_pct_mt": 120, "coil_position": "F3"},
        format="json",
    )
    assert desk.get(f"/api/v1/sessions/{session_id}/").json()["record"] is None
    assert tech.get(f"/api/v1/sessions/{session_id}/").json()["record"]["pulses_delivered"] == 3000


def test_schedule_endpoint(desk: Any, make_course: Any, chairs: list[Any]) -> None:
    course = make_course()
    response = desk.post(f"/api/v1/courses/{course.pk}/schedule/", {}, format="json")
    assert response.status_code == 201, response.content
    assert len(response.json()["sessions"]) == 36
    again = desk.post(f"/api/v1/courses/{course.pk}/schedule/", {}, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "already_scheduled"
    bad = desk.post(
        f"/api/v1/courses/{course.pk}/schedule/", {"time_flex_minutes": "lots"}, format="json"
    )
    assert bad.status_code == 400


def test_schedule_needs_a_cleared_screening(desk: Any, make_course: Any, chairs: list[Any]) -> None:
    course = make_course()
    ScreeningFactory(patient=course.patient, seizure_history=True)
    response = desk.post(f"/api/v1/courses/{course.pk}/schedule/", {}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "screening_required"


def test_board(desk: Any, make_course: Any, chairs: list[Any], clinic: Any) -> None:
    def board() -> Any:
        with CaptureQueriesContext(connection) as captured:
            response = desk.get("/api/v1/board/", {"clinic": clinic.pk, "date": "2026-11-30"})
        assert response.status_code == 200
        return response.json(), len(captured)

    course_schedule(make_course())
    small, few = board()
    for hour in (8, 11, 13, 15):
        course_schedule(make_course(at=dt.time(hour, 0)))
    large, many = board()
    assert few == many <= 8
    assert [chair["name"] for chair in large["chairs"]] == [c.name for c in chairs]
    sessions = [s for chair in large["chairs"] for s in chair["sessions"]]
    assert len(sessions) == 5
    first = small["chairs"][0]["sessions"][0]
    assert first["course"]["sequence"] == 1 and first["course"]["sessions_total"] == 36
    assert first["course"]["risk_level"] in {"ok", "watch", "at_risk"}
    name = first["patient"]["name"]
    assert name.endswith(".") and len(name.split()[-1]) == 2  # first name, last initial


def test_availability(desk: Any, make_course: Any, chairs: list[Any], clinic: Any) -> None:
    _book(desk, make_course(), chair=chairs[0].pk)
    body = desk.get(
        "/api/v1/availability/", {"clinic": clinic.pk, "date": "2026-11-30", "minutes": 40}
    ).json()
    first = next(chair for chair in body["chairs"] if chair["chair"] == chairs[0].pk)
    assert [(f["starts_at"], f["ends_at"]) for f in first["free"]] == [
        ("2026-11-30T12:30:00Z", "2026-11-30T15:00:00Z"),
        ("2026-11-30T15:40:00Z", "2026-12-01T00:00:00Z"),
    ]
    closed = desk.get("/api/v1/availability/", {"clinic": clinic.pk, "date": "2026-11-28"}).json()
    assert all(chair["free"] == [] for chair in closed["chairs"])
    bad = desk.get("/api/v1/availability/", {"clinic": clinic.pk, "date": "soon"})
    assert bad.status_code == 400 and "date" in bad.json()["errors"]


def test_availability_over_several_days(
    desk: Any, make_course: Any, chairs: list[Any], clinic: Any
) -> None:
    _book(desk, make_course(), chair=chairs[0].pk)
    body = desk.get(
        "/api/v1/availability/",
        # Saturday and Sunday have no opening hours: nothing free on them.
        {"clinic": clinic.pk, "date": "2026-11-28", "until": "2026-12-01", "minutes": 40},
    ).json()
    assert (body["date"], body["until"]) == ("2026-11-28", "2026-12-01")
    first = next(chair for chair in body["chairs"] if chair["chair"] == chairs[0].pk)
    assert [(f["starts_at"], f["ends_at"]) for f in first["free"]] == [
        ("2026-11-30T12:30:00Z", "2026-11-30T15:00:00Z"),
        ("2026-11-30T15:40:00Z", "2026-12-01T00:00:00Z"),
        ("2026-12-01T12:30:00Z", "2026-12-02T00:00:00Z"),
    ]
    one_day = desk.get("/api/v1/availability/", {"clinic": clinic.pk, "date": "2026-11-30"})
    assert one_day.json()["until"] == "2026-11-30"


@pytest.mark.parametrize("until", ["2026-11-29", "2026-12-31", "later"])
def test_availability_refuses_a_bad_until(desk: Any, clinic: Any, until: str) -> None:
    response = desk.get(
        "/api/v1/availability/", {"clinic": clinic.pk, "date": "2026-11-30", "until": until}
    )
    assert response.status_code == 400 and "until" in response.json()["errors"]


def test_availability_query_count(
    desk: Any, make_course: Any, chairs: list[Any], clinic: Any
) -> None:
    course_schedule(make_course())
    course_schedule(make_course(at=dt.time(13, 0)))

    def count(**extra: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = desk.get(
                "/api/v1/availability/", {"clinic": clinic.pk, "date": "2026-11-30", **extra}
            )
        assert response.status_code == 200
        return len(captured)

    # A month costs the queries of a day: the calendar is read once (SQLite's reader
    # takes one query more than PostgreSQL's).
    assert count() == count(until="2026-12-30") <= (7 if connection.vendor == "postgresql" else 8)


def test_session_list_by_clinic_local_date(
    desk: Any, make_course: Any, chairs: list[Any], clinic: Any
) -> None:
    # 20:00 in New York is already the next day in UTC.
    late = _book(desk, make_course(), "2026-11-30T18:00:00-05:00").json()["id"]
    _book(desk, make_course(), "2026-12-01T09:00:00-05:00")
    rows = desk.get("/api/v1/sessions/", {"clinic": clinic.pk, "date": "2026-11-30"}).json()
    assert [row["id"] for row in rows["results"]] == [late]


def test_session_list_query_count(desk: Any, make_course: Any, chairs: list[Any]) -> None:
    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            desk.get("/api/v1/sessions/")
        return len(captured)

    course_schedule(make_course())
    few = count()
    course_schedule(make_course(at=dt.time(13, 0)))
    assert count() == few <= 5
    assert Session.objects.count() == 72
