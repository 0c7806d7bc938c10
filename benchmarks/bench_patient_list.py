"""Listing patients through the API with 10,000 patients in the clinic, and what the
audit trail adds to it (issue 15: within 10%).

Each list is measured as the API answers it, and then again with the audit trail's
middleware left out, the two clients' requests taken in turns (one with, one without,
...) so that the machine's load, which on a shared 2-core machine moves a benchmark's
figures by more than 10% from one run to the next, weighs on both alike. Each request's
CPU time is counted too, this process's and its PostgreSQL backend's (both on this
machine): what the trail costs in work, which the machine's load does not change as it
changes the time waited."""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.harness import max_rss_mib, measure, setup_django, throwaway_database

PATIENTS = 10_000
ROUNDS = 41


def cpu_ns(backend: Path) -> int:
    """CPU nanoseconds used so far by this process and by the database backend
    (``/proc/<pid>/schedstat``'s first field)."""
    return time.process_time_ns() + int(backend.read_text().split()[0])


def in_turns(
    with_trail: Callable[[], None], without: Callable[[], None], backend: Path
) -> dict[str, tuple[float, float]]:
    """Median wall and CPU ms of each, their requests alternating (which goes first
    alternates too)."""
    wall: dict[Callable[[], None], list[float]] = {with_trail: [], without: []}
    cpu: dict[Callable[[], None], list[float]] = {with_trail: [], without: []}
    for n in range(ROUNDS):
        for action in (with_trail, without) if n % 2 else (without, with_trail):
            started, started_cpu = time.perf_counter(), cpu_ns(backend)
            action()
            wall[action].append((time.perf_counter() - started) * 1000)
            cpu[action].append((cpu_ns(backend) - started_cpu) / 1e6)
    return {
        kind: (statistics.median(figures[with_trail]), statistics.median(figures[without]))
        for kind, figures in (("wall", wall), ("CPU", cpu))
    }


def main() -> None:
    setup_django()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import override_settings
    from rest_framework.test import APIClient

    from clinic.models import Clinic, Patient, Role, StaffMembership
    from clinic.tokens import new_token

    with throwaway_database():
        clinic = Clinic.objects.create(
            name="Bench",
            slug="bench",
            timezone="America/New_York",
            display_name="Bench Wellness",
            phone="+17185550100",
        )
        Patient.objects.bulk_create(
            Patient(
                clinic=clinic,
                mrn=f"B-{n:06d}",
                first_name=f"First{n}",
                last_name=f"Last{n:05d}",
                date_of_birth=dt.date(1970, 1, 1) + dt.timedelta(days=n % 15000),
                phone=f"+1718555{n % 10000:04d}",
                email=f"p{n}@example.com",
            )
            for n in range(PATIENTS)
        )
        user = get_user_model().objects.create_user("bench-desk")
        StaffMembership.objects.create(user=user, clinic=clinic, role=Role.FRONT_DESK)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {new_token(user, 'benchmark')[1]}")
        # A client's handler builds its middleware chain on its first request and keeps
        # it: this one's is built without the audit trail's.
        untraced = APIClient()
        untraced.credentials(HTTP_AUTHORIZATION=f"Bearer {new_token(user, 'untraced')[1]}")
        trail = "clinic.audit_trail.AuditMiddleware"
        without_trail = [m for m in settings.MIDDLEWARE if m != trail]
        with override_settings(MIDDLEWARE=without_trail):
            untraced.get("/api/v1/patients/")

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = Path(f"/proc/{cursor.fetchone()[0]}/schedstat")

        print(f"patient list, {PATIENTS:,} patients in the clinic")
        for label, url in [
            ("first page (50)", "/api/v1/patients/"),
            ("page of 500", "/api/v1/patients/?page_size=500"),
            ("last page of 500", f"/api/v1/patients/?page_size=500&page={PATIENTS // 500}"),
            ("search by name", "/api/v1/patients/?q=Last0999"),
        ]:

            def fetch(url: str = url, client: APIClient = client) -> None:
                response = client.get(url)
                assert response.status_code == 200, response.status_code

            def fetch_untraced(url: str = url) -> None:
                fetch(url, untraced)

            measure(label, fetch).show()
            for kind, (on, off) in in_turns(fetch, fetch_untraced, backend).items():
                print(
                    f"    {kind} in turns: {on:.2f} ms with the audit trail, "
                    f"{off:.2f} ms without, {100 * (on - off) / off:+.1f}%"
                )
        print(f"  process peak RSS {max_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
