"""Chairs and coils: a protocol is booked only on a chair fitted with its coil, by the
planner, single bookings, moves, make-ups, availability and the booking page's
alternatives; deep TMS H1 never lands on a figure-8 chair."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from html import unescape
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from rest_framework.test import APIClient

from clinic.errors import Conflict
from clinic.models import Chair, Role
from courses.models import Protocol
from scheduling.models import Session, SessionStatus
from scheduling.services import course_schedule, session_mark_missed
from tests.factories import ChairFactory, PatientFactory, catalog_protocol, cleared_screening

pytestmark = pytest.mark.usefixtures("frozen_now")

MONDAY_1000 = "2026-11-30T10:00:00-05:00"


def _text(response: Any) -> str:
    return unescape(response.content.decode())


def test_seeded_protocols_name_their_coil(db: None) -> None:
    assert catalog_protocol("deep-tms-h1").coil == "H1"
    for code in ("10hz-standard", "10hz-dash", "itbs", "snt-accelerated"):
        assert catalog_protocol(code).coil == "figure-8"


def test_a_chair_without_coils_listed_has_a_figure_8(clinic: Any) -> None:
    assert ChairFactory(clinic=clinic).coils == ["figure-8"]


def test_the_database_refuses_an_unknown_protocol_coil(db: None) -> None:
    with pytest.raises(Exception, match="protocol_coil_known"):
        Protocol.objects.filter(code="itbs").update(coil="H9")


# --- the planner -----------------------------------------------------------------------


def test_deep_tms_is_never_planned_on_a_figure_8_chair(make_course: Any, chairs: list[Any]) -> None:
    course = make_course(protocol="deep-tms-h1")
    with pytest.raises(Conflict) as raised:
        course_schedule(course)
    assert raised.value.code == "slot_conflict"
    assert not Session.objects.filter(course=course).exists()


def test_deep_tms_goes_on_the_h1_chair_and_figure_8_courses_never_do(
    make_course: Any, chairs: list[Any], h1_chair: Any
) -> None:
    # The preferred chair is a figure-8 one: passed over, not booked.
    deep = make_course(protocol="deep-tms-h1")
    course_schedule(deep)
    assert set(Session.objects.filter(course=deep).values_list("chair_id", flat=True)) == {
        h1_chair.pk
    }
    # The H1 chair is the first by name (“Deep TMS”) and free: still never taken.
    standard = make_course(at=dt.time(11))
    course_schedule(standard)
    used = set(Session.objects.filter(course=standard).values_list("chair_id", flat=True))
    assert h1_chair.pk not in used


def test_a_chair_fitted_with_several_coils_takes_either(make_course: Any, clinic: Any) -> None:
    both = ChairFactory(clinic=clinic, coils=["figure-8", "H1"])
    for protocol in ("deep-tms-h1", "itbs"):
        course = make_course(protocol=protocol, at=dt.time(8 if protocol == "itbs" else 12))
        course_schedule(course)
        assert set(Session.objects.filter(course=course).values_list("chair", flat=True)) == {
            both.pk
        }


def test_make_ups_of_deep_tms_stay_on_h1_chairs(
    make_course: Any, chairs: list[Any], h1_chair: Any, frozen_now: Any
) -> None:
    course = make_course(protocol="deep-tms-h1")
    course_schedule(course)
    first = Session.objects.filter(course=course).order_by("starts_at").first()
    assert first is not None
    frozen_now.move_to(first.ends_at + dt.timedelta(minutes=5))
    session_mark_missed(first)
    makeup = Session.objects.get(makeup_for=first)
    assert makeup.chair_id == h1_chair.pk


# --- the API ---------------------------------------------------------------------------


def test_api_schedule_refuses_deep_tms_without_an_h1_chair(
    api_as: Callable[..., APIClient], make_course: Any, chairs: list[Any]
) -> None:
    course = make_course(protocol="deep-tms-h1")
    desk = api_as(Role.FRONT_DESK)
    response = desk.post(f"/api/v1/courses/{course.pk}/schedule/", {}, format="json")
    assert response.status_code == 409
    h1 = ChairFactory(clinic=course.patient.clinic, name="H1 chair", coils=["H1"])
    response = desk.post(f"/api/v1/courses/{course.pk}/schedule/", {}, format="json")
    assert response.status_code == 201, response.content
    assert {entry["chair"] for entry in response.json()["sessions"]} == {h1.pk}


def test_api_single_booking_and_move_onto_a_figure_8_chair_are_refused(
    api_as: Callable[..., APIClient], make_course: Any, chairs: list[Any], h1_chair: Any
) -> None:
    course = make_course(protocol="deep-tms-h1")
    desk = api_as(Role.FRONT_DESK)
    refused = desk.post(
        "/api/v1/sessions/",
        {"course": course.pk, "starts_at": MONDAY_1000, "chair": chairs[0].pk},
        format="json",
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "chair_incompatible"
    assert "H1" in refused.json()["detail"]

    # Without a chair named, the H1 chair is chosen although figure-8 chairs are free.
    booked = desk.post(
        "/api/v1/sessions/", {"course": course.pk, "starts_at": MONDAY_1000}, format="json"
    )
    assert booked.status_code == 201, booked.content
    assert booked.json()["chair"] == h1_chair.pk

    moved = desk.patch(
        f"/api/v1/sessions/{booked.json()['id']}/", {"chair": chairs[1].pk}, format="json"
    )
    assert moved.status_code == 409
    assert moved.json()["code"] == "chair_incompatible"
    assert Session.objects.get(pk=booked.json()["id"]).chair_id == h1_chair.pk


def test_api_course_with_an_incompatible_preferred_chair_is_refused(
    api_as: Callable[..., APIClient], make_course: Any, chairs: list[Any], psychiatrist: Any
) -> None:
    template = make_course()
    response = api_as(Role.PSYCHIATRIST).post(
        "/api/v1/courses/",
        {
            "patient": template.patient_id,
            "protocol": "deep-tms-h1",
            "indication": "mdd",
            "start_date": "2026-12-07",
            "preferred_time": "09:30",
            "preferred_chair": chairs[0].pk,
            "psychiatrist": psychiatrist.pk,
        },
        format="json",
    )
    assert response.status_code == 400
    assert "preferred_chair" in response.json()["errors"]


def test_api_availability_filters_by_coil(
    api_as: Callable[..., APIClient], clinic: Any, chairs: list[Any], h1_chair: Any
) -> None:
    client = api_as(Role.FRONT_DESK)
    url = f"/api/v1/availability/?clinic={clinic.pk}&date=2026-11-30&minutes=25"
    every = client.get(url).json()["chairs"]
    assert {entry["chair"] for entry in every} == {c.pk for c in [*chairs, h1_chair]}
    assert next(e for e in every if e["chair"] == h1_chair.pk)["coils"] == ["H1", "H7"]
    h1 = client.get(f"{url}&coil=H1").json()["chairs"]
    assert [entry["chair"] for entry in h1] == [h1_chair.pk]
    figure_8 = client.get(f"{url}&coil=figure-8").json()["chairs"]
    assert h1_chair.pk not in {entry["chair"] for entry in figure_8}
    bad = client.get(f"{url}&coil=H9")
    assert bad.status_code == 400 and "coil" in bad.json()["errors"]


def test_api_chairs_carry_their_coils(api_as: Callable[..., APIClient], clinic: Any) -> None:
    admin = api_as(Role.CLINIC_ADMIN)
    created = admin.post(
        "/api/v1/chairs/",
        {"clinic": clinic.pk, "name": "Deep 1", "device": "BrainsWay", "coils": ["H1", "H7"]},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["coils"] == ["H1", "H7"]
    plain = admin.post("/api/v1/chairs/", {"clinic": clinic.pk, "name": "Plain"}, format="json")
    assert plain.json()["coils"] == ["figure-8"]
    for coils in (["H9"], [], "H1"):
        bad = admin.post(
            "/api/v1/chairs/",
            {"clinic": clinic.pk, "name": f"Bad {coils}", "coils": coils},
            format="json",
        )
        assert bad.status_code == 400, coils
        assert "coils" in bad.json()["errors"]
    changed = admin.patch(
        f"/api/v1/chairs/{plain.json()['id']}/", {"coils": ["figure-8", "H1"]}, format="json"
    )
    assert changed.status_code == 200
    assert Chair.objects.get(pk=plain.json()["id"]).coils == ["figure-8", "H1"]


def test_a_chair_list_of_coils_is_validated_by_the_model(clinic: Any) -> None:
    chair = Chair(clinic=clinic, name="Twice", coils=["H1", "H1"])
    with pytest.raises(ValidationError):
        chair.full_clean()


# --- the pages -------------------------------------------------------------------------


def test_move_page_offers_only_chairs_with_the_protocols_coil(
    page_as: Callable[[str], Client], make_course: Any, chairs: list[Any], h1_chair: Any
) -> None:
    course = make_course(protocol="deep-tms-h1")
    course_schedule(course)
    session = Session.objects.filter(course=course).order_by("starts_at")[1]
    client = page_as(Role.FRONT_DESK)
    page = _text(client.get(f"/board/sessions/{session.pk}/move/?date=2026-12-01"))
    offered = {int(chair) for chair in re.findall(r'name="slot" value="(\d+)\|', page)}
    assert offered == {h1_chair.pk}

    target = dt.datetime(2026, 12, 1, 11, tzinfo=clinic_tz(course))
    forged = client.post(
        f"/board/sessions/{session.pk}/move/?date=2026-12-01",
        {"slot": f"{chairs[0].pk}|{target.isoformat()}"},
    )
    assert forged.status_code == 409
    assert "Chair 1 has no H1 (deep TMS, depression) coil" in _text(forged)
    session.refresh_from_db()
    assert session.chair_id == h1_chair.pk and session.status == SessionStatus.SCHEDULED


def clinic_tz(course: Any) -> Any:
    return course.patient.clinic.tz


def test_booking_page_free_time_shows_only_compatible_chairs(
    page_as: Callable[[str], Client],
    make_course: Any,
    chairs: list[Any],
    h1_chair: Any,
    psychiatrist: Any,
    clinic: Any,
) -> None:
    # The H1 chair is taken at 09:30 on the first day, the figure-8 chairs are free:
    # the page must not offer those as "free time" or alternatives for deep TMS.
    other = make_course(protocol="deep-tms-h1")
    course_schedule(other)
    patient = PatientFactory(clinic=clinic)
    cleared_screening(patient, by=psychiatrist)
    response = page_as(Role.FRONT_DESK).post(
        "/courses/book/",
        {
            "action": "preview",
            "patient": patient.pk,
            "protocol": catalog_protocol("deep-tms-h1").pk,
            "psychiatrist": psychiatrist.pk,
            "indication": "mdd",
            "start_date": "2026-11-30",
            "preferred_time": "09:30",
            "preferred_chair": "",
            "time_flex_minutes": "0",
        },
    )
    assert response.status_code == 409
    free = re.findall(r"<li>([^<:]+): \d\d:\d\d", _text(response))
    assert free and set(free) == {"Deep TMS"}
