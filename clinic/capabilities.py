"""Who may do what: the one table of capabilities and the roles that hold them.

Every permission check in the apps names a :class:`Capability` (an action in the
clinic's words), never a role: viewsets, page decorators, the navigation, the
serializers' redactions and the few queries that look for people by what they may do
(the prescribing psychiatrist, the risk digest's recipients) all read this table.
``docs/roles.md`` is generated from it (``python manage.py roles_doc``) and a test fails
when the two differ; another test fails when a module outside this one names a role.

A role in one clinic gives nothing in another (``clinic.access`` asks about one clinic
at a time). Superusers hold every capability in every clinic, including those no role
holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from clinic.models import Role


class Capability(StrEnum):
    # Reading
    READ_CLINIC_RECORDS = "read_clinic_records"
    READ_CLINICAL_DETAIL = "read_clinical_detail"
    READ_SCORES = "read_scores"
    READ_COURSE_OUTCOME = "read_course_outcome"
    READ_MOTOR_THRESHOLDS = "read_motor_thresholds"
    READ_OUTCOMES = "read_outcomes"
    READ_OUTBOX = "read_outbox"
    READ_PATIENT_MESSAGES = "read_patient_messages"
    READ_AUDIT_TRAIL = "read_audit_trail"
    READ_PATIENT_CONTACT = "read_patient_contact"
    # Staff pages
    OPEN_BOARD = "open_board"
    OPEN_TODAY = "open_today"
    OPEN_DASHBOARD = "open_dashboard"
    OVERSEE_ALL_COURSES = "oversee_all_courses"
    OPEN_CLOSURES = "open_closures"
    READ_CAPACITY_FORECAST = "read_capacity_forecast"
    # Sessions
    BOOK_SESSIONS = "book_sessions"
    CANCEL_SESSION = "cancel_session"
    CHECK_IN = "check_in"
    MARK_MISSED = "mark_missed"
    UNDO_ATTENDANCE = "undo_attendance"
    RECORD_TREATMENT = "record_treatment"
    REBOOK_CLOSURE = "rebook_closure"
    BOOK_REDETERMINATION = "book_redetermination"
    # Courses and their clinical records
    CREATE_COURSE = "create_course"
    EDIT_COURSE = "edit_course"
    PRESCRIBE = "prescribe"
    BOOK_BOOSTER = "book_booster"
    CHANGE_COURSE_STATUS = "change_course_status"
    EXTEND_AUTHORIZATION = "extend_authorization"
    RECORD_SCREENING = "record_screening"
    CLEAR_SCREENING = "clear_screening"
    RECORD_MEASUREMENTS = "record_measurements"
    REVIEW_SAFETY_FLAGS = "review_safety_flags"
    CLOSE_RELAPSES = "close_relapses"
    REVIEW_ADVERSE_EVENTS = "review_adverse_events"
    RECEIVE_ESCALATIONS = "receive_escalations"
    RECEIVE_RISK_DIGEST = "receive_risk_digest"
    ACKNOWLEDGE_ALERTS = "acknowledge_alerts"
    # The clinic itself
    EDIT_PATIENTS = "edit_patients"
    DELETE_PATIENTS = "delete_patients"
    BLOCK_CHAIRS = "block_chairs"
    SET_UP_CLINIC = "set_up_clinic"
    MANAGE_STAFF = "manage_staff"
    MANAGE_WEBHOOKS = "manage_webhooks"
    DELETE_KEPT_RECORDS = "delete_kept_records"
    # Billing
    PRINT_SUPERBILL = "print_superbill"
    EXPORT_BILLING = "export_billing"


@dataclass(frozen=True)
class Grant:
    roles: frozenset[str]
    what: str  # one line for docs/roles.md: what the capability lets a person do


def _grant(roles: set[Role], what: str) -> Grant:
    return Grant(frozenset(role.value for role in roles), what)


CAPABILITIES: Mapping[Capability, Grant] = MappingProxyType(
    {
        # Reading
        Capability.READ_CLINIC_RECORDS: _grant(
            set(Role),
            "See the clinic's records: the clinic, closures, chairs and chair blocks, "
            "staff names and roles, patients, protocols, screening status, courses with "
            "their progress and authorizations, scores, safety flags, sessions, the board "
            "and availability, the reminder policy; open a course's page",
        ),
        Capability.READ_CLINICAL_DETAIL: _grant(
            {Role.TECHNICIAN, Role.PSYCHIATRIST},
            "See why, not only whether: screening answers and failed trials, the item "
            "answers of a score, treatment records (pulses, intensity, side effects) and "
            "safety-flag detail",
        ),
        Capability.READ_SCORES: _grant(
            {Role.TECHNICIAN, Role.PSYCHIATRIST, Role.CLINIC_ADMIN},
            "See scores, outcomes and the score chart on a course's page",
        ),
        Capability.READ_COURSE_OUTCOME: _grant(
            {Role.TECHNICIAN, Role.PSYCHIATRIST},
            "Read a course's outcome per tracked scale from the API",
        ),
        Capability.READ_MOTOR_THRESHOLDS: _grant(
            {Role.TECHNICIAN, Role.PSYCHIATRIST, Role.CLINIC_ADMIN},
            "See motor thresholds and the machine output they give",
        ),
        Capability.READ_OUTCOMES: _grant(
            {Role.PSYCHIATRIST, Role.CLINIC_ADMIN},
            "See the clinic's response and remission rates: the API summary, the "
            "outcomes report and its CSV export",
        ),
        Capability.READ_OUTBOX: _grant(
            {Role.FRONT_DESK, Role.PSYCHIATRIST, Role.CLINIC_ADMIN},
            "Read the outbox: what went or will go to patients (the page shows the texts)",
        ),
        Capability.READ_PATIENT_MESSAGES: _grant(
            {Role.FRONT_DESK, Role.CLINIC_ADMIN},
            'Read the texts patients send that are not keywords ("running late") and '
            "mark them handled; the navigation shows how many are still to handle",
        ),
        Capability.READ_AUDIT_TRAIL: _grant(
            {Role.CLINIC_ADMIN},
            "Read the clinic's audit trail (who read or changed which patient's data, "
            "logins, refusals): the API, the page and its CSV export",
        ),
        Capability.READ_PATIENT_CONTACT: _grant(
            {Role.FRONT_DESK, Role.PSYCHIATRIST, Role.CLINIC_ADMIN},
            "See a patient's phone, email, consent history and messages on the patient "
            "pages, and the phone and email in the API, and find a patient by phone "
            "(technicians see who the patient is and their treatment, not how to reach them)",
        ),
        # Staff pages
        Capability.OPEN_BOARD: _grant(
            {Role.FRONT_DESK, Role.CLINIC_ADMIN},
            "Open the day board",
        ),
        Capability.OPEN_TODAY: _grant(
            {Role.TECHNICIAN, Role.CLINIC_ADMIN},
            "Open the technician's list of today's sessions",
        ),
        Capability.OPEN_DASHBOARD: _grant(
            {Role.PSYCHIATRIST, Role.CLINIC_ADMIN},
            "Open the course dashboard",
        ),
        Capability.OVERSEE_ALL_COURSES: _grant(
            {Role.CLINIC_ADMIN},
            "See every course of the clinic on the dashboard (without it: the courses "
            "you prescribe)",
        ),
        Capability.OPEN_CLOSURES: _grant(
            {Role.FRONT_DESK, Role.CLINIC_ADMIN},
            "Open the closures page and see the sessions each closure hits",
        ),
        Capability.READ_CAPACITY_FORECAST: _grant(
            {Role.FRONT_DESK, Role.CLINIC_ADMIN},
            "See the capacity forecast: chair-hours open and booked per week for the next "
            "12 weeks, by chair, with the waitlist's demand (the page and the API)",
        ),
        # Sessions
        Capability.BOOK_SESSIONS: _grant(
            {Role.FRONT_DESK, Role.CLINIC_ADMIN},
            "Book sessions and move them; book a whole course at once (the booking "
            "page, `POST /courses/{id}/schedule/`); keep the waitlist and book from its "
            "offers (the waitlist page, `/waitlist/`)",
        ),
        Capability.CANCEL_SESSION: _grant(
            {Role.FRONT_DESK, Role.CLINIC_ADMIN},
            "Cancel a session",
        ),
        Capability.CHECK_IN: _grant(
            {Role.FRONT_DESK, Role.TECHNICIAN},
            "Check a patient in for a session",
        ),
        Capability.MARK_MISSED: _grant(
            {Role.FRONT_DESK, Role.TECHNICIAN},
            "Mark a session missed",
        ),
        Capability.UNDO_ATTENDANCE: _grant(
            {Role.FRONT_DESK, Role.CLINIC_ADMIN},
            "Undo a check-in, a missed mark or a cancellation made today by mistake, "
            "with the reason (the make-up it booked is withdrawn)",
        ),
        Capability.RECORD_TREATMENT: _grant(
            {Role.TECHNICIAN, Role.PSYCHIATRIST},
            "Complete a checked-in session with what it delivered",
        ),
        Capability.REBOOK_CLOSURE: _grant(
            {Role.FRONT_DESK, Role.CLINIC_ADMIN},
            "Re-book every session a closure hits",
        ),
        Capability.BOOK_REDETERMINATION: _grant(
            {Role.FRONT_DESK, Role.PSYCHIATRIST, Role.CLINIC_ADMIN},
            "Book a motor threshold re-determination (CPT 90869) as one extra session of "
            "a course: the psychiatrist who orders it may book it too",
        ),
        # Courses and their clinical records
        Capability.CREATE_COURSE: _grant(
            {Role.FRONT_DESK, Role.PSYCHIATRIST, Role.CLINIC_ADMIN},
            "Create a course, naming its prescribing psychiatrist",
        ),
        Capability.EDIT_COURSE: _grant(
            {Role.FRONT_DESK, Role.PSYCHIATRIST},
            "Change a course's start date, preferred time and preferred chair",
        ),
        Capability.PRESCRIBE: _grant(
            {Role.PSYCHIATRIST},
            "Be named a course's psychiatrist; change a course's other fields "
            "(protocol, indication, psychiatrist, ...); lengthen a course or switch its "
            "protocol mid-course (its remaining sessions re-planned)",
        ),
        Capability.BOOK_BOOSTER: _grant(
            {Role.PSYCHIATRIST},
            "Prescribe, plan and book a booster course after an ended course in one "
            "action, previewed first (it prescribes, so the front desk books other "
            "courses but not this one)",
        ),
        Capability.CHANGE_COURSE_STATUS: _grant(
            {Role.PSYCHIATRIST},
            "Activate, pause, resume, complete or discontinue a course",
        ),
        Capability.EXTEND_AUTHORIZATION: _grant(
            {Role.FRONT_DESK, Role.PSYCHIATRIST, Role.CLINIC_ADMIN},
            "Add an authorization to a course (an extension)",
        ),
        Capability.RECORD_SCREENING: _grant(
            {Role.TECHNICIAN, Role.PSYCHIATRIST},
            "Record and change a patient's screening",
        ),
        Capability.CLEAR_SCREENING: _grant(
            {Role.PSYCHIATRIST},
            "Clear a patient for treatment, or decline treatment",
        ),
        Capability.RECORD_MEASUREMENTS: _grant(
            {Role.TECHNICIAN, Role.PSYCHIATRIST},
            "Record rating-scale scores and motor thresholds",
        ),
        Capability.REVIEW_SAFETY_FLAGS: _grant(
            {Role.PSYCHIATRIST},
            "Acknowledge a safety flag",
        ),
        Capability.CLOSE_RELAPSES: _grant(
            {Role.PSYCHIATRIST},
            "Close an entry of the relapse list (a patient-reported PHQ-9 that met the "
            "clinic's relapse rule) with a note, on the course page or the API",
        ),
        Capability.REVIEW_ADVERSE_EVENTS: _grant(
            {Role.PSYCHIATRIST},
            "Record the decision on an adverse event (continue, continue with changed "
            "parameters, discontinue), which lifts the hold on the course's sessions",
        ),
        Capability.RECEIVE_ESCALATIONS: _grant(
            {Role.PSYCHIATRIST, Role.CLINIC_ADMIN},
            "Be alerted (in the app and by email) when another psychiatrist leaves a safety "
            "flag or adverse event unacknowledged past the clinic's escalation time",
        ),
        Capability.RECEIVE_RISK_DIGEST: _grant(
            {Role.FRONT_DESK, Role.PSYCHIATRIST},
            "Receive the morning email listing the clinic's at-risk courses",
        ),
        Capability.ACKNOWLEDGE_ALERTS: _grant(
            set(Role),
            "Acknowledge a staff alert addressed to you, on a staff page",
        ),
        # The clinic itself
        Capability.EDIT_PATIENTS: _grant(
            {Role.FRONT_DESK, Role.PSYCHIATRIST},
            "Register patients and change their details and consents (clinic admins read them)",
        ),
        Capability.DELETE_PATIENTS: _grant(
            {Role.CLINIC_ADMIN},
            "Delete a patient",
        ),
        Capability.BLOCK_CHAIRS: _grant(
            {Role.TECHNICIAN, Role.CLINIC_ADMIN},
            "Block a chair for a while (maintenance), change or lift a block",
        ),
        Capability.SET_UP_CLINIC: _grant(
            {Role.CLINIC_ADMIN},
            "Set up the clinic: its details and hours, chairs, closures, its own "
            "protocols and the reminder policy",
        ),
        Capability.MANAGE_STAFF: _grant(
            {Role.CLINIC_ADMIN},
            "Add, change and remove the clinic's staff memberships",
        ),
        Capability.MANAGE_WEBHOOKS: _grant(
            {Role.CLINIC_ADMIN},
            "Register, change, disable and remove the clinic's webhook endpoints (their "
            "signing secret is shown once) and read their delivery logs",
        ),
        Capability.DELETE_KEPT_RECORDS: _grant(
            set(),
            "Delete a clinic, a protocol, a screening or a course: no role (retire a "
            "protocol, decline a screening, discontinue a course instead)",
        ),
        # Billing
        Capability.PRINT_SUPERBILL: _grant(
            {Role.FRONT_DESK, Role.CLINIC_ADMIN},
            "Download a patient's superbill (PDF or CSV: codes, units, diagnosis code) "
            "from the patient page or the API; the front desk hands them out at checkout",
        ),
        Capability.EXPORT_BILLING: _grant(
            {Role.CLINIC_ADMIN},
            "Export a period's billing lines of every patient as one CSV for the billing "
            "service (the billing page, the API)",
        ),
    }
)


def roles_for(capability: Capability) -> frozenset[str]:
    """The roles holding ``capability`` (superusers hold every capability)."""
    return CAPABILITIES[capability].roles


# Roles whose members always log in with a second factor (clinic/mfa.py), whatever their
# clinic's ``require_mfa_for_all_staff`` says: they prescribe and read every clinical
# detail, or they manage the clinic's accounts and read its audit trail.
MFA_REQUIRED_ROLES: frozenset[str] = frozenset({Role.PSYCHIATRIST.value, Role.CLINIC_ADMIN.value})

# The role a new clinic's first person is given (clinic.services.clinic_create_with_admin):
# the one that sets the clinic up and adds everyone else.
FIRST_PERSON_ROLE = Role.CLINIC_ADMIN.value
if not {Capability.SET_UP_CLINIC, Capability.MANAGE_STAFF} <= {
    capability for capability, grant in CAPABILITIES.items() if FIRST_PERSON_ROLE in grant.roles
}:
    raise ImportError("A new clinic's first person must be able to set it up and add staff.")
