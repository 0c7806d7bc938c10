"""Four weeks of availability for 10 chairs in a clinic with a year of sessions:
through the API (``GET /api/v1/availability/`` with ``until``: one request; and a day
at a time, one request per weekday, for comparison), the selector behind it, and the
booking page's alternatives (``booking_alternatives``: the calendar of twice a course
window read once, then the course planned for each candidate change).

Target: under 100 ms for the month. Query counts are SQL statements
(BEGIN/COMMIT/ROLLBACK/SAVEPOINT/RELEASE not counted).
"""

from __future__ import annotations

import datetime as dt
import os
import statistics

from benchmarks.clinic_year import (
    build_year,
    cleared_patient,
    count_statements,
    measure_statements,
    show_queries,
    timed,
)
from benchmarks.harness import max_rss_mib, setup_django, throwaway_database

TARGET_MS = 100
REPEAT = 20
LANES_PER_CHAIR = 12  # 40-minute slots: 120 sessions on every open day
MINUTES = 40
MONTH_DAYS = 28


def main() -> None:
    setup_django()
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    from clinic.models import Role, StaffMembership
    from clinic.tokens import new_token
    from courses.models import Protocol
    from scheduling.course_selectors import booking_alternatives, first_day_free_time
    from scheduling.selectors import availability

    with throwaway_database():
        year = build_year(protocol_code="10hz-standard", lanes_per_chair=LANES_PER_CHAIR)
        clinic = year.clinic
        print(f"availability: a month of free time on {len(year.chairs)} chairs")
        year.describe()
        first = year.today + dt.timedelta(days=7 - year.today.weekday())  # next Monday
        days = [
            first + dt.timedelta(days=n)
            for n in range(MONTH_DAYS)
            if (first + dt.timedelta(days=n)).weekday() < 5
        ]
        open_days = [day for day in days if day not in year.closures]
        print(
            f"  month: {first} .. {first + dt.timedelta(days=MONTH_DAYS - 1)}, "
            f"{len(days)} weekdays ({len(open_days)} open), {MINUTES}-minute slots, "
            f"load {os.getloadavg()[0]:.2f} (1-minute average)"
        )

        user = get_user_model().objects.create_user("bench-desk")
        StaffMembership.objects.create(user=user, clinic=clinic, role=Role.FRONT_DESK)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {new_token(user, 'benchmark')[1]}")

        def url(day: dt.date) -> str:
            return f"/api/v1/availability/?clinic={clinic.pk}&date={day}&minutes={MINUTES}"

        def fetch(day: dt.date) -> int:
            response = client.get(url(day))
            assert response.status_code == 200, response.status_code
            return sum(len(chair["free"]) for chair in response.json()["chairs"])

        stretches = sum(fetch(day) for day in days)
        print(f"  {stretches} free stretches of >= {MINUTES} minutes over the month")

        one_day, one_day_queries = measure_statements(
            f"GET {url(days[2])} (one day, Bearer token)",
            lambda: fetch(days[2]),
            repeat=REPEAT,
        )
        one_day.show()
        show_queries(one_day_queries)

        last = first + dt.timedelta(days=MONTH_DAYS - 1)
        month_url = url(first) + f"&until={last}"

        def fetch_month() -> int:
            response = client.get(month_url)
            assert response.status_code == 200, response.status_code
            return sum(len(chair["free"]) for chair in response.json()["chairs"])

        assert fetch_month() == stretches
        one_request, one_request_queries = measure_statements(
            f"the month in one request: GET {month_url}",
            fetch_month,
            repeat=REPEAT,
        )
        one_request.show(target=f"< {TARGET_MS} ms")
        show_queries(one_request_queries)

        month, _ = measure_statements(
            f"the month a day at a time: {len(days)} requests",
            lambda: [fetch(day) for day in days],
            repeat=REPEAT,
        )
        month_queries = count_statements(lambda: [fetch(day) for day in days])
        month.show(queries_total=len(month_queries))

        selector, _ = measure_statements(
            "the month through the selector (availability() with until)",
            lambda: availability(clinic, first, MINUTES, until=last),
            repeat=REPEAT,
        )
        selector.show()

        # The booking page's alternatives for a course at a time the clinic keeps full
        # on every chair but two: what the refused-booking page computes.
        protocol = Protocol.objects.get(clinic=None, code="10hz-standard")
        fields = {
            "patient": cleared_patient(clinic, year.psychiatrist, "NEW-ALT"),
            "protocol": protocol,
            "start_date": first,
            "preferred_time": dt.time(7, 30),
            "preferred_chair": None,
        }

        def alternatives() -> int:
            free = first_day_free_time(clinic, first, protocol.mapping_minutes, protocol.coil)
            found = booking_alternatives(fields, time_flex_minutes=0, free=free)
            return len(found)

        found, _ = timed(alternatives)
        page, page_queries = measure_statements(
            f"booking page alternatives ({found} found: first-day free time + "
            "booking_alternatives over the course window)",
            alternatives,
            repeat=REPEAT,
        )
        page.show(target=f"< {TARGET_MS} ms")
        show_queries(page_queries)
        spread = [timed(alternatives)[1] for _ in range(5)]
        print(
            f"  alternatives again, 5 runs: {', '.join(f'{ms:.0f}' for ms in spread)} ms "
            f"(median {statistics.median(spread):.0f})"
        )
        print(f"  load {os.getloadavg()[0]:.2f} (1-minute average) at the end")
        print(f"  process peak RSS {max_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
