"""Superbills (docs/billing.md): a patient's PDF read back with a real PDF reader, its
CSV and the clinic's period export parsed back with the csv module, the clinic's
billing identifiers, the date checks, the audit trail and who may download them."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from clinic.identifiers import validate_npi, validate_tax_id
from clinic.models import AuditEvent, Role
from tests.factories import (
    CourseFactory,
    PatientFactory,
    SessionFactory,
    UserFactory,
)

NY = dt.timezone(dt.timedelta(hours=-5))
DECEMBER = {"date_from": "2026-12-01", "date_to": "2026-12-31"}


def _delivered(
    course: Any, day: dt.date, code: str, kind: str = "treatment", hour: int = 10
) -> Any:
    starts = dt.datetime.combine(day, dt.time(hour), tzinfo=NY)
    return SessionFactory(
        course=course,
        starts_at=starts,
        ends_at=starts + dt.timedelta(minutes=40),
        kind=kind,
        status="completed",
        checked_in_at=starts,
        completed_at=starts + dt.timedelta(minutes=40),
        billing_code=code,
        service_date=day,
    )


@pytest.fixture
def billed(clinic: Any) -> Any:
    """Ana Ruiz's course in December: mapping on the 1st (with a same-day treatment),
    treatments on the 2nd and 3rd, a re-determination on the 10th; a session in
    November and one scheduled in December bill nothing here."""
    clinic.npi, clinic.tax_id = "1234567893", "12-3456789"
    clinic.save()
    doctor = UserFactory(first_name="Maya", last_name="Okafor")
    patient = PatientFactory(
        clinic=clinic,
        first_name="Ana",
        last_name="Ruiz",
        mrn="MRN-77",
        date_of_birth=dt.date(1971, 3, 9),
    )
    course = CourseFactory(patient=patient, psychiatrist=doctor, indication="mdd")
    _delivered(course, dt.date(2026, 11, 30), "90868")
    _delivered(course, dt.date(2026, 12, 1), "90867", kind="mapping")
    _delivered(course, dt.date(2026, 12, 1), "90868", hour=14)
    _delivered(course, dt.date(2026, 12, 2), "90868")
    _delivered(course, dt.date(2026, 12, 3), "90868")
    _delivered(course, dt.date(2026, 12, 10), "90869", kind="remap")
    SessionFactory(course=course, starts_at=dt.datetime(2026, 12, 11, 15, tzinfo=dt.UTC))
    return course


def _rows(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"))))


def test_the_superbill_pdf_reads_back(billed: Any, page_as: Any) -> None:
    client = page_as(Role.FRONT_DESK)
    response = client.get(f"/patients/{billed.patient_id}/superbill/", DECEMBER)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    reader = PdfReader(io.BytesIO(response.content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    for expected in (
        "Superbill",
        "12/01/2026 to 12/31/2026",
        "NPI: 1234567893",
        "Tax id (EIN): 12-3456789",
        "Ruiz, Ana",
        "Date of birth: 03/09/1971",
        "MRN: MRN-77",
        "F33.2",
        "Maya Okafor",
    ):
        assert expected in text, expected
    lines = text.splitlines()
    # The table's cells come out one a line: date, code, description, POS, units.
    rows = [
        (line, lines[n + 1], lines[n + 3], lines[n + 4])
        for n, line in enumerate(lines)
        if re.fullmatch(r"\d\d/\d\d/\d{4}", line)
    ]
    # One row per date and code; the mapping day's treatment is in the 90867.
    assert rows == [
        ("12/01/2026", "90867", "11", "1"),
        ("12/02/2026", "90868", "11", "1"),
        ("12/03/2026", "90868", "11", "1"),
        ("12/10/2026", "90869", "11", "1"),
    ]
    assert "11/30/2026" not in text
    assert lines[lines.index("Total units") + 1] == "4"
    assert "Missing" not in text


def test_a_superbill_names_what_is_not_on_file(billed: Any, page_as: Any, clinic: Any) -> None:
    clinic.npi = ""
    clinic.save()
    type(billed).objects.filter(pk=billed.pk).update(indication="other")
    response = page_as(Role.CLINIC_ADMIN).get(f"/patients/{billed.patient_id}/superbill/", DECEMBER)
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert "The clinic's NPI is not set" in text
    assert f"Course {billed.pk} records no ICD-10 diagnosis code" in text


def test_a_course_records_its_own_diagnosis_code(billed: Any, page_as: Any) -> None:
    type(billed).objects.filter(pk=billed.pk).update(diagnosis_code="F32.2")
    response = page_as(Role.FRONT_DESK).get(
        f"/patients/{billed.patient_id}/superbill/", {**DECEMBER, "output": "csv"}
    )
    assert {row["diagnosis_icd10"] for row in _rows(response.content)} == {"F32.2"}


def test_the_superbill_csv_parses_back(billed: Any, page_as: Any) -> None:
    response = page_as(Role.FRONT_DESK).get(
        f"/patients/{billed.patient_id}/superbill/", {**DECEMBER, "output": "csv"}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = _rows(response.content)
    assert [(r["date_of_service"], r["cpt_code"], r["units"], r["sessions"]) for r in rows] == [
        ("2026-12-01", "90867", "1", "1"),
        ("2026-12-02", "90868", "1", "1"),
        ("2026-12-03", "90868", "1", "1"),
        ("2026-12-10", "90869", "1", "1"),
    ]
    first = rows[0]
    assert first["clinic_npi"] == "1234567893" and first["clinic_tax_id"] == "12-3456789"
    assert (first["patient_last_name"], first["patient_first_name"]) == ("Ruiz", "Ana")
    assert first["patient_date_of_birth"] == "1971-03-09"
    assert first["diagnosis_icd10"] == "F33.2" and first["place_of_service"] == "11"
    assert first["rendering_provider"] == "Maya Okafor"


def test_the_period_export_holds_every_patient_of_the_clinic_only(
    billed: Any, clinic: Any, other_clinic: Any, page_as: Any
) -> None:
    second = CourseFactory(
        patient=PatientFactory(clinic=clinic, last_name="Abara", mrn="=HYPERLINK(1)"),
        indication="ocd",
    )
    _delivered(second, dt.date(2026, 12, 4), "90868")
    elsewhere = CourseFactory(patient=PatientFactory(clinic=other_clinic))
    _delivered(elsewhere, dt.date(2026, 12, 4), "90868")
    response = page_as(Role.CLINIC_ADMIN).get("/billing/export.csv", DECEMBER)
    assert response.status_code == 200
    rows = _rows(response.content)
    assert [(r["patient_last_name"], r["cpt_code"]) for r in rows] == [
        ("Abara", "90868"),
        ("Ruiz", "90867"),
        ("Ruiz", "90868"),
        ("Ruiz", "90868"),
        ("Ruiz", "90869"),
    ]
    assert rows[0]["diagnosis_icd10"] == "F42.2"
    assert rows[0]["patient_mrn"] == "'=HYPERLINK(1)"  # not a formula in a spreadsheet
    event = AuditEvent.objects.get(action="export")
    assert event.object_type == "page:billing-export"
    assert sorted(event.patient_ids) == sorted([billed.patient_id, second.patient_id])


def test_a_superbill_download_is_an_export_event(billed: Any, staff: Any, api: Any) -> None:
    user = staff(Role.FRONT_DESK)
    response = api(user).get(f"/api/v1/patients/{billed.patient_id}/superbill/", DECEMBER)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    (event,) = AuditEvent.objects.filter(action="export")
    assert event.actor == user and event.patient_ids == [billed.patient_id]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"date_from": "2026-12-31", "date_to": "2026-12-01"}, "date_to"),
        ({"date_from": "2025-01-01", "date_to": "2026-12-31"}, "date_to"),
        ({"date_from": "1899-12-31", "date_to": "1900-01-31"}, "date_from"),
        ({"date_from": "2026-12-01"}, "date_to"),
        ({**DECEMBER, "output": "docx"}, "output"),
    ],
)
def test_bad_periods_are_refused_with_a_code(
    billed: Any, api_as: Any, page_as: Any, query: dict[str, str], field: str
) -> None:
    response = api_as(Role.FRONT_DESK).get(
        f"/api/v1/patients/{billed.patient_id}/superbill/", query
    )
    assert response.status_code == 400
    assert field in response.json()["errors"]
    page = page_as(Role.FRONT_DESK).get(f"/patients/{billed.patient_id}/superbill/", query)
    assert page.status_code == 400


def test_an_accept_header_for_pdf_is_answered(billed: Any, api_as: Any) -> None:
    client = api_as(Role.CLINIC_ADMIN)
    url = f"/api/v1/patients/{billed.patient_id}/superbill/"
    assert client.get(url, DECEMBER, HTTP_ACCEPT="application/pdf").status_code == 200
    refused = client.get(url, {"date_from": "x"}, HTTP_ACCEPT="application/pdf")
    assert refused.status_code == 400 and refused["Content-Type"] == "application/json"


# --- who may ---------------------------------------------------------------------------

SUPERBILL = {Role.FRONT_DESK: 200, Role.CLINIC_ADMIN: 200, Role.TECHNICIAN: 403}
SUPERBILL[Role.PSYCHIATRIST] = 403


def _actor(name: str, staff: Any, other_clinic: Any, superuser: Any) -> Any:
    if name == "anonymous":
        return None
    if name == "superuser":
        return superuser
    if name == "outsider":
        return staff(Role.CLINIC_ADMIN, in_clinic=other_clinic)
    return staff(name)


ACTORS = [*Role.values, "anonymous", "superuser", "outsider"]


@pytest.mark.parametrize("actor", ACTORS)
def test_who_downloads_a_superbill(
    billed: Any, staff: Any, api: Any, other_clinic: Any, superuser: Any, actor: str
) -> None:
    user = _actor(actor, staff, other_clinic, superuser)
    response = api(user).get(f"/api/v1/patients/{billed.patient_id}/superbill/", DECEMBER)
    expected = {"anonymous": 401, "superuser": 200, "outsider": 404, **SUPERBILL}[actor]
    assert response.status_code == expected


@pytest.mark.parametrize("actor", ACTORS)
def test_who_exports_the_period(
    billed: Any,
    clinic: Any,
    staff: Any,
    api: Any,
    other_clinic: Any,
    superuser: Any,
    actor: str,
    django_assert_max_num_queries: Any,
) -> None:
    user = _actor(actor, staff, other_clinic, superuser)
    client = api(user)
    with django_assert_max_num_queries(12):
        response = client.get("/api/v1/billing/export/", {"clinic": clinic.pk, **DECEMBER})
    # An outsider names a clinic unknown to them (400), as in every clinic parameter.
    expected = {
        "anonymous": 401,
        "superuser": 200,
        "outsider": 400,
        Role.CLINIC_ADMIN: 200,
    }.get(actor, 403)
    assert response.status_code == expected
    if expected == 200:
        assert len(_rows(response.content)) == 4


@pytest.mark.parametrize("actor", [*Role.values, "outsider"])
def test_who_opens_the_billing_pages(
    billed: Any, client: Any, staff: Any, other_clinic: Any, superuser: Any, actor: str
) -> None:
    client.force_login(_actor(actor, staff, other_clinic, superuser))
    superbill = client.get(f"/patients/{billed.patient_id}/superbill/", DECEMBER)
    page = client.get("/billing/")
    export = client.get("/billing/export.csv", DECEMBER)
    prints = actor in (Role.FRONT_DESK, Role.CLINIC_ADMIN)
    exports = actor == Role.CLINIC_ADMIN
    assert superbill.status_code == (200 if prints else 404 if actor == "outsider" else 403)
    assert page.status_code == (200 if exports or actor == "outsider" else 403)
    assert export.status_code == (200 if exports or actor == "outsider" else 403)
    if actor == "outsider":  # their own clinic's export: none of this clinic's patients
        assert len(_rows(export.content)) == 0


def test_the_patient_page_offers_the_superbill_to_who_may_print_it(
    billed: Any, page_as: Any
) -> None:
    url = f"/patients/{billed.patient_id}/"
    assert b"Download the superbill" in page_as(Role.FRONT_DESK).get(url).content
    assert b"Download the superbill" not in page_as(Role.TECHNICIAN).get(url).content


# --- the clinic's identifiers ------------------------------------------------------------


@pytest.mark.parametrize("npi", ["1234567893", "1245319599", "1000000004"])
def test_npis_with_a_right_check_digit(npi: str) -> None:
    validate_npi(npi)


@pytest.mark.parametrize(
    "npi", ["1234567890", "123456789", "12345678931", "3234567891", "12345a7893"]
)
def test_npis_refused(npi: str) -> None:
    with pytest.raises(ValidationError):
        validate_npi(npi)


@pytest.mark.parametrize(
    ("tax_id", "valid"),
    [("12-3456789", True), ("123456789", False), ("00-1234567", False), ("12-345678", False)],
)
def test_tax_ids(tax_id: str, valid: bool) -> None:
    if valid:
        validate_tax_id(tax_id)
    else:
        with pytest.raises(ValidationError):
            validate_tax_id(tax_id)


def test_the_clinic_api_checks_the_npi(clinic: Any, api_as: Any) -> None:
    admin = api_as(Role.CLINIC_ADMIN)
    bad = admin.patch(f"/api/v1/clinics/{clinic.pk}/", {"npi": "1234567890"}, format="json")
    assert bad.status_code == 400 and "npi" in bad.json()["errors"]
    good = admin.patch(
        f"/api/v1/clinics/{clinic.pk}/",
        {"npi": "1234567893", "tax_id": "12-3456789"},
        format="json",
    )
    assert good.status_code == 200, good.content
    assert (good.json()["npi"], good.json()["tax_id"]) == ("1234567893", "12-3456789")


# --- the API's documentation and its answers to any input -----------------------------


def test_the_openapi_document_describes_the_billing_parts(client: Any, db: None) -> None:
    schema = client.get("/api/schema/?format=json").json()
    paths = schema["paths"]
    superbill = paths["/api/v1/patients/{id}/superbill/"]["get"]
    assert set(superbill["responses"]) == {"200", "400", "401", "403", "404"}
    assert set(superbill["responses"]["200"]["content"]) == {"application/pdf", "text/csv"}
    export = paths["/api/v1/billing/export/"]["get"]
    assert set(export["responses"]) == {"200", "400", "401", "403"}
    assert {p["name"] for p in export["parameters"]} == {"clinic", "date_from", "date_to"}
    remap = paths["/api/v1/courses/{id}/redetermination/"]["post"]
    assert {"201", "400", "401", "403", "404", "409"} <= set(remap["responses"])
    components = schema["components"]["schemas"]
    assert "codes" in components["Authorization"]["properties"]
    assert {"npi", "tax_id"} <= set(components["Clinic"]["properties"])
    assert "authorization_codes" in components["Progress"]["properties"]
    assert "remap" in components["SessionKindEnum"]["enum"]


QUERY_TEXT = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.dates(min_value=dt.date(1, 1, 1)).map(dt.date.isoformat),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(date_from=QUERY_TEXT, date_to=QUERY_TEXT, output=QUERY_TEXT, clinic=QUERY_TEXT)
def test_any_query_is_answered_without_a_server_error(
    billed: Any,
    api_as: Any,
    date_from: str | None,
    date_to: str | None,
    output: str | None,
    clinic: str | None,
) -> None:
    client = api_as(Role.CLINIC_ADMIN)
    query = {
        name: value
        for name, value in {
            "date_from": date_from,
            "date_to": date_to,
            "output": output,
            "clinic": clinic,
        }.items()
        if value is not None
    }
    for url in (f"/api/v1/patients/{billed.patient_id}/superbill/", "/api/v1/billing/export/"):
        assert client.get(url, query).status_code in (200, 400)


def test_the_export_costs_the_same_queries_for_one_patient_or_many(
    billed: Any, clinic: Any, api_as: Any
) -> None:
    client = api_as(Role.CLINIC_ADMIN)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/api/v1/billing/export/", {"clinic": clinic.pk, **DECEMBER})
        assert response.status_code == 200
        return len(captured)

    one = queries()
    for n in range(5):
        course = CourseFactory(patient=PatientFactory(clinic=clinic), indication="gad")
        _delivered(course, dt.date(2026, 12, 4 + n), "90868")
    assert queries() == one
