"""FHIR R4 reads on the demo clinic: searches of one page and of 500, and a patient's
$everything, beside the API's session list for comparison."""

from __future__ import annotations

import io

from benchmarks.harness import max_rss_mib, measure, setup_django, throwaway_database


def main() -> None:
    setup_django()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db.models import Count
    from rest_framework.test import APIClient

    from clinic.models import Patient
    from clinic.tokens import new_token
    from scheduling.models import Session

    with throwaway_database():
        call_command("seed_demo", stdout=io.StringIO())
        user = get_user_model().objects.get(username="psychiatrist")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {new_token(user, 'benchmark')[1]}")
        busiest = Patient.objects.annotate(n=Count("sessions")).order_by("-n").first()
        assert busiest is not None
        print(
            f"FHIR on the demo clinic: {Session.objects.count():,} sessions; "
            f"$everything of a patient with {busiest.n} sessions"
        )
        for label, url in [
            ("CapabilityStatement", "/fhir/R4/metadata"),
            ("Appointment search, first page (50)", "/fhir/R4/Appointment"),
            ("Appointment search, page of 500", "/fhir/R4/Appointment?_count=500"),
            (
                "Appointment search by day range",
                "/fhir/R4/Appointment?date=ge2020-01-01&_count=500",
            ),
            ("Observation search, page of 500", "/fhir/R4/Observation?_count=500"),
            ("Procedure search, page of 500", "/fhir/R4/Procedure?_count=500"),
            ("CarePlan search, page of 500", "/fhir/R4/CarePlan?_count=500"),
            ("$everything", f"/fhir/R4/Patient/{busiest.pk}/$everything"),
            ("API session list, page of 500 (for comparison)", "/api/v1/sessions/?page_size=500"),
        ]:

            def fetch(url: str = url) -> None:
                response = client.get(url)
                assert response.status_code == 200, response.status_code

            measure(label, fetch).show()
        print(f"  process peak RSS {max_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
