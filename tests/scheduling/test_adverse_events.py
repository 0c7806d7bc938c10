"""Adverse events (issue "Clinical safety and patient messaging", item 4): a seizure,
a faint or another adverse event recorded with a session alerts the psychiatrist at
once, holds the course until a psychiatrist records a decision, adds the risk reason
``adverse_event``, and shows on the course page and in the outcomes report."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from html import unescape
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic.models import Role
from courses.models import StaffAlert
from scheduling import reports, services
from scheduling.adverse_events import adverse_event_kind
from scheduling.models import AdverseEvent, Session, SessionStatus, TreatmentRecord
from scheduling.report_csv import CSV_HEADER, csv_rows
from tests.factories import (
    ChairFactory,
    CourseFactory,
    PatientFactory,
    SessionFactory,
    catalog_protocol,
    cleared_screening,
)
from tests.permissions import ACTORS, Action, make_actor, run_action

pytestmark = pytest.mark.usefixtures("frozen_now")

NY = ZoneInfo("America/New_York")
TODAY = dt.date(2026, 11, 25)  # frozen_now: Wednesday, 12:00 in New York
MONDAY_1000 = "2026-11-30T10:00:00-05:00"
TUESDAY_1000 = "2026-12-01T10:00:00-05:00"
WEDNESDAY_1000 = "2026-12-02T10:00:00-05:00"
HTMX = {"HX-Request": "true"}
RECORD = {"pulses_delivered": 3000, "intensity_pct_mt": 120, "coil_position": "F3"}


@pytest.fixture
def desk(api_as: Any) -> Any:
    return api_as(Role.FRONT_DESK)


@pytest.fixture
def tech(api_as: Any) -> Any:
    return api_as(Role.TECHNICIAN)


@pytest.fixture
def doctor(api: Any, psychiatrist: Any) -> Any:
    return api(psychiatrist)


def _book(client: Any, course: Any, starts_at: str) -> int:
    response = client.post(
        "/api/v1/sessions/", {"course": course.pk, "starts_at": starts_at}, format="json"
    )
    assert response.status_code == 201, response.content
    return int(response.json()["id"])


def _complete(tech: Any, session_id: int, **record: Any) -> Any:
    return tech.post(
        f"/api/v1/sessions/{session_id}/complete/", {**RECORD, **record}, format="json"
    )


@contextmanager
def _at_start_of(session_id: int) -> Iterator[None]:
    """The clock at the session's start: check-in opens an hour before, completion once
    it has started."""
    starts_at = Session.objects.get(pk=session_id).starts_at
    with time_machine.travel(starts_at + dt.timedelta(minutes=5), tick=False):
        yield


def _check_in(tech: Any, session_id: int) -> Any:
    with _at_start_of(session_id):
        return tech.post(f"/api/v1/sessions/{session_id}/check-in/")


def _treated_with(tech: Any, session_id: int, **record: Any) -> Any:
    with _at_start_of(session_id):
        assert _check_in(tech, session_id).status_code == 200
        response = _complete(tech, session_id, **record)
    assert response.status_code == 200, response.content
    return response


def _board_entry(client: Any, clinic: Any, day: str, session_id: int) -> dict[str, Any]:
    board = client.get("/api/v1/board/", {"clinic": clinic.pk, "date": day}).json()
    return next(s for chair in board["chairs"] for s in chair["sessions"] if s["id"] == session_id)


# --- the rule ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side_effects", "ticked", "kind"),
    [
        ([], False, None),
        (["headache", "nausea"], False, None),
        (["headache"], True, "other"),
        (["syncope"], False, "syncope"),
        (["seizure"], False, "seizure"),
        (["syncope", "seizure"], True, "seizure"),  # the most serious names it
    ],
)
def test_what_counts_as_an_adverse_event(
    side_effects: list[str], ticked: bool, kind: str | None
) -> None:
    assert adverse_event_kind(side_effects, ticked) == kind


@pytest.mark.parametrize(
    ("record", "kind"),
    [
        ({"side_effects": ["syncope"]}, "syncope"),  # the box unticked: still one
        ({"side_effects": ["headache"], "adverse_event": True}, "other"),
        ({"side_effects": ["headache"]}, None),
    ],
)
def test_a_record_reporting_one_raises_it(
    desk: Any, tech: Any, make_course: Any, chairs: list[Any], record: dict[str, Any], kind: Any
) -> None:
    course = make_course()
    session_id = _book(desk, course, MONDAY_1000)
    done = _treated_with(tech, session_id, **record)
    assert done.json()["record"]["adverse_event"] is (kind is not None)
    assert TreatmentRecord.objects.get(session_id=session_id).adverse_event is (kind is not None)
    events = list(AdverseEvent.objects.filter(course=course).values_list("kind", flat=True))
    assert events == ([kind] if kind else [])


# --- the whole path over the API -----------------------------------------------------------


def test_a_seizure_alerts_holds_the_course_and_a_decision_releases_it(
    desk: Any,
    tech: Any,
    doctor: Any,
    make_course: Any,
    chairs: list[Any],
    clinic: Any,
    psychiatrist: Any,
) -> None:
    course = make_course()
    first = _book(desk, course, MONDAY_1000)
    second = _book(desk, course, TUESDAY_1000)
    _treated_with(
        tech, first, side_effects=["seizure", "headache"], side_effects_other="30 s, recovered"
    )

    # The psychiatrist is alerted at once.
    alert = StaffAlert.objects.get(kind="adverse_event")
    assert alert.recipient == psychiatrist and alert.course_id == course.pk
    assert "Seizure" in alert.detail and "on hold" in alert.detail
    # Risk: the reason, at risk.
    progress = desk.get(f"/api/v1/courses/{course.pk}/progress/").json()
    assert "adverse_event" in progress["risk"]["reasons"]
    assert progress["risk"]["level"] == "at_risk"
    # The board: the next session needs review; the treated one does not.
    assert _board_entry(desk, clinic, "2026-12-01", second)["course"]["needs_review"] is True
    assert _board_entry(desk, clinic, "2026-11-30", first)["course"]["needs_review"] is False
    # The hold: no check-in; moving stays allowed.
    refused = tech.post(f"/api/v1/sessions/{second}/check-in/")
    assert refused.status_code == 409
    assert refused.json()["code"] == "needs_review"
    moved = desk.patch(f"/api/v1/sessions/{second}/", {"starts_at": WEDNESDAY_1000}, format="json")
    assert moved.status_code == 200
    # The course's events, and the decision.
    listed = doctor.get(f"/api/v1/courses/{course.pk}/adverse-events/").json()
    assert [(e["kind"], e["on_hold"]) for e in listed] == [("seizure", True)]
    assert listed[0]["description"] == "Headache; 30 s, recovered"
    event_id = listed[0]["id"]
    review = doctor.post(
        f"/api/v1/courses/{course.pk}/adverse-events/{event_id}/review/",
        {"decision": "continue", "note": "Sleep-deprived; no change."},
        format="json",
    )
    assert review.status_code == 200, review.content
    assert review.json()["decision"] == "continue" and review.json()["on_hold"] is False
    assert review.json()["reviewed_by"] == psychiatrist.pk
    # Released: the alert settled, the reason gone, check-in allowed again.
    alert.refresh_from_db()
    assert alert.acknowledged_at is not None
    progress = desk.get(f"/api/v1/courses/{course.pk}/progress/").json()
    assert "adverse_event" not in progress["risk"]["reasons"]
    assert _board_entry(desk, clinic, "2026-12-02", second)["course"]["needs_review"] is False
    assert _check_in(tech, second).status_code == 200


def test_a_checked_in_session_of_a_held_course_cannot_be_completed(
    desk: Any, tech: Any, make_course: Any, chairs: list[Any]
) -> None:
    course = make_course()
    first = _book(desk, course, MONDAY_1000)
    second = _book(desk, course, TUESDAY_1000)
    assert _check_in(tech, second).status_code == 200
    _treated_with(tech, first, side_effects=["syncope"])
    with _at_start_of(second):
        refused = _complete(tech, second)
    assert refused.status_code == 409
    assert refused.json()["code"] == "needs_review"
    assert Session.objects.get(pk=second).status == SessionStatus.CHECKED_IN
    assert not TreatmentRecord.objects.filter(session_id=second).exists()


def test_the_decision_is_checked_and_recorded_once(
    desk: Any, tech: Any, doctor: Any, make_course: Any, chairs: list[Any]
) -> None:
    course = make_course()
    _treated_with(tech, _book(desk, course, MONDAY_1000), adverse_event=True)
    event = AdverseEvent.objects.get(course=course)
    url = f"/api/v1/courses/{course.pk}/adverse-events/{event.pk}/review/"
    unknown = doctor.post(url, {"decision": "shrug"}, format="json")
    assert unknown.status_code == 400 and "decision" in unknown.json()["errors"]
    no_note = doctor.post(url, {"decision": "continue_changed", "note": "  "}, format="json")
    assert no_note.status_code == 400 and "note" in no_note.json()["errors"]
    changed = doctor.post(
        url, {"decision": "continue_changed", "note": "Intensity 110% MT"}, format="json"
    )
    assert changed.status_code == 200
    again = doctor.post(url, {"decision": "discontinue"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_reviewed"
    event.refresh_from_db()
    assert (event.decision, event.decision_note) == ("continue_changed", "Intensity 110% MT")
    other = CourseFactory(patient=PatientFactory(clinic=course.patient.clinic))
    wrong_course = f"/api/v1/courses/{other.pk}/adverse-events/{event.pk}/review/"
    assert doctor.post(wrong_course, {"decision": "continue"}, format="json").status_code == 404


def test_discontinue_ends_the_course_and_releases_its_sessions(
    desk: Any, tech: Any, doctor: Any, make_course: Any, chairs: list[Any]
) -> None:
    course = make_course()
    first = _book(desk, course, MONDAY_1000)
    later = _book(desk, course, TUESDAY_1000)
    _treated_with(tech, first, side_effects=["seizure"])
    event = AdverseEvent.objects.get(course=course)
    response = doctor.post(
        f"/api/v1/courses/{course.pk}/adverse-events/{event.pk}/review/",
        {"decision": "discontinue", "note": "Seizure on treatment"},
        format="json",
    )
    assert response.status_code == 200
    course.refresh_from_db()
    assert course.status == "discontinued"
    assert course.status_reason == "Adverse event (seizure): Seizure on treatment"
    assert Session.objects.get(pk=later).status == SessionStatus.CANCELLED


# --- pages ---------------------------------------------------------------------------------


@pytest.fixture
def login(client: Client, staff: Callable[..., Any]) -> Callable[..., Client]:
    def as_role(role: str, **kwargs: Any) -> Client:
        client.force_login(staff(role, **kwargs))
        return client

    return as_role


def _held_course_today(make_course: Any, chairs: list[Any], by: Any) -> tuple[Any, Session]:
    """A course held by a faint at 09:00 today, with its next session at 11:00 today."""
    course = make_course()
    nine = dt.datetime.combine(TODAY, dt.time(9), tzinfo=NY)
    treated = SessionFactory(
        course=course, chair=chairs[0], starts_at=nine, ends_at=nine + dt.timedelta(minutes=40)
    )
    services.session_check_in(treated)
    services.session_complete(treated, technician=by, **RECORD, side_effects=["syncope"])
    eleven = nine + dt.timedelta(hours=2)
    upcoming = SessionFactory(
        course=course, chair=chairs[0], starts_at=eleven, ends_at=eleven + dt.timedelta(minutes=40)
    )
    return course, upcoming


def test_the_board_says_needs_review_and_offers_no_check_in(
    login: Callable[..., Client], make_course: Any, chairs: list[Any], psychiatrist: Any
) -> None:
    _, upcoming = _held_course_today(make_course, chairs, psychiatrist)
    client = login(Role.FRONT_DESK)
    html = unescape(client.get("/board/").content.decode())
    block = html[html.index(f'id="session-{upcoming.pk}"') :]
    block = block[: block.index("</div>")]
    assert "Needs psychiatrist review" in block
    assert f"/board/sessions/{upcoming.pk}/check-in/" not in html
    # Posting the check-in anyway is refused as the API refuses it.
    refused = client.post(f"/board/sessions/{upcoming.pk}/check-in/", headers=HTMX)
    assert refused.status_code == 409
    assert "on hold after an adverse event" in unescape(refused.content.decode())
    upcoming.refresh_from_db()
    assert upcoming.status == SessionStatus.SCHEDULED


def test_the_technicians_list_refuses_completion_while_held(
    login: Callable[..., Client], make_course: Any, chairs: list[Any], psychiatrist: Any
) -> None:
    _, upcoming = _held_course_today(make_course, chairs, psychiatrist)
    Session.objects.filter(pk=upcoming.pk).update(status=SessionStatus.CHECKED_IN)
    client = login(Role.TECHNICIAN)
    html = unescape(client.get("/today/").content.decode())
    assert "Needs psychiatrist review" in html
    form = {f"s{upcoming.pk}-{name}": value for name, value in RECORD.items()}
    refused = client.post(f"/today/sessions/{upcoming.pk}/complete/", form)
    assert refused.status_code == 409
    assert "on hold after an adverse event" in unescape(refused.content.decode())


def test_the_course_page_shows_the_event_and_takes_the_decision(
    client: Client, make_course: Any, chairs: list[Any], psychiatrist: Any
) -> None:
    course, upcoming = _held_course_today(make_course, chairs, psychiatrist)
    event = AdverseEvent.objects.get(course=course)
    client.force_login(psychiatrist)
    page = unescape(client.get(f"/courses/{course.pk}/").content.decode())
    assert "Adverse events" in page and "Fainting (syncope)" in page
    assert "Needs psychiatrist review" in page
    action = f"/courses/{course.pk}/adverse-events/{event.pk}/review/"
    assert action in page
    bad = client.post(action, {"decision": "continue_changed"}, headers=HTMX)
    assert bad.status_code == 400
    assert "Say which treatment parameters change." in unescape(bad.content.decode())
    done = client.post(action, {"decision": "continue", "note": "Ate no breakfast"}, headers=HTMX)
    assert done.status_code == 200
    assert done["HX-Redirect"] == f"/courses/{course.pk}/"
    page = unescape(client.get(f"/courses/{course.pk}/").content.decode())
    assert "Decision recorded" in page
    assert "Decision: <strong>Continue treatment</strong>" in page
    assert "Adverse event awaiting review" not in page  # the risk reason went with it
    services.session_check_in(upcoming)  # released


def test_a_plain_post_returns_to_the_course_page(
    client: Client, make_course: Any, chairs: list[Any], psychiatrist: Any
) -> None:
    course, _ = _held_course_today(make_course, chairs, psychiatrist)
    event = AdverseEvent.objects.get(course=course)
    client.force_login(psychiatrist)
    url = f"/courses/{course.pk}/adverse-events/{event.pk}/review/"
    response = client.post(url, {"decision": "continue"})
    assert response.status_code == 302
    assert response["Location"] == f"/courses/{course.pk}/#adverse-events"
    again = client.post(url, {"decision": "continue"})
    assert again.status_code == 409
    assert "already recorded" in unescape(again.content.decode())


def test_others_see_the_hold_but_not_the_form_nor_the_detail(
    login: Callable[..., Client], make_course: Any, chairs: list[Any], psychiatrist: Any
) -> None:
    course, _ = _held_course_today(make_course, chairs, psychiatrist)
    AdverseEvent.objects.filter(course=course).update(description="Fainted after 10 min")
    page = unescape(login(Role.FRONT_DESK).get(f"/courses/{course.pk}/").content.decode())
    assert "Needs psychiatrist review" in page
    assert "Fainted after 10 min" not in page  # clinical detail
    assert "/adverse-events/" not in page


# --- who may do what -----------------------------------------------------------------------

REVIEWERS = frozenset({Role.PSYCHIATRIST})
CLINICAL = frozenset({Role.TECHNICIAN, Role.PSYCHIATRIST})


def _adverse_event(clinic: Any) -> AdverseEvent:
    course = CourseFactory(patient=PatientFactory(clinic=clinic))
    cleared_screening(course.patient, by=course.psychiatrist)
    session = SessionFactory(course=course, status=SessionStatus.COMPLETED)
    return AdverseEvent.objects.create(
        course=course, session=session, kind="syncope", raised_at=timezone.now()
    )


ACTIONS_MATRIX = {
    "list adverse events": Action(
        "get",
        lambda e: f"/api/v1/courses/{e.course_id}/adverse-events/",
        _adverse_event,
        {},
        CLINICAL,
    ),
    "review adverse event": Action(
        "post",
        lambda e: f"/api/v1/courses/{e.course_id}/adverse-events/{e.pk}/review/",
        _adverse_event,
        {"decision": "continue"},
        REVIEWERS,
    ),
}


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("name", list(ACTIONS_MATRIX))
def test_action_matrix(
    name: str, actor: str, clinic: Any, other_clinic: Any, staff: Any, superuser: Any, api: Any
) -> None:
    fixtures = {
        "clinic": clinic,
        "other_clinic": other_clinic,
        "staff": staff,
        "superuser": superuser,
        "api": api,
    }
    run_action(ACTIONS_MATRIX[name], actor, fixtures)


@pytest.mark.parametrize("actor", ACTORS)
def test_review_page_roles(
    actor: str, client: Client, clinic: Any, other_clinic: Any, staff: Any, superuser: Any
) -> None:
    event = _adverse_event(clinic)
    user = make_actor(actor, other_clinic, staff, superuser)
    if actor == "outsider":  # one who may review, in another clinic: this one is unknown
        user = staff(Role.PSYCHIATRIST, in_clinic=other_clinic)
    if user is not None:
        client.force_login(user)
    url = f"/courses/{event.course_id}/adverse-events/{event.pk}/review/"
    response = client.post(url, {"decision": "continue"})
    expected = {"anonymous": 302, "outsider": 404, "superuser": 302}.get(
        actor, 302 if actor in REVIEWERS else 403
    )
    assert response.status_code == expected
    if actor == "anonymous":
        assert response["Location"].startswith("/accounts/login/")
    event.refresh_from_db()
    assert (event.reviewed_at is not None) == (actor in REVIEWERS or actor == "superuser")


# --- the outcomes report -------------------------------------------------------------------


def test_the_outcomes_report_counts_adverse_events_per_protocol_and_per_1000(
    clinic: Any, login: Callable[..., Client]
) -> None:
    chair = ChairFactory(clinic=clinic)
    start = dt.datetime(2026, 11, 2, 14, 0, tzinfo=dt.UTC)
    courses = {
        code: CourseFactory(patient=PatientFactory(clinic=clinic), protocol=catalog_protocol(code))
        for code in ("10hz-standard", "itbs")
    }
    counts = {"10hz-standard": (8, 2), "itbs": (4, 0)}  # completed sessions, adverse events
    n = 0
    for code, (completed, events) in counts.items():
        for i in range(completed):
            moment = start + dt.timedelta(hours=n)
            n += 1
            session = SessionFactory(
                course=courses[code],
                chair=chair,
                starts_at=moment,
                ends_at=moment + dt.timedelta(minutes=30),
                status=SessionStatus.COMPLETED,
            )
            if i < events:
                AdverseEvent.objects.create(
                    course=courses[code], session=session, kind="other", raised_at=moment
                )

    def report_and_queries() -> tuple[Any, int]:
        with CaptureQueriesContext(connection) as captured:
            report = reports.outcomes_report(clinic, dt.date(2026, 11, 1), dt.date(2026, 11, 30))
        return report, len(captured)

    report, queries = report_and_queries()
    rows = {row.protocol: row for row in report.attendance_by_protocol}
    standard = rows["10hz-standard"]
    assert (standard.adverse_events, str(standard.adverse_event_rate.per_thousand)) == (2, "250.0")
    assert rows["itbs"].adverse_events == 0
    assert report.adverse_events == 2
    assert str(report.adverse_event_rate.per_thousand) == "166.7"  # 2 of 12
    table = list(csv.reader(io.StringIO("\n".join(",".join(r) for r in csv_rows(report)))))
    assert table[0] == list(CSV_HEADER)
    col = {name: i for i, name in enumerate(CSV_HEADER)}
    adverse_rows = {r[col["protocol"]]: r for r in table if r[0] == "adverse_events_by_protocol"}
    assert adverse_rows["10hz-standard"][col["adverse_events"]] == "2"
    assert adverse_rows["10hz-standard"][col["adverse_events_per_1000_sessions"]] == "250.0"
    total = next(r for r in table if r[0] == "total")
    assert total[col["adverse_events_per_1000_sessions"]] == "166.7"
    page = login(Role.CLINIC_ADMIN).get(
        "/reports/outcomes/", {"date_from": "2026-11-01", "date_to": "2026-11-30"}
    )
    html = unescape(page.content.decode())
    assert "Adverse events by protocol" in html
    assert "<td>2</td><td>250.0</td>" in html
    AdverseEvent.objects.all().delete()
    assert report_and_queries()[1] == queries  # the events cost no query of their own


def test_the_psychiatrists_dashboard_lists_the_alert(
    client: Client, make_course: Any, chairs: list[Any], psychiatrist: Any
) -> None:
    course, _ = _held_course_today(make_course, chairs, psychiatrist)
    client.force_login(psychiatrist)
    html = unescape(client.get("/courses/mine/").content.decode())
    alerts_section = html[html.index('id="alerts-heading"') :]
    assert "<strong>Adverse event</strong>" in alerts_section
    assert f'href="/courses/{course.pk}/"' in alerts_section
