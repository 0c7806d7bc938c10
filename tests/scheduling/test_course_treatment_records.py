"""What the psychiatrist sees of delivered treatment (issue "Clinical safety", items 5
and 6): the course page lists every session with its treatment record beside the
prescription, deviations flagged with their reason, at a fixed number of queries; the
dashboard lists the last week's deviations of the psychiatrist's courses."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from html import unescape
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from clinic.models import Role
from courses.models import TreatmentCourse
from scheduling.models import Session, SessionStatus, TreatmentRecord
from tests.factories import MembershipFactory, SessionFactory

pytestmark = pytest.mark.usefixtures("frozen_now")

NY = ZoneInfo("America/New_York")
TODAY = dt.date(2026, 11, 25)  # frozen_now: Wednesday, 12:00 in New York


def _text(response: Any) -> str:
    assert response.status_code == 200
    return unescape(response.content.decode())


def _given(
    course: Any,
    chair: Any,
    day: dt.date,
    technician: Any,
    *,
    status: str = SessionStatus.COMPLETED,
    **record: Any,
) -> Session:
    """A session of ``day`` at 09:30 and, when completed, its record (the prescription's
    values unless changed)."""
    start = dt.datetime.combine(day, dt.time(9, 30), tzinfo=NY)
    session = SessionFactory(
        course=course,
        chair=chair,
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=40),
        status=status,
    )
    if status == SessionStatus.COMPLETED:
        TreatmentRecord.objects.create(
            session=session,
            technician=technician,
            **{
                "pulses_delivered": 3000,
                "intensity_pct_mt": 120,
                "coil_position": "F3 (Beam)",
                **record,
            },
        )
    return session


@pytest.fixture
def technician(staff: Callable[..., Any]) -> Any:
    return staff(Role.TECHNICIAN, first_name="Tess", last_name="Nguyen")


@pytest.fixture
def course(make_course: Callable[..., Any]) -> Any:
    return make_course(start=dt.date(2026, 11, 16), prescribed_coil_position="F3 (Beam)")


def test_the_course_page_shows_each_sessions_record_beside_the_prescription(
    client: Client,
    course: Any,
    chairs: list[Any],
    technician: Any,
    psychiatrist: Any,
) -> None:
    _given(course, chairs[0], dt.date(2026, 11, 16), technician, side_effects=["headache"])
    _given(
        course,
        chairs[0],
        dt.date(2026, 11, 17),
        technician,
        pulses_delivered=1500,
        deviations=["pulses_low"],
        deviation_reason="Stopped early: scalp pain",
    )
    _given(
        course,
        chairs[0],
        dt.date(2026, 11, 18),
        technician,
        intensity_pct_mt=105,
        deviations=["intensity_below"],
    )
    SessionFactory(
        course=course,
        chair=chairs[0],
        starts_at=dt.datetime(2026, 11, 26, 9, 30, tzinfo=NY),
        ends_at=dt.datetime(2026, 11, 26, 10, 10, tzinfo=NY),
    )
    client.force_login(psychiatrist)
    text = _text(client.get(f"/courses/{course.pk}/"))
    assert (
        "Prescribed for each session: 3000 pulses at 120% of motor threshold, coil at F3 (Beam)."
        in re.sub(r"<[^>]+>", "", text)
    )
    table = text[text.index('id="sessions-table"') :]
    rows = table.split("<tr")[2:]  # after the header
    assert len(rows) == 4
    assert "Mon 16 Nov 2026" in rows[0] and "<td>3000</td>" in rows[0]
    assert "<td>120%</td>" in rows[0] and "<td>F3 (Beam)</td>" in rows[0]
    assert "Tess Nguyen" in rows[0] and "Headache" in rows[0]
    assert "Within the prescription" in rows[0]
    assert "<td>1500</td>" in rows[1] and "deviated" in rows[1]
    assert (
        "Pulses more than 10% below the prescription</strong>: Stopped early: scalp pain"
        in (rows[1])
    )
    assert "Intensity below the prescription" in rows[2] and "<td>105%</td>" in rows[2]
    assert "Upcoming" in rows[3] and "Tess Nguyen" not in rows[3]


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.CLINIC_ADMIN])
def test_who_may_not_read_treatment_records_sees_the_sessions_without_them(
    role: str,
    page_as: Callable[[str], Client],
    course: Any,
    chairs: list[Any],
    technician: Any,
) -> None:
    _given(
        course,
        chairs[0],
        dt.date(2026, 11, 17),
        technician,
        pulses_delivered=1500,
        deviations=["pulses_low"],
        deviation_reason="Stopped early: scalp pain",
    )
    text = _text(page_as(role).get(f"/courses/{course.pk}/"))
    assert "Tue 17 Nov 2026" in text and "Done" in text
    assert "1500" not in text and "scalp pain" not in text and "Tess Nguyen" not in text


def test_the_course_page_query_count_is_fixed_with_treatment_records(
    client: Client,
    make_course: Callable[..., Any],
    chairs: list[Any],
    staff: Callable[..., Any],
    psychiatrist: Any,
    django_assert_num_queries: Any,
) -> None:
    few = make_course(start=dt.date(2026, 11, 2))
    _given(few, chairs[0], dt.date(2026, 11, 2), staff(Role.TECHNICIAN))
    many = make_course(start=dt.date(2026, 11, 2))
    for offset in range(10):
        day = dt.date(2026, 11, 2) + dt.timedelta(days=offset)
        _given(
            many,
            chairs[1],
            day,
            staff(Role.TECHNICIAN),  # a different technician each time
            pulses_delivered=2000,
            deviations=["pulses_low"],
            deviation_reason="Tolerability",
        )
    client.force_login(psychiatrist)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(f"/courses/{few.pk}/").status_code == 200
    with django_assert_num_queries(len(captured)):
        assert "Tolerability" in _text(client.get(f"/courses/{many.pk}/"))


def test_the_dashboard_lists_the_last_weeks_deviations_of_the_psychiatrists_courses(
    client: Client,
    make_course: Callable[..., Any],
    chairs: list[Any],
    clinic: Any,
    technician: Any,
    psychiatrist: Any,
) -> None:
    mine = make_course(start=dt.date(2026, 11, 2))
    _given(
        mine,
        chairs[0],
        dt.date(2026, 11, 24),
        technician,
        intensity_pct_mt=130,
        deviations=["intensity_above"],
        deviation_reason="Threshold re-measured, psychiatrist phoned",
    )
    _given(mine, chairs[0], dt.date(2026, 11, 23), technician)  # as prescribed
    _given(  # more than a week ago
        mine,
        chairs[0],
        dt.date(2026, 11, 16),
        technician,
        pulses_delivered=1000,
        deviations=["pulses_low"],
        deviation_reason="Old news",
    )
    colleague = MembershipFactory(clinic=clinic, role=Role.PSYCHIATRIST).user
    theirs = make_course(start=dt.date(2026, 11, 2))
    TreatmentCourse.objects.filter(pk=theirs.pk).update(psychiatrist=colleague)
    _given(
        theirs,
        chairs[1],
        dt.date(2026, 11, 24),
        technician,
        pulses_delivered=1000,
        deviations=["pulses_low"],
        deviation_reason="Someone else's patient",
    )
    client.force_login(psychiatrist)
    text = _text(client.get("/courses/mine/"))
    section = text[text.index('id="deviations"') : text.index('aria-labelledby="alerts-heading"')]
    assert "Deviations from the prescription, last 7 days (1)" in section
    assert f"{mine.patient.first_name} {mine.patient.last_name}" in section
    assert "Intensity above the prescription" in section
    assert "Reason: Threshold re-measured, psychiatrist phoned" in section
    assert "Old news" not in section and "Someone else's patient" not in section


def test_the_clinic_admin_dashboard_shows_no_treatment_detail(
    page_as: Callable[[str], Client], course: Any, chairs: list[Any], technician: Any
) -> None:
    _given(
        course,
        chairs[0],
        dt.date(2026, 11, 24),
        technician,
        pulses_delivered=1000,
        deviations=["pulses_low"],
        deviation_reason="Stopped early",
    )
    text = _text(page_as(Role.CLINIC_ADMIN).get("/courses/mine/"))
    assert 'id="deviations"' not in text and "Stopped early" not in text


def test_the_dashboard_query_count_is_fixed_with_deviations(
    client: Client,
    make_course: Callable[..., Any],
    chairs: list[Any],
    staff: Callable[..., Any],
    psychiatrist: Any,
    django_assert_num_queries: Any,
) -> None:
    first = make_course(start=dt.date(2026, 11, 2))
    _given(
        first,
        chairs[0],
        dt.date(2026, 11, 24),
        staff(Role.TECHNICIAN),
        pulses_delivered=1000,
        deviations=["pulses_low"],
        deviation_reason="Stopped early",
    )
    client.force_login(psychiatrist)
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/courses/mine/").status_code == 200
    for index in range(1, 4):
        course = make_course(start=dt.date(2026, 11, 2))
        for day in (dt.date(2026, 11, 20), dt.date(2026, 11, 23)):
            _given(
                course,
                chairs[index],
                day,
                staff(Role.TECHNICIAN),
                coil_position="F4",
                deviations=["coil_position"],
                deviation_reason="Moved for comfort",
            )
    with django_assert_num_queries(len(captured)):
        assert "Moved for comfort" in _text(client.get("/courses/mine/"))


# --- the psychiatrist prescribes on the course page -------------------------------------


@pytest.mark.parametrize(
    ("actor", "status"),
    [
        ("anonymous", 302),  # to the login page
        ("superuser", 302),
        ("outsider", 404),  # a psychiatrist of another clinic: not theirs to find
        (Role.FRONT_DESK, 403),
        (Role.TECHNICIAN, 403),
        (Role.CLINIC_ADMIN, 403),
        (Role.PSYCHIATRIST, 302),
    ],
)
def test_who_may_change_the_prescription_on_the_course_page(
    actor: str,
    status: int,
    client: Client,
    course: Any,
    staff: Callable[..., Any],
    superuser: Any,
    other_clinic: Any,
) -> None:
    if actor == "superuser":
        client.force_login(superuser)
    elif actor == "outsider":
        client.force_login(staff(Role.PSYCHIATRIST, in_clinic=other_clinic))
    elif actor != "anonymous":
        client.force_login(staff(actor))
    response = client.post(
        f"/courses/{course.pk}/prescription/",
        {"prescribed_pulses": "2400", "prescribed_coil_position": " F3 (Beam method) "},
    )
    assert response.status_code == status
    if actor == "anonymous":
        assert "/accounts/login/" in response["Location"]
    course.refresh_from_db()
    changed = actor in ("superuser", Role.PSYCHIATRIST)
    assert course.prescribed_pulses == (2400 if changed else None)
    if changed:
        assert response["Location"] == f"/courses/{course.pk}/#prescription"
        assert course.prescribed_coil_position == "F3 (Beam method)"
        assert course.prescribed_intensity_pct_mt is None  # empty: the protocol's


def test_the_prescription_form_shows_its_errors_and_the_technician_form_follows_it(
    page_as: Callable[[str], Client], course: Any, chairs: list[Any], technician: Any
) -> None:
    client = page_as(Role.PSYCHIATRIST)
    text = _text(client.get(f"/courses/{course.pk}/"))
    assert "Change the prescription" in text and 'value="F3 (Beam)"' in text
    response = client.post(
        f"/courses/{course.pk}/prescription/", {"prescribed_intensity_pct_mt": "250"}
    )
    assert response.status_code == 400
    assert "less than or equal to 200" in unescape(response.content.decode())
    client.post(
        f"/courses/{course.pk}/prescription/",
        {"prescribed_intensity_pct_mt": "110", "prescribed_coil_position": "F3 (Beam)"},
    )
    session = _given(course, chairs[0], TODAY, technician, status=SessionStatus.CHECKED_IN)
    client.force_login(technician)
    text = _text(client.get("/today/"))
    assert f'name="s{session.pk}-intensity_pct_mt" value="110"' in text
