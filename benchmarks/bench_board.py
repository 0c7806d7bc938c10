"""The day board (scheduling.board_read.board_for_day) for a day with 120 sessions on 10
chairs, in a clinic with a year of sessions, against the floor of one SQL query that
returns the same rows; and the board endpoint through the API.

Query counts are SQL statements (BEGIN/COMMIT/ROLLBACK/SAVEPOINT/RELEASE not counted).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from benchmarks.clinic_year import (
    build_year,
    measure_against_floor,
    measure_statements,
    show_queries,
)
from benchmarks.harness import max_rss_mib, setup_django, throwaway_database

MAX_QUERIES = 8
MAX_RATIO = 5
REPEAT = 50
LANES_PER_CHAIR = 12  # 40-minute slots: 120 sessions on every open day

# The board's rows in one query: sessions of the clinic's chairs starting on the
# clinic-local day, with the patient, the course and its protocol's session total.
FLOOR_SQL = """
SELECT s.id, s.chair_id, s.starts_at, s.ends_at, s.status, s.kind,
       (SELECT COUNT(*) FROM scheduling_session e
        WHERE e.course_id = s.course_id AND e.starts_at < s.starts_at
          AND e.status IN ('scheduled', 'checked_in', 'completed')) + 1 AS sequence,
       s.patient_id, p.first_name, p.last_name, s.course_id, c.risk_level, t.total
FROM scheduling_session s
JOIN clinic_chair ch ON ch.id = s.chair_id
JOIN clinic_patient p ON p.id = s.patient_id
JOIN courses_treatmentcourse c ON c.id = s.course_id
LEFT JOIN (
    SELECT protocol_id, SUM(sessions) AS total FROM courses_protocolphase GROUP BY protocol_id
) t ON t.protocol_id = c.protocol_id
WHERE ch.clinic_id = %s AND s.starts_at >= %s AND s.starts_at < %s
ORDER BY s.starts_at, s.id
"""


def main() -> None:
    setup_django()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from rest_framework.test import APIClient

    from clinic.models import Role, StaffMembership
    from clinic.tokens import new_token
    from scheduling.board_read import board_for_day
    from scheduling.calendar import day_bounds

    with throwaway_database():
        year = build_year(protocol_code="10hz-standard", lanes_per_chair=LANES_PER_CHAIR)
        clinic = year.clinic
        print("day board: one clinic-local day of a year of sessions")
        year.describe()
        day = year.today + dt.timedelta(days=1)
        while day.weekday() != 2 or day in year.closures:  # the next open Wednesday
            day += dt.timedelta(days=1)
        start, end = day_bounds(day, clinic.tz)

        def floor() -> list[tuple[Any, ...]]:
            with connection.cursor() as cursor:
                cursor.execute(FLOOR_SQL, [clinic.pk, start, end])
                return cursor.fetchall()

        board = board_for_day(clinic, day)
        board_ids = [s["id"] for chair in board["chairs"] for s in chair["sessions"]]
        floor_rows = floor()
        assert sorted(board_ids) == sorted(row[0] for row in floor_rows)
        print(
            f"  day: {day:%A %Y-%m-%d}, {len(board_ids)} sessions on {len(board['chairs'])} chairs"
        )

        measured = measure_against_floor(
            f"board_for_day, {len(board_ids)} sessions",
            lambda: board_for_day(clinic, day),
            f"floor: one SQL query, {len(floor_rows)} rows",
            floor,
            repeat=REPEAT,
        )
        measured.show(max_queries=MAX_QUERIES, max_ratio=MAX_RATIO)
        queries = measured.queries
        show_queries(queries)

        user = get_user_model().objects.create_user("bench-desk")
        StaffMembership.objects.create(user=user, clinic=clinic, role=Role.FRONT_DESK)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {new_token(user, 'benchmark')[1]}")
        url = f"/api/v1/board/?clinic={clinic.pk}&date={day.isoformat()}"

        def fetch() -> None:
            response = client.get(url)
            assert response.status_code == 200, response.status_code

        http, http_queries = measure_statements(f"GET {url} (Bearer token)", fetch, repeat=REPEAT)
        http.show()
        show_queries(http_queries)
        print(f"  process peak RSS {max_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
