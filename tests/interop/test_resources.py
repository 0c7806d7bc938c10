"""What each FHIR resource says (docs/fhir.md): identifiers, codes, status mappings,
extensions, and what a role sees inside a resource. Every body is validated as R4."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from clinic.models import AuditEvent, Patient, Role
from courses.models import CourseStatus
from interop import codes
from scheduling.models import Session, SessionStatus
from tests.factories import AssessmentFactory, SessionFactory
from tests.interop.conftest import Record
from tests.interop.fhir import fhir_json, resources_of

PHQ9_ITEMS = [
    "44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3",
    "44260-8",
]  # fmt: skip
GAD7_ITEMS = ["69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7"]


def test_patient(record: Record, api_as: Any) -> None:
    response = api_as(Role.PSYCHIATRIST).get(f"/fhir/R4/Patient/{record.patient.pk}")
    assert "no-store" in response["Cache-Control"]  # as every answer to a token
    body = fhir_json(response)
    patient = record.patient
    (identifier,) = body["identifier"]
    assert identifier["system"] == "https://cadence.invalid/fhir/clinic/brooklyn/mrn"
    assert identifier["value"] == patient.mrn
    assert identifier["type"]["coding"][0]["code"] == "MR"
    assert body["name"][0]["family"] == patient.last_name
    assert body["name"][0]["given"] == [patient.first_name]
    assert body["birthDate"] == "1980-05-17"
    assert "gender" not in body  # not recorded
    assert {(t["system"], t["value"]) for t in body["telecom"]} == {
        ("phone", patient.phone),
        ("email", patient.email),
    }


def test_technicians_see_no_contact_details(record: Record, api_as: Any) -> None:
    body = fhir_json(api_as(Role.TECHNICIAN).get(f"/fhir/R4/Patient/{record.patient.pk}"))
    assert "telecom" not in body


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (SessionStatus.SCHEDULED, "booked"),
        (SessionStatus.CHECKED_IN, "arrived"),
        (SessionStatus.COMPLETED, "fulfilled"),
        (SessionStatus.MISSED, "noshow"),
        (SessionStatus.CANCELLED, "cancelled"),
    ],
)
def test_appointment_status_and_participants(
    ours: str, theirs: str, record: Record, api_as: Any
) -> None:
    Session.objects.filter(pk=record.booked.pk).update(status=ours, cancel_reason="Unwell")
    body = fhir_json(api_as(Role.FRONT_DESK).get(f"/fhir/R4/Appointment/{record.booked.pk}"))
    assert body["status"] == theirs
    assert body["start"] == "2026-12-01T14:00:00+00:00"
    assert body["end"] == "2026-12-01T14:40:00+00:00"
    actors = [p["actor"]["reference"] for p in body["participant"]]
    assert actors == [
        f"Patient/{record.patient.pk}",
        f"Location/{record.patient.clinic_id}",
        f"Device/{record.booked.chair_id}",
    ]
    assert body["cancelationReason"] == {"text": "Unwell"}


def test_every_session_status_is_mapped() -> None:
    assert set(codes.APPOINTMENT_STATUS) == set(SessionStatus.values)
    assert set(codes.CAREPLAN_STATUS) == set(CourseStatus.values)


def test_procedure(record: Record, api_as: Any) -> None:
    body = fhir_json(api_as(Role.TECHNICIAN).get(f"/fhir/R4/Procedure/{record.delivered.pk}"))
    assert body["status"] == "completed"
    assert body["code"]["coding"] == [
        {"system": codes.CPT, "code": "90868", "display": codes.CPT_SUBSEQUENT[1]}
    ]
    assert body["performedPeriod"] == {
        "start": "2026-11-30T13:55:00+00:00",
        "end": "2026-11-30T14:35:00+00:00",
    }
    extensions = {e["url"].rsplit("/", 1)[1]: e for e in body["extension"]}
    assert extensions["pulses-delivered"]["valueInteger"] == 3000
    assert extensions["intensity-percent-motor-threshold"]["valueQuantity"]["value"] == 120
    assert body["bodySite"] == [{"text": "F3 (Beam method)"}]
    assert body["performer"] == [{"actor": {"reference": f"Practitioner/{record.technician.pk}"}}]
    assert body["complication"] == [{"text": "Headache"}]
    assert body["basedOn"] == [{"reference": f"CarePlan/{record.course.pk}"}]


def test_a_mapping_session_is_coded_90867(record: Record, api_as: Any) -> None:
    Session.objects.filter(pk=record.delivered.pk).update(kind="mapping", billing_code="")
    body = fhir_json(api_as(Role.TECHNICIAN).get(f"/fhir/R4/Procedure/{record.delivered.pk}"))
    assert body["code"]["coding"][0]["code"] == "90867"


def test_a_procedure_carries_the_code_its_session_was_billed_under(
    record: Record, api_as: Any
) -> None:
    # A re-determination (90869), as stored when the session was completed.
    Session.objects.filter(pk=record.delivered.pk).update(
        kind="remap", billing_code="90869", service_date=dt.date(2026, 11, 30)
    )
    body = fhir_json(api_as(Role.TECHNICIAN).get(f"/fhir/R4/Procedure/{record.delivered.pk}"))
    assert body["code"]["coding"] == [
        {"system": codes.CPT, "code": "90869", "display": codes.CPT_DISPLAY["90869"]}
    ]


def test_a_session_not_delivered_is_no_procedure(record: Record, api_as: Any) -> None:
    response = api_as(Role.TECHNICIAN).get(f"/fhir/R4/Procedure/{record.booked.pk}")
    assert response.status_code == 404


def test_phq9_observation_with_its_items(record: Record, api_as: Any) -> None:
    body = fhir_json(api_as(Role.PSYCHIATRIST).get(f"/fhir/R4/Observation/{record.phq9.pk}"))
    assert body["code"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "44261-6",
        "display": codes.TOTAL_LOINC["phq9"][1],
    }
    assert body["valueInteger"] == 12
    assert body["effectiveDateTime"] == "2026-11-27"
    assert body["interpretation"][0]["coding"][0]["code"] == "moderate"
    assert body["category"][0]["coding"][0]["code"] == "survey"
    items = [(c["code"]["coding"][0]["code"], c["valueInteger"]) for c in body["component"]]
    assert items == list(zip(PHQ9_ITEMS, [2, 2, 1, 1, 2, 1, 1, 1, 1], strict=True))


def test_gad7_items_in_order(record: Record, api_as: Any) -> None:
    scored = AssessmentFactory(
        course=record.course, instrument="gad7", score=7, items=[1, 1, 1, 1, 1, 1, 1]
    )
    body = fhir_json(api_as(Role.TECHNICIAN).get(f"/fhir/R4/Observation/{scored.pk}"))
    assert body["code"]["coding"][0]["code"] == "70274-6"
    assert [c["code"]["coding"][0]["code"] for c in body["component"]] == GAD7_ITEMS
    assert body["interpretation"][0]["coding"][0]["code"] == "mild"


def test_scales_without_a_checked_loinc_code_use_cadences_codes(
    record: Record, api_as: Any
) -> None:
    hamd = AssessmentFactory(course=record.course, instrument="hamd17", score=20, suicide_item=2)
    body = fhir_json(api_as(Role.PSYCHIATRIST).get(f"/fhir/R4/Observation/{hamd.pk}"))
    assert body["code"]["coding"][0] == {
        "system": codes.instrument_system(),
        "code": "hamd17-total",
        "display": "HAM-D17 total",
    }
    assert body["interpretation"][0]["coding"][0]["code"] == "severe"
    # Only the total was entered: the suicide item, which is always kept, is the component.
    (component,) = body["component"]
    assert component["code"]["coding"][0]["code"] == "hamd17-item-3"
    assert component["valueInteger"] == 2


def test_clinic_admins_see_totals_not_item_answers(record: Record, api_as: Any) -> None:
    body = fhir_json(api_as(Role.CLINIC_ADMIN).get(f"/fhir/R4/Observation/{record.phq9.pk}"))
    assert body["valueInteger"] == 12
    assert "component" not in body


def test_care_plan(record: Record, api_as: Any) -> None:
    cancelled = SessionFactory(course=record.course, status=SessionStatus.CANCELLED)
    body = fhir_json(api_as(Role.FRONT_DESK).get(f"/fhir/R4/CarePlan/{record.course.pk}"))
    assert body["status"] == "active"
    assert body["intent"] == "plan"
    assert body["period"] == {"start": "2026-11-30"}
    assert body["author"] == {"reference": f"Practitioner/{record.course.psychiatrist_id}"}
    planned = [a["reference"]["reference"] for a in body["activity"]]
    assert planned == [f"Appointment/{record.delivered.pk}", f"Appointment/{record.booked.pk}"]
    assert f"Appointment/{cancelled.pk}" not in planned


def test_a_completed_course_has_its_end(record: Record, api_as: Any) -> None:
    course = record.course
    course.status, course.completed_on = CourseStatus.COMPLETED, dt.date(2027, 1, 15)
    course.save()
    body = fhir_json(api_as(Role.FRONT_DESK).get(f"/fhir/R4/CarePlan/{course.pk}"))
    assert body["status"] == "completed"
    assert body["period"] == {"start": "2026-11-30", "end": "2027-01-15"}


def test_location_device_and_practitioner(record: Record, api_as: Any) -> None:
    client = api_as(Role.FRONT_DESK)
    location = fhir_json(client.get(f"/fhir/R4/Location/{record.patient.clinic_id}"))
    assert location["name"] == "Brooklyn"
    assert location["extension"][0]["valueCode"] == "America/New_York"
    assert len(location["hoursOfOperation"]) == 5
    device = fhir_json(client.get(f"/fhir/R4/Device/{record.delivered.chair_id}"))
    assert {"name": "MagVenture MagPro R30", "type": "model-name"} in device["deviceName"]
    assert device["location"] == {"reference": f"Location/{record.patient.clinic_id}"}
    person = fhir_json(client.get(f"/fhir/R4/Practitioner/{record.technician.pk}"))
    assert person["name"][0]["family"] == record.technician.last_name


def test_everything_for_a_demo_patient(db: None, settings: Any, tmp_path: Path, api: Any) -> None:
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", stdout=open(tmp_path / "out", "w"))  # noqa: SIM115
    from django.contrib.auth import get_user_model

    patient = (
        Patient.objects.filter(
            sessions__status=SessionStatus.COMPLETED, courses__assessments__isnull=False
        )
        .distinct()
        .first()
    )
    assert patient is not None
    psychiatrist = get_user_model().objects.get(username="psychiatrist")
    bundle = fhir_json(api(psychiatrist).get(f"/fhir/R4/Patient/{patient.pk}/$everything"))
    assert bundle["type"] == "searchset"
    (found,) = resources_of(bundle, "Patient")
    assert found["id"] == str(patient.pk)
    assert len(resources_of(bundle, "Appointment")) == patient.sessions.count()
    delivered = patient.sessions.filter(status=SessionStatus.COMPLETED, record__isnull=False)
    assert len(resources_of(bundle, "Procedure")) == delivered.count() > 0
    scores = resources_of(bundle, "Observation")
    assert len(scores) == sum(c.assessments.count() for c in patient.courses.all()) > 0
    assert len(resources_of(bundle, "CarePlan")) == patient.courses.count() > 0
    references = {
        ref["reference"]
        for resource in resources_of(bundle, "Procedure")
        for ref in [resource["subject"], resource["location"], resource["performer"][0]["actor"]]
    }
    included = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]}
    assert references <= included  # what the record names is in the Bundle


def test_reads_are_audit_events(record: Record, staff: Any, api: Any) -> None:
    user = staff(Role.PSYCHIATRIST)
    client = api(user)
    fhir_json(client.get(f"/fhir/R4/Observation/{record.phq9.pk}"))
    fhir_json(client.get(f"/fhir/R4/Appointment?patient={record.patient.pk}"))
    fhir_json(client.get("/fhir/R4/Location"))  # no patient data: no event
    events = list(AuditEvent.objects.filter(actor=user).order_by("id"))
    assert [(e.action, e.object_type, e.object_id, e.patient_ids, e.channel) for e in events] == [
        ("view", "courses.assessment", str(record.phq9.pk), [record.patient.pk], "api"),
        ("view", "scheduling.session", "", [record.patient.pk], "api"),
    ]
    assert events[0].path == f"/fhir/R4/Observation/{record.phq9.pk}"
    assert {event.clinic_id for event in events} == {record.patient.clinic_id}


def test_a_discontinued_course_ends_on_the_clinics_day(record: Record, api_as: Any) -> None:
    course = record.course
    course.status = CourseStatus.DISCONTINUED
    # 03:00 UTC on the 16th is still the 15th in New York.
    course.status_changed_at = dt.datetime(2027, 1, 16, 3, 0, tzinfo=dt.UTC)
    course.save()
    body = fhir_json(api_as(Role.FRONT_DESK).get(f"/fhir/R4/CarePlan/{course.pk}"))
    assert body["status"] == "revoked"
    assert body["period"] == {"start": "2026-11-30", "end": "2027-01-15"}
