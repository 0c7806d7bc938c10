"""Fitting the waitlist again after one cancellation: 50 waiting courses in a clinic of
10 chairs with a year of sessions (benchmarks.clinic_year), the earliest start of each
worked out by scheduling.services.waitlist_refresh (the on-commit task's work).

Each repetition runs in a transaction that is rolled back: one booked course is
discontinued (its sessions released), then the refresh is timed. The figure is the
median; the queries are SQL statements (BEGIN/SAVEPOINT and the like not counted).
Target (issue 16): under 2 s.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time

from benchmarks.clinic_year import build_year, cleared_patient, count_statements
from benchmarks.harness import setup_django, throwaway_database

WAITING = 50
REPEAT = 5
TARGET_SECONDS = 2.0
MAX_QUERIES = 10
TIMES = [dt.time(8, 0), dt.time(9, 45), dt.time(12, 30), dt.time(16, 30)]
PREFERENCES = ["before", "around", "after"]


def main() -> None:
    setup_django()
    from django.db import transaction

    from courses.models import CourseStatus, Protocol, TreatmentCourse
    from courses.services import course_create, course_transition
    from scheduling.models import Session, SessionStatus, WaitlistEntry
    from scheduling.services import waitlist_refresh

    with throwaway_database():
        year = build_year(protocol_code="10hz-standard", lanes_per_chair=12)
        print(f"waitlist_refresh: {WAITING} waiting courses fitted again after one cancellation")
        year.describe()
        protocol = Protocol.objects.get(clinic=None, code="10hz-standard")
        for n in range(WAITING):
            course = course_create(
                patient=cleared_patient(year.clinic, year.psychiatrist, f"W{n:04d}"),
                psychiatrist=year.psychiatrist,
                protocol=protocol,
                indication="mdd",
                start_date=year.today,
                preferred_time=TIMES[n % len(TIMES)],
            )
            WaitlistEntry.objects.create(
                clinic=year.clinic,
                course=course,
                preferred_time=TIMES[n % len(TIMES)],
                time_preference=PREFERENCES[n % len(PREFERENCES)],
                time_flex_minutes=(n % 3) * 30,
                not_before=year.today,
            )
        waitlist_refresh(year.clinic.pk)  # the fits before the cancellation
        ongoing = (
            TreatmentCourse.objects.filter(
                patient__clinic=year.clinic,
                status=CourseStatus.ACTIVE,
                sessions__status=SessionStatus.SCHEDULED,
            )
            .distinct()
            .order_by("id")
            .first()
        )
        assert ongoing is not None
        released = Session.objects.filter(course=ongoing, status=SessionStatus.SCHEDULED).count()
        print(f"  cancelling course {ongoing.pk} releases {released} sessions", flush=True)

        seconds: list[float] = []
        queries = 0
        offers = 0
        for run in range(REPEAT):
            with transaction.atomic():
                course_transition(
                    ongoing, CourseStatus.DISCONTINUED, by=year.psychiatrist, reason="bench"
                )
                started = time.perf_counter()
                if run == 0:
                    captured = count_statements(lambda: waitlist_refresh(year.clinic.pk))
                    queries = len(captured)
                else:
                    offers = len(waitlist_refresh(year.clinic.pk))
                seconds.append(time.perf_counter() - started)
                fitted = WaitlistEntry.objects.filter(fit_start__isnull=False).count()
                transaction.set_rollback(True)
        median = statistics.median(seconds)
        print(
            f"  refresh of {WAITING} entries: median {median * 1000:.0f} ms over {REPEAT} runs "
            f"(min {min(seconds) * 1000:.0f}, max {max(seconds) * 1000:.0f}); {queries} queries; "
            f"{fitted} fit within the horizon; {offers} new offers",
            flush=True,
        )
        verdict = "OK" if median < TARGET_SECONDS and queries <= MAX_QUERIES else "OVER TARGET"
        print(f"  target < {TARGET_SECONDS:.0f} s and <= {MAX_QUERIES} queries: {verdict}")


if __name__ == "__main__":
    main()
