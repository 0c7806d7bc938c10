"""Booking a whole course (scheduling.services.course_schedule) in a clinic with a year
of sessions, against the floor of inserting the same session rows in one statement.

Every repetition runs in a transaction that is rolled back (the service's dry run: the
same statements, in the outermost transaction as the API runs them), so each one books
the same fresh, cleared course into the same calendar; the floor is measured the same
way, one INSERT in a transaction rolled back.
Query counts are SQL statements (BEGIN/COMMIT/ROLLBACK/SAVEPOINT/RELEASE not counted).
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from typing import Any

from benchmarks.clinic_year import (
    build_year,
    cleared_patient,
    measure_against_floor,
    show_queries,
    statements,
)
from benchmarks.harness import max_rss_mib, measure, setup_django, throwaway_database

MAX_QUERIES = 12
MAX_RATIO = 4  # issue 18 (was 5)
REPEAT = 40
LANES_PER_CHAIR = 12  # 40-minute slots: 120 sessions on every open day
PREFERRED_TIME = dt.time(9, 45)  # a time some chairs keep free, with room for mapping


def main() -> None:
    setup_django()
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from clinic.errors import Conflict
    from courses.models import Protocol, TreatmentCourse
    from courses.services import course_create
    from scheduling.calendar import load_calendar
    from scheduling.models import Session
    from scheduling.planner import Planner
    from scheduling.risk import recompute_risk
    from scheduling.services.booking import (
        course_schedule,
        course_schedule_booking,
        course_shape,
        planning_limit,
    )

    with throwaway_database():
        year = build_year(protocol_code="10hz-standard", lanes_per_chair=LANES_PER_CHAIR)
        print("course_schedule: booking one course into a year of sessions")
        year.describe()
        start = year.today + dt.timedelta(days=7 - year.today.weekday())  # next Monday
        while start in year.closures:
            start += dt.timedelta(days=1)

        def new_course(code: str, mrn: str, at: dt.time = PREFERRED_TIME) -> TreatmentCourse:
            return course_create(
                patient=cleared_patient(year.clinic, year.psychiatrist, mrn),
                psychiatrist=year.psychiatrist,
                protocol=Protocol.objects.get(clinic=None, code=code),
                indication="mdd",
                start_date=start,
                preferred_time=at,
            )

        def book(course: TreatmentCourse, **options: Any) -> list[Session]:
            """Book the course and roll everything back: the service's own dry run, the
            same rules and statements in the outermost transaction, as the API runs it
            (wrapped in a transaction of the benchmark's, the service's own would be a
            savepoint: two more round trips that neither the API nor the floor makes)."""
            return course_schedule_booking(course, dry_run=True, **options).sessions

        course = new_course("10hz-standard", "NEW-10HZ")
        booked = book(course)
        print(
            f"  course: 10hz-standard, {len(booked)} sessions from {start} at "
            f"{PREFERRED_TIME:%H:%M}: {booked[0].starts_at:%Y-%m-%d} .. "
            f"{booked[-1].starts_at:%Y-%m-%d}"
        )

        # The floor: the same rows in one multi-row INSERT (RETURNING id, as bulk_create),
        # every column the model has (course_schedule writes them all).
        fields = [field for field in Session._meta.concrete_fields if not field.primary_key]
        now = timezone.now()
        stamped = {"created_at": now, "updated_at": now}
        rows = [
            tuple(stamped.get(field.attname, getattr(session, field.attname)) for field in fields)
            for session in booked
        ]
        placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
        columns = ", ".join(connection.ops.quote_name(str(field.column)) for field in fields)
        insert_sql = (
            f"INSERT INTO {Session._meta.db_table} ({columns}) "
            f"VALUES {', '.join([placeholders] * len(rows))} RETURNING id"
        )
        params = [value for row in rows for value in row]

        def floor() -> None:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(insert_sql, params)
                    assert len(cursor.fetchall()) == len(rows)
                transaction.set_rollback(True)

        measured = measure_against_floor(
            f"course_schedule, {len(booked)} sessions",
            lambda: book(course),
            f"floor: one INSERT of the same {len(rows)} rows",
            floor,
            repeat=REPEAT,
        )
        measured.show(max_queries=MAX_QUERIES, max_ratio=MAX_RATIO)
        queries = measured.queries
        show_queries(queries)

        # Where the time goes: the calendar load, the planning in memory, the risk update.
        limit = planning_limit(course)
        calendar = load_calendar(
            year.clinic, start, limit, coil=course.protocol.coil, patient_id=course.patient_id
        )
        loaded = sum(len(busy.intervals) for busy in calendar.chair_busy.values())
        calendar_figures = measure(
            f"part: load_calendar {start} .. {limit} ({loaded:,} busy intervals)",
            lambda: load_calendar(
                year.clinic, start, limit, coil=course.protocol.coil, patient_id=course.patient_id
            ),
            repeat=REPEAT,
        )
        shape = course_shape(course.protocol)
        plan_times = []
        for _ in range(REPEAT):
            planner = Planner(
                load_calendar(
                    year.clinic,
                    start,
                    limit,
                    coil=course.protocol.coil,
                    patient_id=course.patient_id,
                ),
                preferred_time=course.preferred_time,
                preferred_chair_id=None,
            )
            started = time.perf_counter()
            planner.plan(shape, start, until=limit)
            plan_times.append((time.perf_counter() - started) * 1000)
        with transaction.atomic():
            course_schedule(course)
            risk_figures = measure(
                "part: recompute_risk of the booked course",
                lambda: recompute_risk([course.pk]),
                repeat=REPEAT,
            )
            transaction.set_rollback(True)
        calendar_figures.show()
        print(f"  part: Planner.plan in memory: median {statistics.median(plan_times):.2f} ms")
        risk_figures.show()

        for code, at, options in [
            ("deep-tms-h1", PREFERRED_TIME, {}),
            ("snt-accelerated", dt.time(7, 30), {"time_flex_minutes": 15}),
        ]:
            other = new_course(code, f"NEW-{code}", at)
            with CaptureQueriesContext(connection) as captured:
                try:
                    placed = len(book(other, **options))
                except Conflict as exc:
                    placed = 0
                    print(f"  {code}: not booked ({exc})")
            flex = f", time flex {options['time_flex_minutes']} min" if options else ""
            print(
                f"  {code}: {placed} sessions booked from {start} at {at:%H:%M}{flex}, "
                f"queries {len(statements(captured))}"
            )
        print(f"  process peak RSS {max_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
