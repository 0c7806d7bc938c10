"""The code systems, identifiers and extensions Cadence's FHIR resources use, and how
our states map to FHIR's (docs/fhir.md lists them with their sources).

LOINC codes are used only where a published LOINC code was checked: the PHQ-9 and
GAD-7 totals and items. HAM-D17, MADRS and BDI-II totals and items are coded in
Cadence's own code system (``instrument_system()``) until their LOINC codes are
checked against LOINC itself.
"""

from __future__ import annotations

from django.conf import settings

from courses.billing import BillingCode
from courses.instruments import InstrumentCode
from courses.models import CourseStatus
from scheduling.models import SessionKind, SessionStatus

LOINC = "http://loinc.org"
CPT = "http://www.ama-assn.org/go/cpt"
UCUM = "http://unitsofmeasure.org"
V2_IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
# A core extension (R4's extension registry): the IANA zone of a Location.
TIMEZONE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/timezone"


def base() -> str:
    """Where Cadence's own code systems, identifier systems and extensions live. Set once
    per deployment (FHIR_NAMING_BASE): an EHR matches patients by these URIs."""
    return str(settings.FHIR_NAMING_BASE).rstrip("/")


def mrn_system(clinic_slug: str) -> str:
    """The identifier system of one clinic's medical record numbers."""
    return f"{base()}/clinic/{clinic_slug}/mrn"


def instrument_system() -> str:
    return f"{base()}/CodeSystem/instrument"


def severity_system() -> str:
    return f"{base()}/CodeSystem/severity-band"


def session_kind_system() -> str:
    return f"{base()}/CodeSystem/session-kind"


def extension_url(name: str) -> str:
    return f"{base()}/StructureDefinition/{name}"


PULSES_EXTENSION = "pulses-delivered"
INTENSITY_EXTENSION = "intensity-percent-motor-threshold"
EXTENSIONS = (PULSES_EXTENSION, INTENSITY_EXTENSION)

# Session.status -> Appointment.status
APPOINTMENT_STATUS: dict[str, str] = {
    SessionStatus.SCHEDULED: "booked",
    SessionStatus.CHECKED_IN: "arrived",
    SessionStatus.COMPLETED: "fulfilled",
    SessionStatus.MISSED: "noshow",
    SessionStatus.CANCELLED: "cancelled",
}

# TreatmentCourse.status -> CarePlan.status. A planned course is prescribed and booked,
# so it is acted upon (active) with a period still to come; a discontinued one is
# revoked (ended before its time).
CAREPLAN_STATUS: dict[str, str] = {
    CourseStatus.PLANNED: "active",
    CourseStatus.ACTIVE: "active",
    CourseStatus.PAUSED: "on-hold",
    CourseStatus.COMPLETED: "completed",
    CourseStatus.DISCONTINUED: "revoked",
}

# A delivered session's CPT code: the one stored when it was completed
# (scheduling/billing.py: 90867 for the mapping session with the motor threshold
# determination, 90869 for a re-determination, 90868 for every other session); a
# session completed before codes were stored is coded by its kind the same way.
CPT_DISPLAY: dict[str, str] = {
    BillingCode.INITIAL: "Therapeutic rTMS treatment; initial, including cortical mapping, "
    "motor threshold determination, delivery and management",
    BillingCode.SUBSEQUENT: "Therapeutic rTMS treatment; subsequent delivery and management, "
    "per session",
    BillingCode.REDETERMINATION: "Therapeutic rTMS treatment; subsequent motor threshold "
    "re-determination with delivery and management",
}
CPT_SUBSEQUENT = (BillingCode.SUBSEQUENT.value, CPT_DISPLAY[BillingCode.SUBSEQUENT])
_BY_KIND: dict[str, str] = {
    SessionKind.MAPPING: BillingCode.INITIAL,
    SessionKind.REMAP: BillingCode.REDETERMINATION,
}


def procedure_cpt(billing_code: str, kind: str) -> tuple[str, str]:
    code = billing_code or _BY_KIND.get(kind, BillingCode.SUBSEQUENT.value)
    return code, CPT_DISPLAY[code]


# Totals with a LOINC code (checked: docs/fhir.md names the sources).
TOTAL_LOINC: dict[str, tuple[str, str]] = {
    InstrumentCode.PHQ9: ("44261-6", "Patient Health Questionnaire 9 item (PHQ-9) total score"),
    InstrumentCode.GAD7: ("70274-6", "Generalized anxiety disorder 7 item (GAD-7) total score"),
}

# Items in the instrument's order, each with its LOINC code.
ITEM_LOINC: dict[str, tuple[tuple[str, str], ...]] = {
    InstrumentCode.PHQ9: (
        ("44250-9", "Little interest or pleasure in doing things"),
        ("44255-8", "Feeling down, depressed, or hopeless"),
        ("44259-0", "Trouble falling or staying asleep, or sleeping too much"),
        ("44254-1", "Feeling tired or having little energy"),
        ("44251-7", "Poor appetite or overeating"),
        ("44258-2", "Feeling bad about yourself"),
        ("44252-5", "Trouble concentrating on things"),
        ("44253-3", "Moving or speaking slowly, or being fidgety or restless"),
        ("44260-8", "Thoughts that you would be better off dead, or of hurting yourself"),
    ),
    InstrumentCode.GAD7: (
        ("69725-0", "Feeling nervous, anxious, or on edge"),
        ("68509-9", "Not being able to stop or control worrying"),
        ("69733-4", "Worrying too much about different things"),
        ("69734-2", "Trouble relaxing"),
        ("69735-9", "Being so restless that it is hard to sit still"),
        ("69689-8", "Becoming easily annoyed or irritable"),
        ("69736-7", "Feeling afraid, as if something awful might happen"),
    ),
}
