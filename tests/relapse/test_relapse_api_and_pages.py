"""The relapse list and watch in the API and on the staff pages: each role, anonymous,
another clinic's admin and a superuser; the booster link; closing an entry; and fixed
query counts as entries grow."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import Role
from courses import relapse as watch
from courses.models import AlertKind, Relapse, StaffAlert
from tests.relapse.conftest import answers

pytestmark = pytest.mark.django_db

READERS = {Role.TECHNICIAN, Role.PSYCHIATRIST, Role.CLINIC_ADMIN}
ACTORS = ["anonymous", "outsider", "superuser", *Role.values]


def _answer(point: Any, total: int) -> Any:
    tz = point.watch.course.patient.clinic.tz
    with time_machine.travel(dt.datetime.combine(point.due_on, dt.time(12), tzinfo=tz), tick=False):
        return watch.watch_answer(point, answers(total))


@pytest.fixture
def entries(complete_course: Callable[..., Any]) -> Callable[[int], list[Relapse]]:
    """A course with ``count`` relapse entries (one per answered point)."""

    def make(count: int = 1) -> list[Relapse]:
        course = complete_course(last_score=4)
        points = list(course.relapse_watch.points.all()[:count])
        return [_answer(point, 12 + number).relapse for number, point in enumerate(points)]

    return make


def _actor(name: str, staff: Any, other_clinic: Any, superuser: Any) -> Any:
    if name == "anonymous":
        return None
    if name == "superuser":
        return superuser
    if name == "outsider":
        return staff(Role.CLINIC_ADMIN, in_clinic=other_clinic)
    return staff(name)


def _expected(actor: str, allowed: set[str], success: int = 200, *, listing: bool = False) -> int:
    if actor == "anonymous":
        return 401
    if actor == "outsider":
        return 200 if listing else 404
    return success if actor == "superuser" or actor in allowed else 403


@pytest.mark.parametrize("actor", ACTORS)
def test_the_relapse_list_api(
    actor: str, entries: Any, api: Any, staff: Any, other_clinic: Any, superuser: Any
) -> None:
    (entry,) = entries()
    client = api(_actor(actor, staff, other_clinic, superuser))
    listed = client.get("/api/v1/relapses/?open=true")
    assert listed.status_code == _expected(actor, READERS, listing=True), listed.content
    if listed.status_code == 200:
        ids = [row["id"] for row in listed.json()["results"]]
        assert ids == ([] if actor == "outsider" else [entry.pk])
    detail = client.get(f"/api/v1/relapses/{entry.pk}/")
    assert detail.status_code == _expected(actor, READERS)
    if detail.status_code == 200:
        body = detail.json()
        assert (body["course"], body["score"], body["baseline"], body["rule"]) == (
            entry.course_id,
            12,
            4,
            "both",
        )
        assert body["booster_url"] == f"/courses/{entry.course_id}/booster/"
        assert body["closed_at"] is None
    else:
        assert "code" in detail.json()


@pytest.mark.parametrize("actor", ACTORS)
def test_closing_an_entry_through_the_api(
    actor: str, entries: Any, api: Any, staff: Any, other_clinic: Any, superuser: Any
) -> None:
    (entry,) = entries()
    client = api(_actor(actor, staff, other_clinic, superuser))
    response = client.post(
        f"/api/v1/relapses/{entry.pk}/close/", {"note": "Booster booked"}, format="json"
    )
    assert response.status_code == _expected(actor, {Role.PSYCHIATRIST}), response.content
    entry.refresh_from_db()
    assert (entry.closed_at is not None) is (response.status_code == 200)
    if response.status_code == 200:
        assert response.json()["close_note"] == "Booster booked"
        assert StaffAlert.objects.get(kind=AlertKind.RELAPSE).acknowledged_at is not None
        assert client.get("/api/v1/relapses/?open=true").json()["results"] == []
        closed = client.get("/api/v1/relapses/?open=false").json()["results"]
        assert [row["id"] for row in closed] == [entry.pk]


def test_a_note_too_long_is_a_400(entries: Any, api: Any, staff: Any) -> None:
    (entry,) = entries()
    response = api(staff(Role.PSYCHIATRIST)).post(
        f"/api/v1/relapses/{entry.pk}/close/", {"note": "x" * 301}, format="json"
    )
    assert response.status_code == 400 and "note" in response.json()["errors"]


@pytest.mark.parametrize("actor", ACTORS)
def test_the_watch_of_a_course_api(
    actor: str,
    complete_course: Callable[..., Any],
    api: Any,
    staff: Any,
    other_clinic: Any,
    superuser: Any,
) -> None:
    course = complete_course(last_score=4)
    first = course.relapse_watch.points.first()
    _answer(first, 3)
    client = api(_actor(actor, staff, other_clinic, superuser))
    response = client.get(f"/api/v1/courses/{course.pk}/relapse-watch/")
    assert response.status_code == _expected(actor, READERS), response.content
    if response.status_code == 200:
        body = response.json()
        assert body["course"] == course.pk and body["active"] is True
        assert len(body["points"]) == 13
        assert body["points"][0] == {
            "number": 1,
            "due_on": "2026-12-15",
            "expires_on": "2026-12-29",
            "state": "answered",
            "answered_at": body["points"][0]["answered_at"],
            "score": 3,
        }
        assert body["points"][1]["score"] is None


def test_a_course_without_a_watch_is_a_404(
    complete_course: Callable[..., Any], clinic: Any, api: Any, staff: Any
) -> None:
    clinic.relapse_watch = False
    clinic.save()
    course = complete_course()
    response = api(staff(Role.PSYCHIATRIST)).get(f"/api/v1/courses/{course.pk}/relapse-watch/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_the_list_api_runs_a_fixed_number_of_queries(entries: Any, api: Any, staff: Any) -> None:
    client = api(staff(Role.PSYCHIATRIST))
    entries(1)

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/api/v1/relapses/").status_code == 200
        return len(captured)

    few = count()
    entries(5)
    assert count() == few


# --- pages --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", Role.values)
def test_the_course_page_lists_relapses_for_whoever_sees_scores(
    role: str, entries: Any, client: Any, staff: Any
) -> None:
    (entry,) = entries()
    client.force_login(staff(role))
    html = client.get(f"/courses/{entry.course_id}/").content.decode()
    shown = role in READERS
    assert ("Possible relapse" in html) is shown
    assert (f'href="/courses/{entry.course_id}/booster/"' in html) is shown
    assert ("Close the entry" in html) is (role == Role.PSYCHIATRIST)
    assert ("Relapse watch" in html) is shown


def test_the_course_page_of_another_clinic_is_a_404(
    entries: Any, client: Any, staff: Any, other_clinic: Any
) -> None:
    (entry,) = entries()
    client.force_login(staff(Role.PSYCHIATRIST, in_clinic=other_clinic))
    assert client.get(f"/courses/{entry.course_id}/").status_code == 404


@pytest.mark.parametrize("actor", ["anonymous", "outsider", *Role.values])
def test_closing_an_entry_on_the_page(
    actor: str, entries: Any, client: Any, staff: Any, other_clinic: Any
) -> None:
    (entry,) = entries()
    user = _actor(actor, staff, other_clinic, None)
    if user is not None:
        client.force_login(user)
    path = f"/courses/{entry.course_id}/relapses/{entry.pk}/close/"
    response = client.post(path, {"note": "Called; booster next week"})
    expected = {
        "anonymous": 302,
        "outsider": 403,  # an admin elsewhere: the capability is a psychiatrist's
        Role.PSYCHIATRIST: 302,
    }.get(actor, 403)
    assert response.status_code == expected
    entry.refresh_from_db()
    assert (entry.closed_at is not None) is (actor == Role.PSYCHIATRIST)
    if actor == Role.PSYCHIATRIST:
        assert response["Location"] == f"/courses/{entry.course_id}/#relapses"
        assert entry.close_note == "Called; booster next week"
    if actor == "anonymous":
        assert "/accounts/login/" in response["Location"]


def test_a_psychiatrist_of_another_clinic_cannot_close(
    entries: Any, client: Any, staff: Any, other_clinic: Any
) -> None:
    (entry,) = entries()
    client.force_login(staff(Role.PSYCHIATRIST, in_clinic=other_clinic))
    response = client.post(f"/courses/{entry.course_id}/relapses/{entry.pk}/close/")
    assert response.status_code == 404
    entry.refresh_from_db()
    assert entry.closed_at is None


def test_the_dashboard_lists_open_relapses(entries: Any, client: Any, psychiatrist: Any) -> None:
    (entry,) = entries()
    client.force_login(psychiatrist)
    html = client.get("/courses/mine/").content.decode()
    assert "Possible relapses (1)" in html
    assert f'href="/courses/{entry.course_id}/booster/"' in html
    watch.relapse_close(entry, by=psychiatrist)
    assert "Possible relapses (0)" in client.get("/courses/mine/").content.decode()


def _page_queries(client: Any, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


def test_the_course_page_and_dashboard_queries_do_not_grow_with_entries(
    entries: Any, client: Any, psychiatrist: Any, complete_course: Callable[..., Any]
) -> None:
    client.force_login(psychiatrist)
    (one,) = entries(1)
    course_few = _page_queries(client, f"/courses/{one.course_id}/")
    dashboard_few = _page_queries(client, "/courses/mine/")
    many = entries(6)
    assert _page_queries(client, f"/courses/{many[0].course_id}/") == course_few
    assert _page_queries(client, "/courses/mine/") == dashboard_few


def test_the_assessments_api_names_the_source_and_keeps_it_the_clinics(
    entries: Any, api: Any, staff: Any
) -> None:
    (entry,) = entries()
    client = api(staff(Role.PSYCHIATRIST))
    rows = client.get(f"/api/v1/assessments/?course={entry.course_id}").json()["results"]
    assert sorted(row["source"] for row in rows) == ["clinic", "patient_reported"]
    created = client.post(
        "/api/v1/assessments/",
        {
            "course": entry.course_id,
            "instrument": "phq9",
            "items": answers(8),
            "administered_on": "2026-12-02",
            "source": "patient_reported",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["source"] == "clinic"


def test_the_course_page_marks_the_patients_scores(
    entries: Any, client: Any, psychiatrist: Any
) -> None:
    (entry,) = entries()
    client.force_login(psychiatrist)
    html = client.get(f"/courses/{entry.course_id}/").content.decode()
    assert html.count("(reported by the patient)") == 1


def test_the_clinic_api_sets_the_watch_and_the_rule(clinic: Any, api: Any, staff: Any) -> None:
    client = api(staff(Role.CLINIC_ADMIN))
    path = f"/api/v1/clinics/{clinic.pk}/"
    assert client.get(path).json()["relapse_watch_weeks"] == "2, 4, 8, 12"
    changed = client.patch(path, {"relapse_watch_weeks": "3, 6", "relapse_rise": 4}, format="json")
    assert changed.status_code == 200, changed.content
    clinic.refresh_from_db()
    assert (clinic.relapse_watch_weeks, clinic.relapse_rise) == ("3, 6", 4)
    for body in (
        {"relapse_watch_weeks": "6, 3"},
        {"relapse_rise": 0},
        {"relapse_watch_months": 25},
    ):
        refused = client.patch(path, body, format="json")
        assert refused.status_code == 400 and set(refused.json()["errors"]) == set(body)
