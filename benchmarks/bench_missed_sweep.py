"""The missed-session sweep (scheduling.services.sweep_missed_sessions) over a year of
about 100,000 sessions of which 1,000, spread over 1,000 courses, are overdue.

Before each run (outside the timed part) the overdue sessions are put back to
scheduled, the courses' session sequences renumbered as they were, the courses' stored
risk levels restored and the tables vacuumed, so every run does the same work. Each run
commits, as the Celery task does. Query counts are SQL statements
(BEGIN/COMMIT/ROLLBACK/SAVEPOINT/RELEASE not counted).
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
from collections import defaultdict

from benchmarks.clinic_year import OCCUPYING_SQL, build_year, show_queries, statements, timed
from benchmarks.harness import Figures, max_rss_mib, setup_django, throwaway_database

TARGET_MS = 1000
RUNS = 5
OVERDUE = 1000
LANES_PER_CHAIR = 37  # iTBS, 10-minute slots: 370 sessions a day, about 100,000 a year
SEARCH_WEEKS = 14  # overdue sessions are picked among the last weeks' sessions


def main() -> None:
    setup_django()
    import tracemalloc

    from django.db import connection, transaction
    from django.db.models import Q
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from clinic.models import Clinic
    from courses.models import CourseStatus, TreatmentCourse
    from scheduling.models import Session, SessionStatus
    from scheduling.risk import recompute_risk
    from scheduling.services.attendance import _update_returning_courses, sweep_missed_sessions

    with throwaway_database():
        year = build_year(protocol_code="itbs", lanes_per_chair=LANES_PER_CHAIR)
        print(f"missed-session sweep: {OVERDUE:,} overdue sessions in a year of sessions")
        year.describe()

        # Pick one past session in each of 1,000 courses and leave it scheduled, as if
        # nobody had checked the patient in; those courses are (still) open.
        rng = random.Random(2)
        now = timezone.now()
        by_course: dict[int, list[int]] = defaultdict(list)
        for session_id, course_id in (
            Session.objects.filter(
                status=SessionStatus.COMPLETED,
                ends_at__gte=now - dt.timedelta(weeks=SEARCH_WEEKS),
                ends_at__lt=now - dt.timedelta(hours=1),
            )
            .order_by("id")
            .values_list("id", "course_id")
        ):
            by_course[course_id].append(session_id)
        course_ids = sorted(rng.sample(sorted(by_course), OVERDUE))
        overdue_ids = sorted(rng.choice(by_course[course_id]) for course_id in course_ids)
        Session.objects.filter(id__in=overdue_ids).update(
            status=SessionStatus.SCHEDULED, checked_in_at=None, completed_at=None
        )
        TreatmentCourse.objects.filter(id__in=course_ids).update(
            status=CourseStatus.ACTIVE, completed_on=None
        )
        recompute_risk(course_ids)  # the stored levels before the sweep
        levels: dict[str, list[int]] = defaultdict(list)
        for course_id, level in TreatmentCourse.objects.filter(id__in=course_ids).values_list(
            "id", "risk_level"
        ):
            levels[level].append(course_id)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM scheduling_session s JOIN scheduling_session o "
                "ON o.course_id = s.course_id AND o.id = ANY(%s) "
                f"WHERE s.status IN {OCCUPYING_SQL} AND (s.starts_at, s.id) > (o.starts_at, o.id)",
                [overdue_ids],
            )
            (shifted,) = cursor.fetchone() or (0,)
        print(
            f"  overdue: {len(overdue_ids):,} sessions in {len(course_ids):,} courses, ended "
            f"1 h .. {SEARCH_WEEKS} weeks ago; {shifted:,} later sessions of those courses "
            f"move down one in sequence; stored risk before the sweep: "
            + ", ".join(f"{len(ids)} {level}" for level, ids in sorted(levels.items())),
            flush=True,
        )

        def reset() -> None:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE scheduling_session SET status = 'scheduled', missed_at = NULL "
                    "WHERE id = ANY(%s)",
                    [overdue_ids],
                )
                for level, ids in levels.items():
                    cursor.execute(
                        "UPDATE courses_treatmentcourse SET risk_level = %s WHERE id = ANY(%s)",
                        [level, ids],
                    )
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE scheduling_session")
                cursor.execute("VACUUM ANALYZE courses_treatmentcourse")

        def sweep() -> list[int]:
            return sweep_missed_sessions()

        timings = []
        for _ in range(RUNS):
            reset()
            flipped, elapsed = timed(sweep)
            assert len(flipped) == OVERDUE, len(flipped)
            timings.append(elapsed)
        reset()
        with CaptureQueriesContext(connection) as captured:
            sweep()
        queries = statements(captured)
        reset()
        tracemalloc.start()
        sweep()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        figures = Figures(
            f"sweep_missed_sessions, {year.sessions:,} sessions, {OVERDUE:,} overdue",
            statistics.median(timings),
            len(queries),
            peak / 1024,
        )
        figures.show(
            runs=RUNS,
            min=f"{min(timings):.0f} ms",
            max=f"{max(timings):.0f} ms",
            target=f"< {TARGET_MS} ms",
        )
        show_queries(queries)

        # The same steps one by one, on the same rows, to see where the time goes.
        parts: dict[str, list[float]] = defaultdict(list)
        for _ in range(RUNS):
            reset()
            now = timezone.now()

            def whole(now: dt.datetime = now) -> None:
                graces = list(
                    Clinic.objects.values_list("missed_grace_minutes", flat=True).distinct()
                )
                overdue = Q()
                for grace in graces:
                    overdue |= Q(
                        chair__clinic__missed_grace_minutes=grace,
                        ends_at__lt=now - dt.timedelta(minutes=grace),
                    )
                candidates = Session.objects.filter(overdue, status=SessionStatus.SCHEDULED)
                with transaction.atomic():
                    flipped, elapsed = timed(
                        lambda: _update_returning_courses(candidates.values("id"), now)
                    )
                    parts["UPDATE ... RETURNING course_id"].append(elapsed)
                    ids = sorted({course_id for _, course_id in flipped})
                    parts["recompute_risk"].append(timed(lambda: recompute_risk(ids))[1])

            parts["whole, with COMMIT"].append(timed(whole)[1])
        for name, values in parts.items():
            print(f"  part: {name}: median {statistics.median(values):.1f} ms")
        print(f"  process peak RSS {max_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
