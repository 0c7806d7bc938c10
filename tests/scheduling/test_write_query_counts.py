"""The queries of the single-session writes the front desk makes all day (booking and
moving a session through the API), pinned: each recomputes its course's risk and checks
its authorization, so what those read is counted here (issue 18, booking under load).
PostgreSQL's counts (SQLite reads the calendar in more statements)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import Role

pytestmark = [pytest.mark.usefixtures("frozen_now"), pytest.mark.postgres]

MONDAY_1000 = "2026-11-30T10:00:00-05:00"
MONDAY_1100 = "2026-11-30T11:00:00-05:00"
# Were 33 and 33 before issue 18's cuts: the risk facts in 6 queries instead of
# 11, no sessions read for the authorization rule of a course without one, the new
# session's patient as loaded with its course (the audit trail), the clinic's
# has_webhooks instead of looking endpoints up.
BOOK_QUERIES = 24
MOVE_QUERIES = 26


def _statements(run: Callable[[], Any]) -> tuple[Any, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = run()
    sql = [q["sql"] for q in captured if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    return response, sql


def test_booking_and_moving_a_session_have_a_fixed_number_of_queries(
    api_as: Any, make_course: Any, chairs: list[Any]
) -> None:
    desk = api_as(Role.FRONT_DESK)
    course = make_course()
    booked, book_sql = _statements(
        lambda: desk.post(
            "/api/v1/sessions/", {"course": course.pk, "starts_at": MONDAY_1000}, format="json"
        )
    )
    assert booked.status_code == 201, booked.content
    moved, move_sql = _statements(
        lambda: desk.patch(
            f"/api/v1/sessions/{booked.json()['id']}/", {"starts_at": MONDAY_1100}, format="json"
        )
    )
    assert moved.status_code == 200, moved.content
    assert (len(book_sql), len(move_sql)) == (BOOK_QUERIES, MOVE_QUERIES), (book_sql, move_sql)
    for sql in book_sql + move_sql:
        assert '"notifications_webhookendpoint"' not in sql
