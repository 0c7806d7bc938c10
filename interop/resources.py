"""Cadence's rows as FHIR R4 resources (plain dicts, rendered as application/fhir+json).

Each function takes a row whose related rows the selectors (interop/selectors.py)
loaded, so building a page of resources runs no query. What a reader may see beyond
the resource's own capability is decided by the caller and passed in (``Sight``):
a patient's phone and email, a score's item answers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from clinic.models import Chair, Clinic, Patient, Weekday
from courses.instruments import INSTRUMENTS
from courses.models import Assessment, CourseStatus, Indication, TreatmentCourse
from interop import codes
from scheduling.models import Session, SessionKind, TreatmentRecord

Resource = dict[str, Any]

FHIR_DAYS = {
    Weekday.MONDAY: "mon",
    Weekday.TUESDAY: "tue",
    Weekday.WEDNESDAY: "wed",
    Weekday.THURSDAY: "thu",
    Weekday.FRIDAY: "fri",
    Weekday.SATURDAY: "sat",
    Weekday.SUNDAY: "sun",
}


@dataclass(frozen=True)
class Sight:
    """What the reader may see inside resources, per clinic id."""

    contact: frozenset[int] = frozenset()  # READ_PATIENT_CONTACT: telecom
    item_answers: frozenset[int] = frozenset()  # READ_CLINICAL_DETAIL: score items
    everywhere: bool = False  # a superuser

    def sees_contact(self, clinic_id: int) -> bool:
        return self.everywhere or clinic_id in self.contact

    def sees_items(self, clinic_id: int) -> bool:
        return self.everywhere or clinic_id in self.item_answers


def ref(resource_type: str, pk: object) -> dict[str, str]:
    return {"reference": f"{resource_type}/{pk}"}


def instant(value: dt.datetime) -> str:
    """UTC, with its offset written out (+00:00), to the second."""
    return value.astimezone(dt.UTC).isoformat(timespec="seconds")


def coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    found = {"system": system, "code": code}
    if display:
        found["display"] = display
    return found


def _human_name(first: str, last: str, fallback: str) -> dict[str, Any]:
    name: dict[str, Any] = {"use": "official", "text": f"{first} {last}".strip() or fallback}
    if last:
        name["family"] = last
    if first:
        name["given"] = [first]
    return name


def patient(row: Patient, sight: Sight) -> Resource:
    found: Resource = {
        "resourceType": "Patient",
        "id": str(row.pk),
        "identifier": [
            {
                "use": "usual",
                "type": {
                    "coding": [coding(codes.V2_IDENTIFIER_TYPE, "MR", "Medical record number")]
                },
                "system": codes.mrn_system(row.clinic.slug),
                "value": row.mrn,
            }
        ],
        "active": True,
        "name": [_human_name(row.first_name, row.last_name, row.mrn)],
        "birthDate": row.date_of_birth.isoformat(),
    }
    # Gender is not recorded by Cadence, so the element is left out (docs/fhir.md).
    if sight.sees_contact(row.clinic_id):
        telecom = []
        if row.phone:
            telecom.append({"system": "phone", "value": row.phone, "use": "mobile"})
        if row.email:
            telecom.append({"system": "email", "value": row.email})
        if telecom:
            found["telecom"] = telecom
    return found


def practitioner(user: Any) -> Resource:
    return {
        "resourceType": "Practitioner",
        "id": str(user.pk),
        "active": bool(user.is_active),
        "name": [_human_name(user.first_name, user.last_name, user.get_username())],
    }


def location(clinic: Clinic) -> Resource:
    hours = [
        {
            "daysOfWeek": [FHIR_DAYS[Weekday(h.weekday)]],
            "openingTime": h.opens.isoformat(timespec="seconds"),
            "closingTime": h.closes.isoformat(timespec="seconds"),
        }
        for h in clinic.opening_hours.all()
    ]
    found: Resource = {
        "resourceType": "Location",
        "id": str(clinic.pk),
        "extension": [{"url": codes.TIMEZONE_EXTENSION, "valueCode": clinic.timezone}],
        "status": "active",
        "name": clinic.name,
        "alias": [clinic.display_name],
        "mode": "instance",
        "telecom": [{"system": "phone", "value": clinic.phone, "use": "work"}],
    }
    if hours:
        found["hoursOfOperation"] = hours
    return found


def device(chair: Chair) -> Resource:
    names = [{"name": chair.name, "type": "user-friendly-name"}]
    if chair.device:
        names.append({"name": chair.device, "type": "model-name"})
    return {
        "resourceType": "Device",
        "id": str(chair.pk),
        "status": "active" if chair.active else "inactive",
        "deviceName": names,
        "type": {"text": "rTMS treatment chair and stimulator"},
        "property": [
            {
                "type": {"text": "coil"},
                "valueCode": [{"text": coil} for coil in chair.coils],
            }
        ],
        "location": ref("Location", chair.clinic_id),
    }


def appointment(session: Session) -> Resource:
    clinic_id = session.chair.clinic_id
    found: Resource = {
        "resourceType": "Appointment",
        "id": str(session.pk),
        "status": codes.APPOINTMENT_STATUS[session.status],
        "serviceType": [
            {
                "coding": [
                    coding(
                        codes.session_kind_system(),
                        session.kind,
                        str(SessionKind(session.kind).label),
                    )
                ]
            }
        ],
        "description": f"rTMS session ({SessionKind(session.kind).label.lower()})",
        "start": instant(session.starts_at),
        "end": instant(session.ends_at),
        "created": instant(session.created_at),
        "supportingInformation": [ref("CarePlan", session.course_id)],
        "participant": [
            {
                "actor": ref("Patient", session.patient_id),
                "required": "required",
                "status": "accepted",
            },
            {"actor": ref("Location", clinic_id), "required": "required", "status": "accepted"},
            {
                "actor": ref("Device", session.chair_id),
                "required": "required",
                "status": "accepted",
            },
        ],
    }
    if session.cancel_reason:
        found["cancelationReason"] = {"text": session.cancel_reason}
    return found


def procedure(session: Session, record: TreatmentRecord) -> Resource:
    cpt, cpt_display = codes.procedure_cpt(session.billing_code, session.kind)
    started = session.checked_in_at or session.starts_at
    ended = session.completed_at or session.ends_at
    found: Resource = {
        "resourceType": "Procedure",
        "id": str(session.pk),
        "extension": [
            {
                "url": codes.extension_url(codes.PULSES_EXTENSION),
                "valueInteger": record.pulses_delivered,
            },
            {
                "url": codes.extension_url(codes.INTENSITY_EXTENSION),
                "valueQuantity": {
                    "value": record.intensity_pct_mt,
                    "unit": "% of resting motor threshold",
                    "system": codes.UCUM,
                    "code": "%",
                },
            },
        ],
        "basedOn": [ref("CarePlan", session.course_id)],
        "status": "completed",
        "code": {
            "coding": [coding(codes.CPT, cpt, cpt_display)],
            "text": "Repetitive transcranial magnetic stimulation (rTMS) session",
        },
        "subject": ref("Patient", session.patient_id),
        "performedPeriod": {"start": instant(started), "end": instant(max(started, ended))},
        "performer": [{"actor": ref("Practitioner", record.technician_id)}],
        "location": ref("Location", session.chair.clinic_id),
        "bodySite": [{"text": record.coil_position}],
        "focalDevice": [{"manipulated": ref("Device", session.chair_id)}],
        "note": [
            {
                "text": f"{record.pulses_delivered} pulses at {record.intensity_pct_mt}% of "
                f"motor threshold; coil at {record.coil_position}."
            }
        ],
    }
    complications = [{"text": label} for label in record.side_effect_labels]
    if complications:
        found["complication"] = complications
    if record.notes:
        found["note"].append({"text": record.notes})
    return found


def _component(code: dict[str, Any], value: int) -> dict[str, Any]:
    return {"code": code, "valueInteger": value}


def _item_code(instrument: str, number: int) -> dict[str, Any]:
    listed = codes.ITEM_LOINC.get(instrument)
    if listed is not None:
        loinc, display = listed[number - 1]
        return {"coding": [coding(codes.LOINC, loinc, display)]}
    name = INSTRUMENTS[instrument].name
    return {
        "coding": [coding(codes.instrument_system(), f"{instrument}-item-{number}")],
        "text": f"{name} item {number}",
    }


def _total_code(instrument: str) -> dict[str, Any]:
    name = INSTRUMENTS[instrument].name
    listed = codes.TOTAL_LOINC.get(instrument)
    if listed is not None:
        return {"coding": [coding(codes.LOINC, *listed)], "text": f"{name} total score"}
    return {
        "coding": [coding(codes.instrument_system(), f"{instrument}-total", f"{name} total")],
        "text": f"{name} total score",
    }


def observation(row: Assessment, sight: Sight) -> Resource:
    instrument = INSTRUMENTS[row.instrument]
    band = instrument.severity(row.score)
    found: Resource = {
        "resourceType": "Observation",
        "id": str(row.pk),
        "basedOn": [ref("CarePlan", row.course_id)],
        "status": "final",
        "category": [{"coding": [coding(codes.OBSERVATION_CATEGORY, "survey", "Survey")]}],
        "code": _total_code(row.instrument),
        "subject": ref("Patient", row.course.patient_id),
        "effectiveDateTime": row.administered_on.isoformat(),
        "issued": instant(row.created_at),
        "valueInteger": row.score,
        "interpretation": [
            {
                "coding": [coding(codes.severity_system(), band.replace(" ", "-"), band)],
                "text": f"{instrument.name}: {band}",
            }
        ],
    }
    if row.recorded_by_id is not None:
        found["performer"] = [ref("Practitioner", row.recorded_by_id)]
    if sight.sees_items(row.course.patient.clinic_id):
        components = []
        if row.items:
            components = [
                _component(_item_code(row.instrument, number), value)
                for number, value in enumerate(row.items, 1)
            ]
        elif row.suicide_item is not None and instrument.suicide_item is not None:
            components = [
                _component(_item_code(row.instrument, instrument.suicide_item), row.suicide_item)
            ]
        if components:
            found["component"] = components
    return found


def _course_end(course: TreatmentCourse) -> dt.date | None:
    if course.completed_on is not None:
        return course.completed_on
    ended = (CourseStatus.COMPLETED, CourseStatus.DISCONTINUED)
    if course.status in ended and course.status_changed_at is not None:
        return course.status_changed_at.astimezone(course.patient.clinic.tz).date()
    return None


def care_plan(course: TreatmentCourse, planned: list[Session]) -> Resource:
    period: dict[str, str] = {"start": course.start_date.isoformat()}
    end = _course_end(course)
    if end is not None:
        period["end"] = max(end, course.start_date).isoformat()
    found: Resource = {
        "resourceType": "CarePlan",
        "id": str(course.pk),
        "status": codes.CAREPLAN_STATUS[course.status],
        "intent": "plan",
        "title": f"rTMS course: {course.protocol.name}",
        "description": f"Indication: {Indication(course.indication).label}",
        "subject": ref("Patient", course.patient_id),
        "period": period,
        "created": instant(course.created_at),
        "author": ref("Practitioner", course.psychiatrist_id),
    }
    if planned:
        found["activity"] = [{"reference": ref("Appointment", s.pk)} for s in planned]
    return found
