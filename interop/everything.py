"""Patient/<id>/$everything: one patient's whole record as one Bundle (also a patient's
right of access): the Patient, their Appointments and CarePlans, their Observations and
Procedures when the reader's role may see them (READ_SCORES, READ_CLINICAL_DETAIL), and
the Location, Devices and Practitioners those name (search mode ``include``). A fixed
number of queries, whatever the record's length."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from clinic import access, audit_trail
from clinic.capabilities import Capability
from clinic.models import Patient
from interop import resources, selectors
from interop.resources import Resource, Sight
from interop.types import TYPES
from scheduling.models import SessionStatus


def patient_record(patient: Patient, user: Any, sight: Sight) -> list[tuple[Resource, str]]:
    clinic_id = patient.clinic_id
    found: list[tuple[Resource, str]] = [(resources.patient(patient, sight), "match")]
    audit_trail.note_read([patient], object_id=str(patient.pk))

    sessions = list(
        selectors.appointments({clinic_id}).filter(patient=patient).select_related("record")
    )
    courses = list(selectors.care_plans({clinic_id}).filter(patient=patient))
    care_plan = TYPES["CarePlan"].build
    found += [(care_plan(course, sight), "match") for course in courses]
    found += [(resources.appointment(session), "match") for session in sessions]
    audit_trail.note_read(sessions)
    audit_trail.note_read(courses)
    people = {course.psychiatrist_id for course in courses}

    if access.has_capability(user, clinic_id, Capability.READ_CLINICAL_DETAIL):
        for session in sessions:
            record = getattr(session, "record", None)
            if session.status == SessionStatus.COMPLETED and record is not None:
                found.append((resources.procedure(session, record), "match"))
                people.add(record.technician_id)
    if access.has_capability(user, clinic_id, Capability.READ_SCORES):
        scores = list(selectors.observations({clinic_id}).filter(course__patient=patient))
        found += [(resources.observation(score, sight), "match") for score in scores]
        audit_trail.note_read(scores)
        people |= {score.recorded_by_id for score in scores if score.recorded_by_id}

    clinic = selectors.locations({clinic_id}).get()
    found.append((resources.location(clinic), "include"))
    chairs = {session.chair_id: session.chair for session in sessions}
    found += [(resources.device(chair), "include") for chair in chairs.values()]
    staff = get_user_model().objects.filter(pk__in=people).order_by("pk") if people else []
    found += [(resources.practitioner(person), "include") for person in staff]
    return found
