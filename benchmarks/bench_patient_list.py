"""Listing patients through the API with 10,000 patients in the clinic."""

from __future__ import annotations

import datetime as dt

from benchmarks.harness import max_rss_mib, measure, setup_django, throwaway_database

PATIENTS = 10_000


def main() -> None:
    setup_django()
    from django.contrib.auth import get_user_model
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

        print(f"patient list, {PATIENTS:,} patients in the clinic")
        for label, url in [
            ("first page (50)", "/api/v1/patients/"),
            ("page of 500", "/api/v1/patients/?page_size=500"),
            ("last page of 500", f"/api/v1/patients/?page_size=500&page={PATIENTS // 500}"),
            ("search by name", "/api/v1/patients/?q=Last0999"),
        ]:

            def fetch(url: str = url) -> None:
                response = client.get(url)
                assert response.status_code == 200, response.status_code

            measure(label, fetch).show()
        print(f"  process peak RSS {max_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
