"""The outcomes report: response and remission by protocol and indication, chair
utilisation and missed-session rates per week, its SVG charts and its CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import xml.etree.ElementTree as ET
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from clinic.models import OpeningHours, Role
from clinic.web import SESSION_KEY
from courses.models import CourseStatus
from courses.report_charts import Series, bar_chart
from scheduling import report_csv, reports
from tests.factories import (
    AssessmentFactory,
    ChairBlockFactory,
    ChairFactory,
    ClinicFactory,
    ClosureFactory,
    CourseFactory,
    PatientFactory,
    ProtocolFactory,
    SessionFactory,
    catalog_protocol,
)

NEW_YORK = ZoneInfo("America/New_York")
# Wednesday 25 November 2026, 12:00 in New York: the default range is 26 Nov 2025 to
# 25 Nov 2026.
NOW = dt.datetime(2026, 11, 25, 17, 0, tzinfo=dt.UTC)
PAGE = "/reports/outcomes/"
CSV_URL = "/reports/outcomes.csv"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(autouse=True)
def frozen_now() -> Any:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=NEW_YORK)


def completed_course(
    clinic: Any,
    *,
    protocol: str = "10hz-standard",
    indication: str = "mdd",
    baseline: int | None = 20,
    later: int | None = 8,
    completed_on: dt.date = dt.date(2026, 9, 30),
) -> Any:
    """A completed course: baseline two days before its start, later score on its last day."""
    start = completed_on - dt.timedelta(weeks=8)
    course = CourseFactory(
        patient=PatientFactory(clinic=clinic, first_name="Zebulon", last_name="Quixotic"),
        protocol=catalog_protocol(protocol),
        indication=indication,
        start_date=start,
        status=CourseStatus.COMPLETED,
        completed_on=completed_on,
    )
    if baseline is not None:
        AssessmentFactory(
            course=course, score=baseline, administered_on=start - dt.timedelta(days=2)
        )
    if later is not None:
        AssessmentFactory(course=course, score=later, administered_on=completed_on)
    return course


def outcome_data(clinic: Any, other_clinic: Any) -> None:
    """Seven completed courses in range; three more that must not count."""
    completed_course(clinic, baseline=20, later=8)  # responder
    completed_course(clinic, baseline=20, later=4)  # responder, remitter
    completed_course(clinic, baseline=20, later=15)  # neither
    completed_course(clinic, baseline=None, later=6)  # not evaluable: no baseline
    completed_course(clinic, protocol="itbs", indication="mdd_anxiety", baseline=18, later=9)
    completed_course(clinic, protocol="itbs", indication="mdd_anxiety", baseline=18, later=12)
    completed_course(clinic, protocol="itbs", indication="mdd", baseline=10, later=6)
    completed_course(clinic, completed_on=dt.date(2025, 11, 25), later=2)  # before the range
    completed_course(other_clinic, later=2)  # another clinic's
    CourseFactory(patient=PatientFactory(clinic=clinic), status=CourseStatus.ACTIVE)


# Hand-computed from outcome_data: (completed, evaluable, responders, remitters).
EXPECTED_BY_PROTOCOL = {"10hz-standard": (4, 3, 2, 1), "itbs": (3, 3, 1, 0)}
EXPECTED_BY_INDICATION = {"mdd": (5, 4, 2, 1), "mdd_anxiety": (2, 2, 1, 0)}


def counts(group: reports.OutcomeGroup) -> tuple[int, int, int, int]:
    return (group.completed, group.evaluable, group.responders, group.remitters)


# --- permissions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.FRONT_DESK, 403),
        (Role.TECHNICIAN, 403),
        (Role.PSYCHIATRIST, 200),
        (Role.CLINIC_ADMIN, 200),
    ],
)
@pytest.mark.parametrize("url", [PAGE, CSV_URL])
def test_report_roles(role: str, status: int, url: str, staff: Any, client: Any) -> None:
    client.force_login(staff(role))
    assert client.get(url).status_code == status


@pytest.mark.parametrize("url", [PAGE, CSV_URL])
def test_report_needs_login(url: str, client: Any, db: None) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_report_is_get_only(staff: Any, client: Any) -> None:
    client.force_login(staff(Role.CLINIC_ADMIN))
    assert client.post(PAGE).status_code == 405


def test_navigation_links_the_report_for_its_readers(staff: Any, client: Any) -> None:
    client.force_login(staff(Role.PSYCHIATRIST))
    page = client.get(PAGE).content.decode()
    assert f'<a href="{PAGE}" aria-current="page">Outcomes</a>' in page


def test_each_clinic_sees_only_its_own_figures(
    clinic: Any, other_clinic: Any, staff: Any, client: Any
) -> None:
    outcome_data(clinic, other_clinic)
    chair = ChairFactory(clinic=other_clinic)
    theirs = CourseFactory(
        patient=PatientFactory(clinic=other_clinic), protocol=catalog_protocol("itbs")
    )
    SessionFactory(
        course=theirs, chair=chair, starts_at=local(dt.date(2026, 11, 2), 9), status="missed"
    )

    client.force_login(staff(Role.PSYCHIATRIST, in_clinic=other_clinic))
    rows = list(csv.DictReader(io.StringIO(client.get(CSV_URL).content.decode())))
    total = next(row for row in rows if row["section"] == "total")
    assert (total["courses_completed"], total["responders"], total["remitters"]) == ("1", "1", "1")
    assert (total["sessions_missed"], total["sessions_completed"]) == ("1", "0")
    assert [row["protocol"] for row in rows if row["section"] == "outcomes_by_protocol"] == [
        "10hz-standard"
    ]

    client.force_login(staff(Role.CLINIC_ADMIN))
    rows = list(csv.DictReader(io.StringIO(client.get(CSV_URL).content.decode())))
    total = next(row for row in rows if row["section"] == "total")
    assert (total["courses_completed"], total["responders"]) == ("7", "3")
    assert total["sessions_missed"] == "0"


def test_superuser_sees_the_clinic_they_picked(
    clinic: Any, other_clinic: Any, superuser: Any, client: Any
) -> None:
    completed_course(other_clinic, later=2)
    client.force_login(superuser)
    first = client.get(PAGE).content.decode()
    assert "Outcomes report · Brooklyn" in first
    assert "No courses were completed in this range." in first

    session = client.session
    session[SESSION_KEY] = other_clinic.pk
    session.save()
    picked = client.get(PAGE).content.decode()
    assert "Outcomes report · Queens" in picked
    assert (
        '<th scope="row">10hz-standard</th><td>1</td><td>1</td><td>1</td><td>100.0%</td>'
        "<td>1</td><td>100.0%</td>"
    ) in picked


# --- response and remission ------------------------------------------------------------


def test_rates_by_protocol_and_indication(clinic: Any, other_clinic: Any) -> None:
    outcome_data(clinic, other_clinic)
    report = reports.outcomes_report(clinic, dt.date(2025, 11, 26), dt.date(2026, 11, 25))

    assert {g.key: counts(g) for g in report.outcomes_by_protocol} == EXPECTED_BY_PROTOCOL
    assert {g.key: counts(g) for g in report.outcomes_by_indication} == EXPECTED_BY_INDICATION
    assert counts(report.outcomes_total) == (7, 6, 3, 1)
    standard, itbs = report.outcomes_by_protocol
    assert (str(standard.response), str(standard.remission)) == ("66.7%", "33.3%")
    assert (str(itbs.response), str(itbs.remission)) == ("33.3%", "0.0%")
    mdd, anxious = report.outcomes_by_indication
    assert (mdd.label, str(mdd.response), str(mdd.remission)) == (
        "Major depressive disorder",
        "50.0%",
        "25.0%",
    )
    assert (str(anxious.response), str(anxious.remission)) == ("50.0%", "0.0%")
    assert str(report.outcomes_total.remission) == "16.7%"


def test_page_shows_the_rates(clinic: Any, other_clinic: Any, staff: Any, client: Any) -> None:
    outcome_data(clinic, other_clinic)
    client.force_login(staff(Role.PSYCHIATRIST))
    page = client.get(PAGE).content.decode()
    assert (
        '<th scope="row">10hz-standard</th><td>4</td><td>3</td><td>2</td><td>66.7%</td>'
        "<td>1</td><td>33.3%</td>"
    ) in page
    assert (
        '<th scope="row">MDD with anxious distress</th><td>2</td><td>2</td><td>1</td>'
        "<td>50.0%</td><td>0</td><td>0.0%</td>"
    ) in page
    assert "26 Nov 2025 to 25 Nov 2026 at a glance" in page
    assert 'name="date_from" value="2025-11-26"' in page
    assert 'name="date_to" value="2026-11-25"' in page


def test_ratio_rounds_halves_up_and_has_no_rate_without_a_base() -> None:
    assert str(reports.Ratio(1, 8)) == "12.5%"
    assert str(reports.Ratio(1, 16)) == "6.3%"  # 6.25
    assert str(reports.Ratio(2, 3)) == "66.7%"
    assert reports.Ratio(0, 0).value is None
    assert str(reports.Ratio(0, 0)) == "n/a"


# --- utilisation and missed sessions ---------------------------------------------------

MON_2, MON_9 = dt.date(2026, 11, 2), dt.date(2026, 11, 9)


def day(monday: dt.date, offset: int) -> dt.date:
    return monday + dt.timedelta(days=offset)


@pytest.fixture
def attendance(clinic: Any, other_clinic: Any) -> dict[str, Any]:
    """Two weeks (ISO 2026-W45 and W46) at a clinic open 07:30-19:00 on weekdays
    (690 minutes) with two active chairs and a retired one.

    W45: 2 x 5 x 690 = 6900 open chair-minutes; booked 40 + 60 + 40 = 140 on active
    chairs; completed 3 (one on the retired chair), missed 1.
    W46: closed Wednesday; chair 1 blocked 12:00-15:00 Thursday (two overlapping
    blocks), chair 2 blocked 18:00-21:00 Friday (an hour of it in opening hours):
    2 x 4 x 690 - 180 - 60 = 5280 open; booked 80; completed 2, missed 2.
    """
    one = ChairFactory(clinic=clinic, name="Chair 1")
    two = ChairFactory(clinic=clinic, name="Chair 2")
    retired = ChairFactory(clinic=clinic, name="Chair 0", active=False)
    standard = CourseFactory(patient=PatientFactory(clinic=clinic), status="active")
    itbs = CourseFactory(
        patient=PatientFactory(clinic=clinic), protocol=catalog_protocol("itbs"), status="active"
    )

    def session(course: Any, chair: Any, starts: dt.datetime, minutes: int, status: str) -> None:
        SessionFactory(
            course=course,
            chair=chair,
            starts_at=starts,
            ends_at=starts + dt.timedelta(minutes=minutes),
            status=status,
        )

    session(standard, one, local(day(MON_2, 0), 9, 30), 40, "completed")
    session(standard, retired, local(day(MON_2, 0), 11), 40, "completed")
    session(itbs, one, local(day(MON_2, 1), 9, 30), 40, "missed")
    session(standard, two, local(day(MON_2, 2), 9, 30), 60, "completed")
    session(standard, one, local(day(MON_2, 3), 9, 30), 40, "scheduled")
    session(standard, two, local(day(MON_2, 4), 9, 30), 40, "cancelled")

    ClosureFactory(clinic=clinic, date=day(MON_9, 2))
    ChairBlockFactory(
        chair=one, starts_at=local(day(MON_9, 3), 12), ends_at=local(day(MON_9, 3), 14)
    )
    ChairBlockFactory(
        chair=one, starts_at=local(day(MON_9, 3), 13), ends_at=local(day(MON_9, 3), 15)
    )
    ChairBlockFactory(
        chair=two, starts_at=local(day(MON_9, 4), 18), ends_at=local(day(MON_9, 4), 21)
    )
    ChairBlockFactory(
        chair=retired, starts_at=local(day(MON_9, 0), 8), ends_at=local(day(MON_9, 0), 9)
    )
    session(standard, two, local(day(MON_9, 0), 9, 30), 40, "completed")
    session(standard, one, local(day(MON_9, 0), 11), 40, "completed")
    session(standard, two, local(day(MON_9, 1), 9, 30), 40, "missed")
    session(standard, one, local(day(MON_9, 4), 9, 30), 40, "missed")

    # Outside the range, and another clinic's: neither counts.
    session(standard, one, local(dt.date(2026, 11, 16), 9, 30), 40, "completed")
    session(standard, one, local(dt.date(2026, 8, 28), 9, 30), 40, "missed")
    elsewhere = CourseFactory(patient=PatientFactory(clinic=other_clinic), status="active")
    session(elsewhere, ChairFactory(clinic=other_clinic), local(MON_2, 9), 40, "missed")
    return {"one": one, "two": two}


def test_utilisation_and_missed_rate_per_week(clinic: Any, attendance: Any) -> None:
    report = reports.outcomes_report(clinic, MON_2, day(MON_9, 6))
    figures = [
        (w.iso_week, w.open_minutes, w.booked_minutes, w.completed, w.missed) for w in report.weeks
    ]
    assert figures == [("2026-W45", 6900, 140, 3, 1), ("2026-W46", 5280, 80, 2, 2)]
    first, second = report.weeks
    assert (str(first.utilisation), str(first.missed_rate)) == ("2.0%", "25.0%")
    assert (str(second.utilisation), str(second.missed_rate)) == ("1.5%", "50.0%")
    assert (report.booked_minutes, report.open_minutes) == (220, 12180)
    assert (str(report.utilisation), str(report.missed_rate)) == ("1.8%", "37.5%")
    assert [
        (row.protocol, row.completed, row.missed, str(row.missed_rate))
        for row in report.attendance_by_protocol
    ] == [("10hz-standard", 5, 2, "28.6%"), ("itbs", 0, 1, "100.0%")]


def test_partial_weeks_count_only_their_days_in_range(clinic: Any, attendance: Any) -> None:
    # Wednesday of W45 to Tuesday of W46.
    report = reports.outcomes_report(clinic, day(MON_2, 2), day(MON_9, 1))
    figures = [
        (w.iso_week, w.first_day, w.last_day, w.partial, w.open_minutes, w.booked_minutes)
        for w in report.weeks
    ]
    assert figures == [
        ("2026-W45", day(MON_2, 2), day(MON_2, 6), True, 3 * 690 * 2, 100),
        ("2026-W46", MON_9, day(MON_9, 1), True, 2 * 690 * 2, 80),
    ]


def test_open_time_across_dst_changes_is_real_elapsed_time(db: None) -> None:
    """Open Sundays 00:00-23:30: 23.5 hours, but 24.5 on the day clocks fall back and
    22.5 on the day they spring forward. Sessions are put in the clinic-local week."""
    clinic = ClinicFactory(weekday_hours=False, timezone="America/New_York")
    OpeningHours.objects.create(clinic=clinic, weekday=6, opens=dt.time(0), closes=dt.time(23, 30))
    chair = ChairFactory(clinic=clinic)
    course = CourseFactory(patient=PatientFactory(clinic=clinic), status="active")
    fall_back = dt.date(2026, 11, 1)
    # 01:30 EDT to 01:30 EST: one real hour.
    SessionFactory(
        course=course,
        chair=chair,
        starts_at=dt.datetime(2026, 11, 1, 5, 30, tzinfo=dt.UTC),
        ends_at=dt.datetime(2026, 11, 1, 6, 30, tzinfo=dt.UTC),
        status="completed",
    )
    # 22:00 EST on Sunday is already Monday in UTC; it stays in the Sunday's week.
    SessionFactory(
        course=course,
        chair=chair,
        starts_at=local(fall_back, 22),
        ends_at=local(fall_back, 23),
        status="missed",
    )
    SessionFactory(
        course=course,
        chair=chair,
        starts_at=local(fall_back, 23),
        ends_at=local(fall_back, 23, 30),
        status="scheduled",
    )

    report = reports.outcomes_report(clinic, dt.date(2026, 10, 19), dt.date(2026, 11, 8))
    assert [(w.iso_week, w.open_minutes, w.booked_minutes, w.missed) for w in report.weeks] == [
        ("2026-W43", 1410, 0, 0),
        ("2026-W44", 1470, 90, 1),
        ("2026-W45", 1410, 0, 0),
    ]
    assert str(report.weeks[1].utilisation) == "6.1%"

    spring = reports.outcomes_report(clinic, dt.date(2027, 3, 8), dt.date(2027, 3, 14))
    assert [(w.iso_week, w.open_minutes) for w in spring.weeks] == [("2027-W10", 1350)]


# --- CSV --------------------------------------------------------------------------------


def test_csv_parses_back_and_matches_the_page(
    clinic: Any, other_clinic: Any, attendance: Any, staff: Any, client: Any
) -> None:
    outcome_data(clinic, other_clinic)
    client.force_login(staff(Role.CLINIC_ADMIN))
    query = {"date_from": "2026-09-01", "date_to": "2026-11-15"}
    page = client.get(PAGE, query).content.decode()
    response = client.get(CSV_URL, query)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="cadence-outcomes-brooklyn-20260901-20261115.csv"'
    )
    text = response.content.decode()
    assert "Zebulon" not in text and "Quixotic" not in text and "MRN" not in text
    assert "Zebulon" not in page and "Quixotic" not in page
    reader = csv.reader(io.StringIO(text))
    assert next(reader) == list(report_csv.CSV_HEADER)
    rows = list(csv.DictReader(io.StringIO(text)))

    def pct(value: str) -> str:
        return f"{value}%" if value else "n/a"

    by_protocol = [row for row in rows if row["section"] == "outcomes_by_protocol"]
    assert {
        row["protocol"]: tuple(
            int(row[k])
            for k in ("courses_completed", "courses_evaluable", "responders", "remitters")
        )
        for row in by_protocol
    } == EXPECTED_BY_PROTOCOL
    for row in by_protocol:
        assert (
            f'<th scope="row">{row["protocol"]}</th><td>{row["courses_completed"]}</td>'
            f"<td>{row['courses_evaluable']}</td><td>{row['responders']}</td>"
            f"<td>{pct(row['response_rate_pct'])}</td><td>{row['remitters']}</td>"
            f"<td>{pct(row['remission_rate_pct'])}</td>"
        ) in page
    indications = [row["indication"] for row in rows if row["section"] == "outcomes_by_indication"]
    assert indications == ["mdd", "mdd_anxiety"]

    weeks = [row for row in rows if row["section"] == "week"]
    assert len(weeks) == 11  # ISO weeks 36 to 46 of 2026
    assert weeks[0]["period_start"] == "2026-09-01" and weeks[0]["period_end"] == "2026-09-06"
    for row in weeks:
        assert (
            f'<th scope="row">{row["iso_week"]}</th>' in page
            and f"<td>{row['booked_minutes']}</td><td>{row['open_chair_minutes']}</td>"
            f"<td>{pct(row['utilisation_pct'])}</td></tr>"
            in page
        )
    w45 = next(row for row in weeks if row["iso_week"] == "2026-W45")
    assert (w45["booked_minutes"], w45["open_chair_minutes"], w45["utilisation_pct"]) == (
        "140",
        "6900",
        "2.0",
    )
    assert (w45["sessions_completed"], w45["sessions_missed"], w45["missed_rate_pct"]) == (
        "3",
        "1",
        "25.0",
    )
    assert (
        '<th scope="row">2026-W45</th><td>2 Nov \N{EN DASH} 8 Nov 2026</td>'
        "<td>3</td><td>1</td><td>25.0%</td>"
    ) in page

    missed = {
        row["protocol"]: row["missed_rate_pct"]
        for row in rows
        if row["section"] == "missed_by_protocol"
    }
    assert missed == {"10hz-standard": "28.6", "itbs": "100.0"}

    (total,) = [row for row in rows if row["section"] == "total"]
    assert total["response_rate_pct"] == "50.0" and total["remission_rate_pct"] == "16.7"
    # 53 open weekdays (Tuesday 1 September on, less the closure) x 690 x 2 chairs,
    # less 240 blocked: 72,900 open chair-minutes.
    assert (total["booked_minutes"], total["open_chair_minutes"]) == ("220", "72900")
    assert (total["utilisation_pct"], total["missed_rate_pct"]) == ("0.3", "37.5")
    assert '<th scope="row">Chair utilisation</th><td>0.3%</td>' in page
    assert '<th scope="row">Missed-session rate</th><td>37.5%</td>' in page


def test_csv_cells_never_start_a_formula(clinic: Any, staff: Any, client: Any) -> None:
    protocol = ProtocolFactory(clinic=clinic, code="-cmd")
    course = CourseFactory(
        patient=PatientFactory(clinic=clinic),
        protocol=protocol,
        status="completed",
        completed_on=dt.date(2026, 10, 1),
    )
    assert course.pk
    client.force_login(staff(Role.CLINIC_ADMIN))
    rows = list(csv.DictReader(io.StringIO(client.get(CSV_URL).content.decode())))
    assert [row["protocol"] for row in rows if row["section"] == "outcomes_by_protocol"] == [
        "'-cmd"
    ]


# --- query count ------------------------------------------------------------------------


def _lots_of_data(clinic: Any, other_clinic: Any) -> None:
    outcome_data(clinic, other_clinic)
    chairs = [ChairFactory(clinic=clinic, name=f"Chair {n}") for n in range(3)]
    for n in range(4):
        ClosureFactory(clinic=clinic, date=dt.date(2026, 7, 6) + dt.timedelta(days=n))
        ChairBlockFactory(
            chair=chairs[n % 3],
            starts_at=local(dt.date(2026, 6, 1 + n), 8),
            ends_at=local(dt.date(2026, 6, 1 + n), 9),
        )
    for hour, protocol in enumerate(("10hz-standard", "itbs", "10hz-dash"), 9):
        course = CourseFactory(
            patient=PatientFactory(clinic=clinic),
            protocol=catalog_protocol(protocol),
            status="active",
        )
        for n in range(60):
            starts = local(dt.date(2026, 3, 2) + dt.timedelta(days=n), hour)
            SessionFactory(
                course=course,
                chair=chairs[n % 3],
                starts_at=starts,
                ends_at=starts + dt.timedelta(minutes=40),
                status=("completed", "missed", "scheduled")[n % 3],
            )


# Session and user 2, the second factor's device (django-otp) 1, memberships and clinics 2;
# outcomes (courses, assessments) 2; sessions grouped by week and protocol 1; open time
# (hours, closures, chairs, blocks) 4; the idle-timeout session save 3 (savepoint, update,
# release); on the page, not the CSV, the navigation's count of patient messages still to
# handle 1.
REPORT_QUERIES = 15


@pytest.mark.parametrize("url", [PAGE, CSV_URL])
def test_query_count_is_fixed(
    url: str,
    clinic: Any,
    other_clinic: Any,
    staff: Any,
    client: Any,
    django_assert_num_queries: Any,
) -> None:
    client.force_login(staff(Role.CLINIC_ADMIN))
    completed_course(clinic)
    # The page counts the navigation's messages; the CSV writes its export event instead.
    queries = REPORT_QUERIES + 1
    with django_assert_num_queries(queries):
        assert client.get(url).status_code == 200
    _lots_of_data(clinic, other_clinic)
    with django_assert_num_queries(queries):
        assert client.get(url).status_code == 200


# --- date range ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"date_from": "yesterday"}, "Enter a valid date."),
        ({"date_from": "2026-02-30"}, "Enter a valid date."),
        ({"date_to": "25/11/2026"}, "Enter a valid date."),
        ({"date_from": "2026-11-25", "date_to": "2026-11-24"}, "must not be after"),
        ({"date_from": "2020-01-01", "date_to": "2026-11-25"}, "at most three years"),
        # Outside clinic.dates' range the shared date field answers; inside it (from
        # 1900), the report's own range does.
        ({"date_to": "9999-12-31"}, "Choose a date between"),
        ({"date_from": "0001-01-01", "date_to": "0001-01-02"}, "Choose a date between"),
        ({"date_to": "0001-01-01"}, "Choose a date between"),
        ({"date_from": "1950-01-01", "date_to": "1950-01-02"}, "Dates must fall between"),
    ],
)
@pytest.mark.parametrize("url", [PAGE, CSV_URL])
def test_bad_range_is_a_400_page(
    url: str, query: dict[str, str], message: str, staff: Any, client: Any
) -> None:
    client.force_login(staff(Role.PSYCHIATRIST))
    response = client.get(url, query)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert message in page
    assert "Download these figures" not in page


def test_a_missing_end_defaults_to_today_and_a_missing_start_to_a_year_before(
    staff: Any, client: Any
) -> None:
    client.force_login(staff(Role.PSYCHIATRIST))
    page = client.get(PAGE, {"date_from": "2026-10-01"}).content.decode()
    assert "1 Oct 2026 to 25 Nov 2026 at a glance" in page
    page = client.get(PAGE, {"date_to": "2024-02-29"}).content.decode()
    assert "1 Mar 2023 to 29 Feb 2024 at a glance" in page
    assert reports.default_range(dt.date(2026, 11, 25)) == (
        dt.date(2025, 11, 26),
        dt.date(2026, 11, 25),
    )


def test_today_is_clinic_local(staff: Any, client: Any, frozen_now: Any) -> None:
    # 03:00 UTC on 26 November is still 25 November in New York.
    frozen_now.move_to(dt.datetime(2026, 11, 26, 3, tzinfo=dt.UTC))
    client.force_login(staff(Role.PSYCHIATRIST))
    assert "26 Nov 2025 to 25 Nov 2026 at a glance" in client.get(PAGE).content.decode()


# --- charts -------------------------------------------------------------------------------


def test_page_has_three_labelled_charts(staff: Any, client: Any) -> None:
    client.force_login(staff(Role.CLINIC_ADMIN))
    page = client.get(PAGE, {"date_from": "2026-11-02", "date_to": "2026-11-15"}).content.decode()
    for chart_id in ("chart-outcomes", "chart-utilisation", "chart-missed"):
        assert (
            f'id="{chart_id}" role="img" aria-labelledby="{chart_id}-title {chart_id}-desc"' in page
        )
    assert "No completed courses in this range." in page


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own markup, not untrusted input


def test_bar_chart_draws_one_bar_per_value_with_title_and_desc() -> None:
    svg = parse(
        bar_chart(
            chart_id="c",
            title="Rates by protocol",
            desc="Response and remission.",
            categories=["itbs", "10hz"],
            series=[Series("Response", [0.5, 1.0]), Series("Remission", [0.25, None])],
        )
    )
    assert svg.get("role") == "img" and svg.get("aria-labelledby") == "c-title c-desc"
    assert svg.find(f"{SVG}title").text == "Rates by protocol"
    assert svg.find(f"{SVG}desc").text == "Response and remission."
    bars = svg.findall(f".//{SVG}rect[@class='bar']")
    assert [bar.find(f"{SVG}title").text for bar in bars] == [
        "itbs, Response: 50.0%",
        "itbs, Remission: 25.0%",
        "10hz, Response: 100.0%",
    ]
    heights = [float(bar.get("height")) for bar in bars]
    assert heights == [80, 40, 160]  # 160 px plot, axis 0-100%
    # The second series is told apart by a pattern, and both are named in the legend.
    assert bars[0].get("fill").startswith("#") and bars[1].get("fill") == "url(#c-p1)"
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert "Response" in texts and "Remission" in texts
    missing = svg.find(f".//{SVG}text[@class='no-value']/{SVG}title")
    assert missing is not None and missing.text == "10hz, Remission: no data"


def test_bar_chart_escapes_labels_and_grows_the_axis_past_its_maximum() -> None:
    svg = bar_chart(
        chart_id="u",
        title="A <b> title",
        desc="x & y",
        categories=["<script>"],
        series=[Series("Use", [1.2])],
    )
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    tree = parse(svg)
    assert tree.find(f"{SVG}title").text == "A <b> title"
    (bar,) = tree.findall(f".//{SVG}rect[@class='bar']")
    assert float(bar.get("height")) == 160
    assert "120.0%" in [t.text for t in tree.iter(f"{SVG}text")]


def test_bar_chart_thins_out_crowded_labels_and_says_when_empty() -> None:
    weeks = [f"W{n:02d}" for n in range(1, 54)]
    tree = parse(
        bar_chart(
            chart_id="w",
            title="Weekly",
            desc="d",
            categories=weeks,
            series=[Series("Missed", [n / 53 for n in range(53)])],
        )
    )
    assert len(tree.findall(f".//{SVG}rect[@class='bar']")) == 53
    labels = [t.text for t in tree.iter(f"{SVG}text") if t.text in weeks]
    assert labels[0] == "W01" and 10 < len(labels) < 53
    empty = parse(bar_chart(chart_id="e", title="t", desc="d", categories=[], series=[]))
    assert "No data in this range." in [t.text for t in empty.iter(f"{SVG}text")]


def test_bar_chart_rejects_series_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="2 values for 1 categories"):
        bar_chart(chart_id="x", title="t", desc="d", categories=["a"], series=[Series("s", [1, 2])])
