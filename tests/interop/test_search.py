"""FHIR searches: paging links, the date parameter (a day on the clinic's wall clock,
DST included; an instant with its offset; the bounds of clinic/dates.py), the patient
and identifier parameters, refusals as OperationOutcomes, and a fixed number of queries
whatever the number of rows."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import Role
from interop import codes
from interop.metadata import capability_statement
from interop.types import TYPES
from tests.factories import AssessmentFactory, ChairFactory, SessionFactory
from tests.interop.conftest import Record, make_record
from tests.interop.fhir import fhir_json, outcome_code


def _ids(bundle: dict[str, Any]) -> list[str]:
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])]


def _follow(client: Any, bundle: dict[str, Any], relation: str) -> dict[str, Any]:
    (url,) = [link["url"] for link in bundle["link"] if link["relation"] == relation]
    parts = urlsplit(url)
    return fhir_json(client.get(f"{parts.path}?{parts.query}"))


def test_paging_links(record: Record, api_as: Any) -> None:
    for _ in range(3):
        SessionFactory(course=record.course, chair=record.booked.chair)
    client = api_as(Role.FRONT_DESK)
    first = fhir_json(client.get(f"/fhir/R4/Appointment?patient={record.patient.pk}&_count=2"))
    assert first["total"] == 5
    assert {link["relation"] for link in first["link"]} == {"self", "next"}
    second = _follow(client, first, "next")
    assert {link["relation"] for link in second["link"]} == {"self", "next", "previous"}
    third = _follow(client, second, "next")
    assert {link["relation"] for link in third["link"]} == {"self", "previous"}
    seen = _ids(first) + _ids(second) + _ids(third)
    assert len(seen) == len(set(seen)) == 5
    assert _ids(_follow(client, third, "previous")) == _ids(second)
    beyond = fhir_json(client.get("/fhir/R4/Appointment?_count=2&page=9"))
    assert beyond["total"] == 5 and "entry" not in beyond


@pytest.mark.parametrize("count", ["0", "501", "ten"])
def test_bad_count(count: str, api_as: Any, db: None) -> None:
    response = api_as(Role.FRONT_DESK).get(f"/fhir/R4/Appointment?_count={count}")
    assert outcome_code(response, 400) == "invalid_parameter"


def test_unknown_parameters_are_refused_not_ignored(record: Record, api_as: Any) -> None:
    client = api_as(Role.FRONT_DESK)
    assert outcome_code(client.get("/fhir/R4/CarePlan?date=2026-11-30"), 400) == (
        "unknown_parameter"
    )
    assert outcome_code(client.get("/fhir/R4/Patient?name=Smith"), 400) == "unknown_parameter"
    response = client.get(f"/fhir/R4/Patient/{record.patient.pk}/$everything?_count=5")
    assert outcome_code(response, 400) == "unknown_parameter"
    assert outcome_code(client.get("/fhir/R4/Patient?_format=xml"), 400) == "unsupported_format"


def test_the_capability_statement_lists_exactly_what_is_served(record: Record, api_as: Any) -> None:
    statement = fhir_json(api_as(Role.PSYCHIATRIST).get("/fhir/R4/metadata"))
    assert statement == capability_statement("http://testserver/fhir/R4")
    assert statement["fhirVersion"] == "4.0.1"
    (rest,) = statement["rest"]
    listed = {r["type"]: [p["name"] for p in r.get("searchParam", [])] for r in rest["resource"]}
    assert listed == {name: list(spec.params) for name, spec in TYPES.items()}
    client = api_as(Role.PSYCHIATRIST)
    values = {"patient": str(record.patient.pk), "date": "ge2026-01-01", "_id": "1",
              "identifier": record.patient.mrn}  # fmt: skip
    for resource_type, names in listed.items():
        for name in names:
            fhir_json(client.get(f"/fhir/R4/{resource_type}?{name}={values[name]}"))
    (patient,) = [r for r in rest["resource"] if r["type"] == "Patient"]
    assert patient["operation"][0]["name"] == "everything"


def test_date_prefixes_on_instants(record: Record, api_as: Any) -> None:
    client = api_as(Role.FRONT_DESK)
    found = lambda query: _ids(fhir_json(client.get(f"/fhir/R4/Appointment?{query}")))  # noqa: E731
    delivered, booked = str(record.delivered.pk), str(record.booked.pk)
    assert found("date=2026-11-30") == [delivered]
    assert found("date=ge2026-12-01") == [booked]
    assert found("date=lt2026-12-01") == [delivered]
    assert found("date=gt2026-11-30") == [booked]
    assert found("date=le2026-12-01&date=ge2026-11-30") == [delivered, booked]
    assert found("date=ge2026-12-01T14:00:00%2B00:00") == [booked]
    assert found("date=2026-12-01T09:00:00-05:00") == [booked]
    assert found("date=gt2026-12-01T14:00:00Z") == []


def test_a_day_is_the_clinics_wall_clock_across_the_dst_change(record: Record, api_as: Any) -> None:
    """New York leaves summer time on 1 November 2026: that day is 25 hours long."""

    def session_at(day: int, hour: int) -> str:
        starts = dt.datetime(2026, 11, day, hour, 30, tzinfo=dt.UTC)
        made = SessionFactory(
            course=record.course,
            chair=record.booked.chair,
            starts_at=starts,
            ends_at=starts + dt.timedelta(minutes=20),
        )
        return str(made.pk)

    # 23:30 EDT on 31 October; 00:30 EDT and 23:30 EST on 1 November; 00:30 EST on the 2nd.
    before, first, last, after = (
        session_at(1, 3),
        session_at(1, 4),
        session_at(2, 4),
        session_at(2, 5),
    )
    client = api_as(Role.FRONT_DESK)
    found = lambda value: _ids(fhir_json(client.get(f"/fhir/R4/Appointment?date={value}")))  # noqa: E731
    assert found("2026-11-01") == [first, last]
    assert found("lt2026-11-01") == [before]
    assert found("gt2026-11-01&date=lt2026-11-30") == [after]


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("1899-12-31", "out_of_range"),
        ("ge2100-01-01", "out_of_range"),
        ("2026-02-30", "invalid_date"),
        ("ge2026-11-30T25:00:00Z", "invalid_date"),
        ("1899-12-31T23:00:00%2B00:00", "out_of_range"),
        ("2026-11-30T10:00:00", "invalid_date"),
        ("tomorrow", "invalid_date"),
        ("ne2026-11-30", "invalid_date"),
    ],
)
def test_bad_dates(value: str, code: str, api_as: Any, db: None) -> None:
    for resource_type in ("Appointment", "Procedure", "Observation"):
        response = api_as(Role.PSYCHIATRIST).get(f"/fhir/R4/{resource_type}?date={value}")
        assert outcome_code(response, 400) == code, resource_type


def test_observation_dates_are_days(record: Record, api_as: Any) -> None:
    later = AssessmentFactory(course=record.course, administered_on=dt.date(2026, 12, 4))
    client = api_as(Role.PSYCHIATRIST)
    found = fhir_json(client.get("/fhir/R4/Observation?date=ge2026-12-01"))
    assert _ids(found) == [str(later.pk)]
    found = fhir_json(client.get("/fhir/R4/Observation?date=2026-11-27"))
    assert _ids(found) == [str(record.phq9.pk), str(record.gad7.pk)]


def test_patient_and_identifier(
    record: Record, clinic: Any, other_clinic: Any, api_as: Any
) -> None:
    make_record(clinic)  # another patient of the same clinic
    stranger = make_record(other_clinic)
    client = api_as(Role.PSYCHIATRIST)
    for value in (str(record.patient.pk), f"Patient/{record.patient.pk}"):
        bundle = fhir_json(client.get(f"/fhir/R4/CarePlan?patient={value}"))
        assert _ids(bundle) == [str(record.course.pk)]
    assert "entry" not in fhir_json(client.get(f"/fhir/R4/CarePlan?patient={stranger.patient.pk}"))
    assert outcome_code(client.get("/fhir/R4/CarePlan?patient=Device/1"), 400) == (
        "invalid_reference"
    )
    system = codes.mrn_system("brooklyn")
    bundle = fhir_json(client.get(f"/fhir/R4/Patient?identifier={system}|{record.patient.mrn}"))
    assert _ids(bundle) == [str(record.patient.pk)]
    bundle = fhir_json(client.get(f"/fhir/R4/Patient?identifier={record.patient.mrn}"))
    assert _ids(bundle) == [str(record.patient.pk)]
    other = codes.mrn_system("queens")
    bundle = fhir_json(client.get(f"/fhir/R4/Patient?identifier={other}|{record.patient.mrn}"))
    assert "entry" not in bundle


def test_refusals_are_operation_outcomes(record: Record, api_as: Any) -> None:
    client = api_as(Role.PSYCHIATRIST)
    assert outcome_code(client.get("/fhir/R4/Medication"), 404) == "unknown_type"
    assert outcome_code(client.get("/fhir/R4/Patient/abc"), 404) == "not_found"
    assert outcome_code(client.get("/fhir/R4/Patient/99999999"), 404) == "not_found"
    response = client.post("/fhir/R4/Patient", {}, format="json")
    assert outcome_code(response, 405) == "method_not_allowed"


def test_any_accept_header_gets_fhir_json(record: Record, api_as: Any) -> None:
    client = api_as(Role.PSYCHIATRIST)
    for accept in ("application/json", "application/fhir+json", "text/html", "*/*"):
        fhir_json(client.get(f"/fhir/R4/Patient/{record.patient.pk}", HTTP_ACCEPT=accept))


# Per search: token+user, memberships, count, the page (+ one prefetch: a clinic's
# opening hours, a course's sessions), and for patient data the audit trail's one INSERT.
SEARCHES: dict[str, int] = {
    "Patient": 5,
    "Practitioner": 4,
    "Location": 5,
    "Device": 4,
    "Appointment": 5,
    "Procedure": 5,
    "Observation": 5,
    "CarePlan": 6,
}


def _queries(client: Any, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        fhir_json(client.get(path))
    return len(captured)


def test_every_type_has_a_query_budget() -> None:
    assert set(SEARCHES) == set(TYPES)


@pytest.mark.parametrize("resource_type", list(SEARCHES))
def test_search_query_count_is_fixed(resource_type: str, clinic: Any, api_as: Any) -> None:
    client = api_as(Role.PSYCHIATRIST)
    make_record(clinic)
    few = _queries(client, f"/fhir/R4/{resource_type}")
    for _ in range(4):
        make_record(clinic)
    many = _queries(client, f"/fhir/R4/{resource_type}")
    assert few == many == SEARCHES[resource_type]


def test_a_date_search_adds_one_query(clinic: Any, api_as: Any) -> None:
    client = api_as(Role.PSYCHIATRIST)
    make_record(clinic)
    assert _queries(client, "/fhir/R4/Appointment?date=ge2026-01-01") == SEARCHES["Appointment"] + 1


def test_everything_query_count_is_fixed(clinic: Any, api_as: Any) -> None:
    client = api_as(Role.PSYCHIATRIST)
    record = make_record(clinic)
    path = f"/fhir/R4/Patient/{record.patient.pk}/$everything"
    few = _queries(client, path)
    for _ in range(6):
        SessionFactory(course=record.course, chair=ChairFactory(clinic=clinic))
        AssessmentFactory(course=record.course, items=[1] * 9)
    assert _queries(client, path) == few
