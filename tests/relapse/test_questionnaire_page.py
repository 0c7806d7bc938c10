"""The questionnaire page a watch link opens: no login, the nine questions, one answer
per link; a used, expired, early or tampered link is a clear page (never a 500); an
answer of item 9 above 0 flags, alerts and tells the patient how to get help now; nothing
on any of its pages names the treatment."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.test import Client

from courses.models import (
    AlertKind,
    Assessment,
    AssessmentSource,
    Protocol,
    Relapse,
    SafetyFlag,
    StaffAlert,
)
from notifications import links
from tests.relapse.conftest import answers

pytestmark = pytest.mark.django_db

BANNED = ["tms", "magnetic", "depression", "psychiatr", "diagnosis", "stimulation", "relapse"]


def _form(items: list[int]) -> dict[str, str]:
    return {f"q{number}": str(value) for number, value in enumerate(items, 1)}


def _at_due(point: Any, hour: int = 12) -> Any:
    tz = point.watch.course.patient.clinic.tz
    return time_machine.travel(
        dt.datetime.combine(point.due_on, dt.time(hour), tzinfo=tz), tick=False
    )


def _url(point: Any) -> str:
    return f"/p/q/{links.watch_token(point)}"


def _names_nothing(html: str) -> None:
    lowered = html.lower()
    catalog = Protocol.objects.filter(clinic=None).values_list("code", "name")
    terms = [*BANNED, *(term.lower() for pair in catalog for term in pair)]
    assert [term for term in terms if term in lowered] == []


@pytest.fixture
def point(complete_course: Callable[..., Any]) -> Any:
    return complete_course(last_score=4).relapse_watch.points.first()


def test_the_page_asks_the_nine_questions_without_login(
    client: Client, point: Any, django_assert_num_queries: Any
) -> None:
    # The point with its course, patient and clinic; the audit trail's view event.
    with _at_due(point), django_assert_num_queries(2):
        response = client.get(_url(point))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('type="radio"') == 36 and html.count("<fieldset") == 9
    assert "Little interest or pleasure in doing things" in html
    assert point.watch.course.patient.first_name in html
    assert "988" in html and "(718) 555-0100" in html  # help, on every page
    assert point.watch.course.patient.last_name not in html
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    _names_nothing(html)


def test_answering_records_a_patient_reported_phq9(client: Client, point: Any) -> None:
    with _at_due(point):
        response = client.post(_url(point), _form(answers(6)))
    assert response.status_code == 200
    assert "Thank you" in response.content.decode()
    _names_nothing(response.content.decode())
    assessment = Assessment.objects.get(source=AssessmentSource.PATIENT_REPORTED)
    assert (assessment.instrument, assessment.score, assessment.items) == ("phq9", 6, answers(6))
    assert assessment.course == point.watch.course


def test_a_missing_answer_is_asked_again_keeping_the_others(client: Client, point: Any) -> None:
    form = _form(answers(6))
    del form["q4"]
    form["q7"] = "9"  # not an answer either
    with _at_due(point):
        response = client.post(_url(point), form)
    html = response.content.decode()
    assert response.status_code == 400
    assert "Please answer every question" in html and 'role="alert"' in html
    assert 'id="q4-error"' in html and 'id="q7-error"' in html and 'id="q1-error"' not in html
    assert 'id="q1-3" name="q1" value="3" checked' in html
    assert not Assessment.objects.filter(source=AssessmentSource.PATIENT_REPORTED).exists()


def test_a_link_works_once(client: Client, point: Any) -> None:
    with _at_due(point):
        client.post(_url(point), _form(answers(3)))
        again = client.post(_url(point), _form(answers(20)))
        opened = client.get(_url(point))
    for response in (again, opened):
        assert response.status_code == 410
        assert "You have answered these questions" in response.content.decode()
    assert list(
        Assessment.objects.filter(source="patient_reported").values_list("score", flat=True)
    ) == [3]


def test_an_expired_link_says_so(client: Client, point: Any) -> None:
    late = dt.datetime.combine(point.expires_on + dt.timedelta(days=1), dt.time(12), tzinfo=dt.UTC)
    with time_machine.travel(late, tick=False):
        response = client.get(_url(point))
        posted = client.post(_url(point), _form(answers(3)))
    assert response.status_code == 410 and posted.status_code == 410
    html = response.content.decode()
    assert "This link has expired" in html and "(718) 555-0100" in html
    assert not Assessment.objects.filter(source="patient_reported").exists()


def test_an_early_link_says_so(client: Client, point: Any) -> None:
    with (
        _at_due(point, hour=12),
        time_machine.travel(
            dt.datetime.combine(point.due_on - dt.timedelta(days=1), dt.time(12), tzinfo=dt.UTC),
            tick=False,
        ),
    ):
        response = client.get(_url(point))
    assert response.status_code == 403
    assert "does not work yet" in response.content.decode()


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # the signature
        lambda token: "z" + token,  # another point's id, the same signature
        lambda token: token[:5],
        lambda token: "%C3%A9" * 4,
        lambda token: "9" * 40,
    ],
)
def test_a_tampered_link_is_a_clear_404(client: Client, point: Any, mangle: Any) -> None:
    with _at_due(point):
        response = client.get(f"/p/q/{mangle(links.watch_token(point))}")
        posted = client.post(f"/p/q/{mangle(links.watch_token(point))}", _form(answers(27, 3)))
    assert response.status_code == 404 and posted.status_code == 404
    assert "This link is not valid" in response.content.decode()
    assert "988" in response.content.decode()
    assert not Assessment.objects.filter(source="patient_reported").exists()


def test_item_9_flags_alerts_and_says_how_to_get_help_now(client: Client, point: Any) -> None:
    course = point.watch.course
    with _at_due(point):
        response = client.post(_url(point), _form(answers(5, item9=2)))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Please get help now" in html
    assert 'Call or text <a href="tel:988"><strong>988</strong></a>' in html
    assert 'href="tel:+17185550100">(718) 555-0100</a>' in html
    assert html.index("Please get help now") < html.index("sent to your care team")
    _names_nothing(html)
    flag = SafetyFlag.objects.get()
    assert flag.item_value == 2 and flag.course == course
    alert = StaffAlert.objects.get(kind=AlertKind.SAFETY_FLAG)
    assert alert.recipient == course.psychiatrist


def test_no_urgent_help_block_without_item_9(client: Client, point: Any) -> None:
    with _at_due(point):
        html = client.post(_url(point), _form(answers(12))).content.decode()
    assert "Please get help now" not in html and "If you need help now" in html
    assert not SafetyFlag.objects.exists()
    assert Relapse.objects.get().score == 12  # a remitter at 12: the rule's entry
