"""The treatment record against the prescription (issue "Clinical safety", item 5): the
technician's form starts from the course's prescription, a record outside the tolerance
needs a reason (the API and the page refuse alike) and the psychiatrist sees the
deviation; check-in opens at most the clinic's ``check_in_early_minutes`` before a
session and a session is completed only once it has started."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from html import unescape
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.test import Client
from rest_framework.test import APIClient

from clinic.models import Role
from courses.prescription import deviations, prescription_for
from scheduling.models import Session, SessionStatus, TreatmentRecord
from tests.factories import MotorThresholdFactory, SessionFactory

pytestmark = pytest.mark.usefixtures("frozen_now")

NY = ZoneInfo("America/New_York")
TODAY = dt.date(2026, 11, 25)  # frozen_now: Wednesday, 12:00 in New York
HTMX = {"HX-Request": "true"}
# 10hz-standard prescribes 3,000 pulses at 120% of motor threshold.
RECORD = {"pulses_delivered": 3000, "intensity_pct_mt": 120, "coil_position": "F3 (Beam)"}


def _text(response: Any) -> str:
    return unescape(response.content.decode())


def _session(
    make_course: Callable[..., Any],
    chairs: list[Any],
    *,
    at: dt.time = dt.time(11, 30),
    status: str = SessionStatus.CHECKED_IN,
    course: Any = None,
) -> Session:
    start = dt.datetime.combine(TODAY, at, tzinfo=NY)
    return SessionFactory(
        course=course or make_course(prescribed_coil_position="F3 (Beam)"),
        chair=chairs[0],
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=40),
        status=status,
    )


def _form(session: Session, record: dict[str, Any]) -> dict[str, Any]:
    return {f"s{session.pk}-{name}": value for name, value in record.items()}


# --- the rule itself ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "found"),
    [
        ({}, []),
        ({"pulses_delivered": 2700}, []),  # exactly 10% below: within the tolerance
        ({"pulses_delivered": 3300}, []),
        ({"pulses_delivered": 2699}, ["pulses_low"]),
        ({"pulses_delivered": 3301}, ["pulses_high"]),
        ({"intensity_pct_mt": 121}, ["intensity_above"]),
        ({"intensity_pct_mt": 110}, ["intensity_below"]),
        ({"coil_position": "  f3   (beam) "}, []),  # case and spacing do not count
        ({"coil_position": "F4"}, ["coil_position"]),
        (
            {"pulses_delivered": 1500, "intensity_pct_mt": 130, "coil_position": "F4"},
            ["pulses_low", "intensity_above", "coil_position"],
        ),
    ],
)
def test_deviations_from_the_prescription(
    make_course: Callable[..., Any], record: dict[str, Any], found: list[str]
) -> None:
    prescription = prescription_for(make_course(prescribed_coil_position="F3 (Beam)"))
    assert deviations(prescription, **{**RECORD, **record}) == found


def test_the_course_prescription_overrides_the_protocol_and_a_target_is_no_position(
    make_course: Callable[..., Any],
) -> None:
    course = make_course(prescribed_pulses=2000, prescribed_intensity_pct_mt=110)
    prescription = prescription_for(course)
    assert (prescription.pulses, prescription.intensity_pct_mt) == (2000, 110)
    assert prescription.coil_position == "" and prescription.form_coil_position == "left DLPFC"
    # Without a prescribed position, any position the technician records is no deviation.
    assert (
        deviations(prescription, pulses_delivered=2000, intensity_pct_mt=110, coil_position="F3")
        == []
    )


# --- a deviation needs a reason: the API and the page refuse alike ------------------------


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"pulses_delivered": 2600}, "pulses more than 10% below the prescription"),
        ({"pulses_delivered": 3400}, "pulses more than 10% above the prescription"),
        ({"intensity_pct_mt": 125}, "intensity above the prescription"),
        ({"coil_position": "F4"}, "coil position other than prescribed"),
    ],
)
def test_a_deviation_without_a_reason_is_refused_by_the_api_and_the_page(
    make_course: Callable[..., Any],
    chairs: list[Any],
    api_as: Callable[[str], APIClient],
    page_as: Callable[[str], Client],
    change: dict[str, Any],
    words: str,
) -> None:
    session = _session(make_course, chairs)
    message = f"Give a reason for the deviation from the prescription: {words}."
    response = api_as(Role.TECHNICIAN).post(
        f"/api/v1/sessions/{session.pk}/complete/", {**RECORD, **change}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "code": "deviation_reason_required",
        "detail": message,
        "errors": {},
    }
    blank = api_as(Role.TECHNICIAN).post(
        f"/api/v1/sessions/{session.pk}/complete/",
        {**RECORD, **change, "deviation_reason": "   "},
        format="json",
    )
    assert blank.status_code == 400
    assert blank.json()["code"] == "deviation_reason_required"

    for headers in (HTMX, {}):
        response = page_as(Role.TECHNICIAN).post(
            f"/today/sessions/{session.pk}/complete/",
            _form(session, {**RECORD, **change}),
            headers=headers,
        )
        assert response.status_code == 400
        text = _text(response)
        assert message in text
        assert f'id="record-{session.pk}"' in text  # the form stays, with what was typed
    session.refresh_from_db()
    assert session.status == SessionStatus.CHECKED_IN
    assert not TreatmentRecord.objects.exists()


def test_a_deviation_with_a_reason_is_recorded_with_its_codes(
    make_course: Callable[..., Any],
    chairs: list[Any],
    api_as: Callable[[str], APIClient],
    page_as: Callable[[str], Client],
) -> None:
    by_api = _session(make_course, chairs)
    response = api_as(Role.TECHNICIAN).post(
        f"/api/v1/sessions/{by_api.pk}/complete/",
        {**RECORD, "pulses_delivered": 1800, "deviation_reason": "Stopped early: headache"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["record"]["deviations"] == ["pulses_low"]
    assert response.json()["record"]["deviation_reason"] == "Stopped early: headache"

    by_page = _session(make_course, chairs, at=dt.time(10, 30))
    form = _form(by_page, {**RECORD, "coil_position": "F4", "deviation_reason": "Moved: pain"})
    response = page_as(Role.TECHNICIAN).post(
        f"/today/sessions/{by_page.pk}/complete/", form, headers=HTMX
    )
    assert response.status_code == 200
    record = TreatmentRecord.objects.get(session=by_page)
    assert (record.deviations, record.deviation_reason) == (["coil_position"], "Moved: pain")


def test_a_lower_intensity_needs_no_reason_but_is_kept(
    make_course: Callable[..., Any], chairs: list[Any], api_as: Callable[[str], APIClient]
) -> None:
    session = _session(make_course, chairs)
    response = api_as(Role.TECHNICIAN).post(
        f"/api/v1/sessions/{session.pk}/complete/",
        {**RECORD, "intensity_pct_mt": 100},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert TreatmentRecord.objects.get(session=session).deviations == ["intensity_below"]


def test_the_database_refuses_a_deviation_without_a_reason(
    make_course: Callable[..., Any], chairs: list[Any], staff: Callable[..., Any]
) -> None:
    session = _session(make_course, chairs, status=SessionStatus.COMPLETED)
    technician = staff(Role.TECHNICIAN)
    with pytest.raises(IntegrityError), transaction.atomic():
        TreatmentRecord.objects.create(
            session=session, technician=technician, deviations=["pulses_low"], **RECORD
        )
    TreatmentRecord.objects.create(
        session=session, technician=technician, deviations=["intensity_below"], **RECORD
    )


# --- the technician's form starts from the prescription -----------------------------------


def test_the_record_form_starts_from_the_prescription_with_the_latest_threshold(
    make_course: Callable[..., Any],
    chairs: list[Any],
    psychiatrist: Any,
    page_as: Callable[[str], Client],
) -> None:
    course = make_course(
        prescribed_pulses=2400, prescribed_intensity_pct_mt=110, prescribed_coil_position="F3"
    )
    MotorThresholdFactory(
        course=course,
        measured_by=psychiatrist,
        measured_on=dt.date(2026, 11, 2),
        machine_output_pct=40,
    )
    MotorThresholdFactory(
        course=course,
        measured_by=psychiatrist,
        measured_on=dt.date(2026, 11, 20),
        machine_output_pct=50,
    )
    session = _session(make_course, chairs, course=course)
    text = _text(page_as(Role.TECHNICIAN).get("/today/"))
    assert f'name="s{session.pk}-pulses_delivered" value="2400"' in text
    assert f'name="s{session.pk}-intensity_pct_mt" value="110"' in text
    assert f'name="s{session.pk}-coil_position" value="F3"' in text
    assert "2400 pulses at 110% of motor threshold, coil at F3" in text
    assert "Latest motor threshold 50% of machine output (20 Nov 2026): set about 55%" in text
    assert f'for="id_s{session.pk}-deviation_reason"' in text


def test_the_psychiatrist_prescribes_through_the_course_api(
    make_course: Callable[..., Any], api_as: Callable[[str], APIClient]
) -> None:
    course = make_course()
    url = f"/api/v1/courses/{course.pk}/"
    change = {"prescribed_pulses": 2400, "prescribed_coil_position": "F3 (Beam)"}
    assert api_as(Role.FRONT_DESK).patch(url, change, format="json").status_code == 403
    response = api_as(Role.PSYCHIATRIST).patch(url, change, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["prescribed_pulses"] == 2400
    assert response.json()["prescribed_intensity_pct_mt"] is None  # the protocol's
    bad = api_as(Role.PSYCHIATRIST).patch(url, {"prescribed_intensity_pct_mt": 250}, format="json")
    assert bad.status_code == 400 and "prescribed_intensity_pct_mt" in bad.json()["errors"]


# --- check-in opens an hour before; completion waits for the start ------------------------


def test_check_in_more_than_an_hour_early_is_refused_by_the_api_and_the_page(
    make_course: Callable[..., Any],
    chairs: list[Any],
    api_as: Callable[[str], APIClient],
    page_as: Callable[[str], Client],
    frozen_now: Any,
) -> None:
    session = _session(make_course, chairs, at=dt.time(13, 1), status=SessionStatus.SCHEDULED)
    message = "Check-in opens at 12:01 on Wed 25 Nov, 60 minutes before the session."
    response = api_as(Role.FRONT_DESK).post(f"/api/v1/sessions/{session.pk}/check-in/")
    assert response.status_code == 409
    assert response.json() == {"code": "too_early", "detail": message, "conflicts": []}
    for headers in (HTMX, {}):
        response = page_as(Role.FRONT_DESK).post(
            f"/board/sessions/{session.pk}/check-in/", headers=headers, follow=True
        )
        assert message in _text(response)
    session.refresh_from_db()
    assert session.status == SessionStatus.SCHEDULED

    frozen_now.move_to(dt.datetime(2026, 11, 25, 17, 1, tzinfo=dt.UTC))  # 12:01 New York
    response = api_as(Role.FRONT_DESK).post(f"/api/v1/sessions/{session.pk}/check-in/")
    assert response.status_code == 200, response.content


def test_the_check_in_window_is_the_clinics_setting(
    clinic: Any,
    make_course: Callable[..., Any],
    chairs: list[Any],
    api_as: Callable[[str], APIClient],
) -> None:
    session = _session(make_course, chairs, at=dt.time(13, 20), status=SessionStatus.SCHEDULED)
    url = f"/api/v1/sessions/{session.pk}/check-in/"
    assert api_as(Role.FRONT_DESK).post(url).status_code == 409
    setting = api_as(Role.CLINIC_ADMIN).patch(
        f"/api/v1/clinics/{clinic.pk}/", {"check_in_early_minutes": 90}, format="json"
    )
    assert setting.status_code == 200, setting.content
    assert setting.json()["check_in_early_minutes"] == 90
    assert api_as(Role.FRONT_DESK).post(url).status_code == 200


def test_the_check_in_window_is_an_hour_of_elapsed_time_across_a_dst_change(
    make_course: Callable[..., Any], chairs: list[Any], api_as: Callable[[str], APIClient]
) -> None:
    # Sunday 14 March 2027: New York's clocks jump from 02:00 to 03:00. A session at
    # 03:30 EDT (07:30 UTC) opens for check-in at 06:30 UTC, 01:30 EST on the wall.
    start = dt.datetime(2027, 3, 14, 3, 30, tzinfo=NY)
    assert start.utcoffset() == dt.timedelta(hours=-4)
    session = SessionFactory(
        course=make_course(start=dt.date(2027, 3, 8)),
        chair=chairs[0],
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=40),
    )
    url = f"/api/v1/sessions/{session.pk}/check-in/"
    with time_machine.travel(dt.datetime(2027, 3, 14, 6, 29, tzinfo=dt.UTC), tick=False):
        early = api_as(Role.FRONT_DESK).post(url)
    assert early.status_code == 409
    assert "Check-in opens at 01:30 on Sun 14 Mar" in early.json()["detail"]
    with time_machine.travel(dt.datetime(2027, 3, 14, 6, 30, tzinfo=dt.UTC), tick=False):
        assert api_as(Role.FRONT_DESK).post(url).status_code == 200


def test_a_session_is_completed_only_once_it_has_started(
    make_course: Callable[..., Any],
    chairs: list[Any],
    api_as: Callable[[str], APIClient],
    page_as: Callable[[str], Client],
    frozen_now: Any,
) -> None:
    session = _session(make_course, chairs, at=dt.time(12, 30))  # checked in early
    message = "The session starts at 12:30; it can be completed once it has started."
    url = f"/api/v1/sessions/{session.pk}/complete/"
    response = api_as(Role.TECHNICIAN).post(url, RECORD, format="json")
    assert response.status_code == 409
    assert response.json() == {"code": "not_started", "detail": message, "conflicts": []}
    for headers in (HTMX, {}):
        response = page_as(Role.TECHNICIAN).post(
            f"/today/sessions/{session.pk}/complete/", _form(session, RECORD), headers=headers
        )
        assert response.status_code == 409
        assert message in _text(response)
    assert not TreatmentRecord.objects.exists()

    frozen_now.move_to(dt.datetime(2026, 11, 25, 17, 30, tzinfo=dt.UTC))  # 12:30 New York
    assert api_as(Role.TECHNICIAN).post(url, RECORD, format="json").status_code == 200


def test_the_board_says_when_check_in_opens_instead_of_offering_it(
    make_course: Callable[..., Any], chairs: list[Any], page_as: Callable[[str], Client]
) -> None:
    later = _session(make_course, chairs, at=dt.time(15), status=SessionStatus.SCHEDULED)
    due = _session(make_course, chairs, at=dt.time(12, 45), status=SessionStatus.SCHEDULED)
    text = _text(page_as(Role.FRONT_DESK).get("/board/?date=2026-11-25"))
    assert f"/board/sessions/{due.pk}/check-in/" in text
    assert f"/board/sessions/{later.pk}/check-in/" not in text
    assert "Check-in from 14:00" in text
