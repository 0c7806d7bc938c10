"""Planning reminders for 10,000 sessions tomorrow (target: under 3 s).

Ten clinics of 60 chairs each hold 10,000 sessions tomorrow (clinic-local), each for its
own consenting patient (SMS and email), so the planner writes a day-before (or first-
session) and a same-day reminder per channel: about 40,000 outbox rows. The second run
shows the idempotent case (every key exists already).
"""

from __future__ import annotations

import datetime as dt
import time

from benchmarks.harness import counting_statements, max_rss_mib, setup_django, throwaway_database

SESSIONS = 10_000
CLINICS = 10
CHAIRS_PER_CLINIC = 60
SLOT_MINUTES = 40


def main() -> None:
    setup_django()
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from clinic.models import Chair, Clinic, Patient
    from courses.models import Protocol, TreatmentCourse
    from notifications.models import Notification
    from notifications.services import plan_reminders
    from scheduling.models import Session

    with throwaway_database():
        psychiatrist = get_user_model().objects.create_user("bench-psychiatrist")
        protocol = Protocol.objects.get(clinic=None, code="10hz-standard")
        now = timezone.now()
        sessions: list[Session] = []
        per_clinic = SESSIONS // CLINICS
        for c in range(CLINICS):
            clinic = Clinic.objects.create(
                name=f"Bench {c}",
                slug=f"bench-{c}",
                timezone="America/New_York",
                display_name="Bench Wellness",
                phone="+17185550100",
            )
            chairs = Chair.objects.bulk_create(
                Chair(clinic=clinic, name=f"Chair {n:02d}") for n in range(CHAIRS_PER_CLINIC)
            )
            patients = Patient.objects.bulk_create(
                Patient(
                    clinic=clinic,
                    mrn=f"B{c}-{n:05d}",
                    first_name="Alex",
                    last_name=f"P{n}",
                    date_of_birth=dt.date(1980, 1, 1),
                    phone=f"+1718555{n % 10000:04d}",
                    email=f"p{c}-{n}@example.com",
                    sms_consent=True,
                    email_consent=True,
                )
                for n in range(per_clinic)
            )
            courses = TreatmentCourse.objects.bulk_create(
                TreatmentCourse(
                    patient=patient,
                    psychiatrist=psychiatrist,
                    protocol=protocol,
                    indication="mdd",
                    start_date=now.date(),
                    preferred_time=dt.time(9),
                    status="active",
                )
                for patient in patients
            )
            tomorrow = (now.astimezone(clinic.tz) + dt.timedelta(days=1)).date()
            opens = dt.datetime.combine(tomorrow, dt.time(7, 30), tzinfo=clinic.tz)
            for index, course in enumerate(courses):
                chair, slot = index % CHAIRS_PER_CLINIC, index // CHAIRS_PER_CLINIC
                starts = opens + dt.timedelta(minutes=SLOT_MINUTES * slot)
                sessions.append(
                    Session(
                        course=course,
                        patient=course.patient,
                        chair=chairs[chair],
                        starts_at=starts,
                        ends_at=starts + dt.timedelta(minutes=SLOT_MINUTES),
                        kind="treatment",
                        phase=1,
                    )
                )
        Session.objects.bulk_create(sessions, batch_size=5000)

        print(f"plan reminders: {len(sessions):,} sessions tomorrow in {CLINICS} clinics")
        for label in ("first run", "second run (idempotent)"):
            with counting_statements() as statements:
                started = time.perf_counter()
                written = plan_reminders()
                elapsed = time.perf_counter() - started
            print(
                f"  {label}: {elapsed * 1000:.0f} ms, {len(statements)} queries, "
                f"{written:,} rows offered, target < 3000 ms"
            )
        print(f"  outbox rows: {Notification.objects.count():,}")
        print(f"  process peak RSS {max_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
