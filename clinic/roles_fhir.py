"""docs/roles.md's FHIR table (the rest of the rows: clinic/roles_doc.py)."""

from __future__ import annotations

from clinic.capabilities import Capability
from clinic.roles_rows import Page

READ = Capability.READ_CLINIC_RECORDS

# FHIR R4 (interop/, docs/fhir.md): read-only, Bearer tokens; another clinic's row is 404,
# a role without the capability gets 403 (tests/interop/test_permissions.py).
FHIR: tuple[Page, ...] = (
    Page(("/fhir/R4/metadata",), "anyone, without a token", "the CapabilityStatement"),
    Page(
        ("/fhir/R4/Patient/<id>", "/fhir/R4/Patient?_id=&identifier="),
        (READ, "; telecom (phone, email): {READ_PATIENT_CONTACT}"),
    ),
    Page(
        ("/fhir/R4/Patient/<id>/$everything",),
        (
            READ,
            "; its Observations: {READ_SCORES}; its Procedures: {READ_CLINICAL_DETAIL}",
        ),
        "one patient's whole record",
    ),
    Page(
        ("/fhir/R4/Practitioner/<id>", "/fhir/R4/Practitioner"),
        READ,
        "psychiatrists and technicians",
    ),
    Page(("/fhir/R4/Location/<id>", "/fhir/R4/Location"), READ, "the clinic"),
    Page(("/fhir/R4/Device/<id>", "/fhir/R4/Device"), READ, "a chair's device"),
    Page(
        ("/fhir/R4/Appointment/<id>", "/fhir/R4/Appointment?patient=&date="),
        READ,
        "each session",
    ),
    Page(("/fhir/R4/CarePlan/<id>", "/fhir/R4/CarePlan?patient="), READ, "each course"),
    Page(
        ("/fhir/R4/Observation/<id>", "/fhir/R4/Observation?patient=&date="),
        (Capability.READ_SCORES, "; item answers (components): {READ_CLINICAL_DETAIL}"),
        "each score",
    ),
    Page(
        ("/fhir/R4/Procedure/<id>", "/fhir/R4/Procedure?patient=&date="),
        Capability.READ_CLINICAL_DETAIL,
        "each delivered session",
    ),
)
