"""The day board read as rows (scheduling.board_read): the same entries the model-based
cards give, the same JSON the schema's BoardSerializer gives, a fixed number of queries
for the API's board, and its patients named in the audit trail without a lookup.

The board holds what changes its JSON: several chairs, one taken out of service but
holding a session, a cancelled and a checked-in session (their marks), a session booked
pending authorization, a course on hold after an adverse event, and two patients whose
board names collide (the MRN's tail added).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from clinic.models import AuditEvent, Chair, Role
from scheduling.board_read import board_for_day, board_json
from scheduling.models import AdverseEvent, AdverseEventKind, Session, SessionStatus
from scheduling.selectors import _board_entry, _cards_query
from scheduling.serializers import BoardSerializer
from scheduling.services import course_schedule

pytestmark = pytest.mark.usefixtures("frozen_now")

DAY = dt.date(2026, 11, 30)  # the courses' first Monday
# Token, memberships, the clinic of the query; the sessions, the chairs; the audit
# event's INSERT. (Was 7: the patients' clinics were looked up for the audit trail.)
BOARD_API_QUERIES = 6


@pytest.fixture
def board_day(make_course: Any, chairs: list[Any], clinic: Any) -> list[Session]:
    twins = []
    for hour in (8, 10, 13, 15):
        course = make_course(at=dt.time(hour, 0))
        if hour in (8, 10):
            course.patient.first_name, course.patient.last_name = "Ana", "Lopez"
            course.patient.save()
            twins.append(course.patient)
        course_schedule(course)
    sessions = list(
        Session.objects.filter(
            starts_at__date__gte=DAY, starts_at__date__lte=DAY + dt.timedelta(days=1)
        ).order_by("starts_at")
    )
    first, second, third, fourth = sessions[:4]
    now = timezone.now()
    Session.objects.filter(pk=first.pk).update(
        status=SessionStatus.CANCELLED, cancelled_at=now, cancel_reason="ill"
    )
    Session.objects.filter(pk=second.pk).update(
        status=SessionStatus.CHECKED_IN, checked_in_at=now, pending_authorization=True
    )
    AdverseEvent.objects.create(
        course_id=third.course_id,
        session=Session.objects.filter(course_id=third.course_id).order_by("starts_at").last(),
        kind=AdverseEventKind.OTHER,
        raised_at=now,
    )
    Chair.objects.filter(pk=fourth.chair_id).update(active=False)
    assert len({patient.pk for patient in twins}) == 2
    return sessions


def _json(data: Any) -> str:
    return JSONRenderer().render(data).decode()


def test_rows_give_the_cards_entries_and_the_serializers_json(
    board_day: list[Session], clinic: Any
) -> None:
    board = board_for_day(clinic, DAY)
    entries = [entry for chair in board["chairs"] for entry in chair["sessions"]]
    assert len(entries) == 4
    assert {chair["active"] for chair in board["chairs"]} == {True, False}
    names = [entry["patient"]["name"] for entry in entries]
    assert sum("MRN" in name for name in names) == 2
    by_id = {session.pk: session for session in _cards_query(clinic)}
    for entry in entries:
        expected = _board_entry(by_id[entry["id"]])
        expected["patient"]["name"] = entry["patient"]["name"]  # disambiguated: the board's
        assert entry == expected
    marks = {entry["status"]: entry["marked"] for entry in entries}
    assert marks[SessionStatus.CANCELLED]["cancelled_at"] is not None
    assert marks[SessionStatus.CHECKED_IN]["checked_in_at"] is not None
    assert [entry["course"]["needs_review"] for entry in entries].count(True) == 1
    assert [entry["pending_authorization"] for entry in entries].count(True) == 1
    assert _json(board_json(board)) == _json(BoardSerializer(board).data)


def test_the_api_board_has_a_fixed_number_of_queries_and_audits_its_patients(
    board_day: list[Session], clinic: Any, api_as: Any, make_course: Any
) -> None:
    desk = api_as(Role.FRONT_DESK)

    def board() -> tuple[Any, int]:
        with CaptureQueriesContext(connection) as captured:
            response = desk.get("/api/v1/board/", {"clinic": clinic.pk, "date": DAY.isoformat()})
        assert response.status_code == 200
        return response, len(captured)

    _, few = board()
    for hour in (9, 11, 14, 16):
        course_schedule(make_course(at=dt.time(hour, 0)))
    large, many = board()
    assert few == many == BOARD_API_QUERIES
    assert large.content.decode() == _json(BoardSerializer(board_for_day(clinic, DAY)).data)
    event = AuditEvent.objects.filter(action="view").order_by("id").last()
    assert event is not None and event.clinic_id == clinic.pk
    shown = {s["patient"]["id"] for chair in large.json()["chairs"] for s in chair["sessions"]}
    assert len(shown) == 8 and sorted(event.patient_ids) == sorted(shown)
