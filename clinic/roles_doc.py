"""What docs/roles.md lists: every API resource, API action and staff page (their rows
are in clinic/roles_pages.py), with the capability each needs (clinic/roles_render.py
writes the tables from these rows).

Every cell that says who may do something names a capability, never roles: the roles
come from :data:`clinic.capabilities.CAPABILITIES`. A note may name another capability in
braces (``{READ_CLINICAL_DETAIL}``); it is written out as that capability's roles. Which
capability each endpoint and page needs is checked against the views by
tests/clinic/test_capabilities.py.
"""

from __future__ import annotations

from clinic.capabilities import Capability
from clinic.roles_fhir import FHIR
from clinic.roles_pages import PAGES
from clinic.roles_rows import NONE, Action, Cell, Page, Resource

__all__ = ["ACTIONS", "FHIR", "NONE", "PAGES", "RESOURCES", "Action", "Cell", "Page", "Resource"]

READ = Capability.READ_CLINIC_RECORDS

RESOURCES: tuple[Resource, ...] = (
    Resource(
        ("/api/v1/clinics/",),
        (READ, " (own clinics)"),
        "superusers only",
        Capability.SET_UP_CLINIC,
        (Capability.DELETE_KEPT_RECORDS, " (409 `in_use` while it has patients)"),
    ),
    Resource(
        ("/api/v1/closures/",),
        READ,
        Capability.SET_UP_CLINIC,
        Capability.SET_UP_CLINIC,
        Capability.SET_UP_CLINIC,
    ),
    Resource(
        ("/api/v1/chairs/",),
        READ,
        Capability.SET_UP_CLINIC,
        Capability.SET_UP_CLINIC,
        Capability.SET_UP_CLINIC,
    ),
    Resource(
        ("/api/v1/chair-blocks/",),
        READ,
        Capability.BLOCK_CHAIRS,
        Capability.BLOCK_CHAIRS,
        Capability.BLOCK_CHAIRS,
    ),
    Resource(
        ("/api/v1/staff/",),
        (READ, " (names and roles, to pick a psychiatrist)"),
        Capability.MANAGE_STAFF,
        Capability.MANAGE_STAFF,
        Capability.MANAGE_STAFF,
    ),
    Resource(
        ("/api/v1/patients/",),
        READ,
        Capability.EDIT_PATIENTS,
        Capability.EDIT_PATIENTS,
        Capability.DELETE_PATIENTS,
    ),
    Resource(
        ("/api/v1/protocols/",),
        (READ, " (the shared catalog plus own clinics')"),
        (Capability.SET_UP_CLINIC, " (own clinic; the catalog: superusers)"),
        Capability.SET_UP_CLINIC,
        (Capability.DELETE_KEPT_RECORDS, " (retire with `active: false`)"),
    ),
    Resource(
        ("/api/v1/screenings/",),
        (READ, "; answers and trials: {READ_CLINICAL_DETAIL}"),
        Capability.RECORD_SCREENING,
        Capability.RECORD_SCREENING,
        Capability.DELETE_KEPT_RECORDS,
    ),
    Resource(
        ("/api/v1/courses/",),
        READ,
        (
            Capability.CREATE_COURSE,
            " (naming the prescribing psychiatrist; the booking page creates and "
            "schedules in one step)",
        ),
        (
            Capability.EDIT_COURSE,
            "; fields other than start date, preferred time and chair: {PRESCRIBE}",
        ),
        (Capability.DELETE_KEPT_RECORDS, " (discontinue instead)"),
    ),
    Resource(
        ("/api/v1/assessments/",),
        (READ, "; item answers: {READ_CLINICAL_DETAIL}"),
        Capability.RECORD_MEASUREMENTS,
        f"{NONE} (405: record a new score)",
        f"{NONE} (405)",
    ),
    Resource(
        ("/api/v1/motor-thresholds/",),
        Capability.READ_MOTOR_THRESHOLDS,
        Capability.RECORD_MEASUREMENTS,
        f"{NONE} (405)",
        f"{NONE} (405)",
    ),
    Resource(
        ("/api/v1/safety-flags/",),
        READ,
        f"{NONE} (raised by a PHQ-9 with item 9 above 0)",
        NONE,
        NONE,
    ),
    Resource(
        ("/api/v1/relapses/",),
        Capability.READ_SCORES,
        f"{NONE} (written by a patient-reported PHQ-9 that meets the relapse rule)",
        f"{NONE} (close instead)",
        NONE,
    ),
    Resource(
        ("/api/v1/sessions/",),
        (READ, "; the treatment record: {READ_CLINICAL_DETAIL}"),
        (Capability.BOOK_SESSIONS, " (book)"),
        (Capability.BOOK_SESSIONS, " (move)"),
        f"{NONE} (405: cancel instead)",
    ),
    Resource(("/api/v1/board/", "/api/v1/availability/"), READ, NONE, NONE, NONE),
    Resource(
        ("/api/v1/alerts/",),
        "your own staff alerts only (acknowledge: `POST /alerts/{id}/acknowledge/`)",
        NONE,
        NONE,
        NONE,
    ),
    Resource(
        ("/api/v1/notifications/",),
        Capability.READ_OUTBOX,
        NONE,
        NONE,
        NONE,
        note=" (the outbox; no message texts)",
    ),
    Resource(
        ("/api/v1/consents/",),
        READ,
        Capability.EDIT_PATIENTS,
        NONE,
        NONE,
        note=" (the consent ledger; a POST records written consent)",
    ),
    Resource(
        ("/api/v1/reminder-policies/{clinic}/",),
        READ,
        NONE,
        Capability.SET_UP_CLINIC,
        NONE,
    ),
    Resource(
        ("/api/v1/auth/tokens/",),
        "everyone: their own tokens",
        f"{NONE} (each `POST /api/v1/auth/token/` login issues one)",
        NONE,
        "everyone: their own tokens (another's: 404)",
        note=" (never the token itself)",
    ),
    Resource(
        ("/api/v1/webhook-endpoints/",),
        Capability.MANAGE_WEBHOOKS,
        Capability.MANAGE_WEBHOOKS,
        Capability.MANAGE_WEBHOOKS,
        Capability.MANAGE_WEBHOOKS,
        note=" (the signing secret is in the create's answer only; docs/webhooks.md)",
    ),
    Resource(
        ("/api/v1/audit-events/",),
        Capability.READ_AUDIT_TRAIL,
        NONE,
        NONE,
        NONE,
        note=" (the clinics where the caller holds it; append-only)",
    ),
    Resource(
        ("/api/v1/waitlist/",),
        READ,
        Capability.BOOK_SESSIONS,
        Capability.BOOK_SESSIONS,
        (Capability.BOOK_SESSIONS, " (the entry is kept, marked removed)"),
    ),
    Resource(("/api/v1/capacity-forecast/",), Capability.READ_CAPACITY_FORECAST, NONE, NONE, NONE),
    Resource(
        ("/webhooks/sms/inbound/", "/webhooks/sms/status/"),
        "no staff login: Twilio's signature (403 without it)",
        "",
        "",
        "",
    ),
)

ACTIONS: tuple[Action, ...] = (
    Action(
        "GET",
        ("/webhook-endpoints/{id}/deliveries/",),
        Capability.MANAGE_WEBHOOKS,
        " (the delivery log)",
    ),
    Action(
        "POST",
        ("/webhook-endpoints/{id}/rotate-secret/",),
        Capability.MANAGE_WEBHOOKS,
        " (a new secret, in this answer only)",
    ),
    Action(
        "POST",
        ("/screenings/{id}/clear/", "/screenings/{id}/decline/"),
        Capability.CLEAR_SCREENING,
    ),
    Action(
        "POST",
        tuple(
            f"/courses/{{id}}/{name}/"
            for name in ("activate", "pause", "resume", "complete", "discontinue")
        ),
        Capability.CHANGE_COURSE_STATUS,
    ),
    Action("GET", ("/courses/{id}/authorizations/",), READ),
    Action(
        "POST",
        ("/courses/{id}/authorizations/",),
        Capability.EXTEND_AUTHORIZATION,
        note=" (an extension)",
    ),
    Action("GET", ("/courses/{id}/outcome/",), Capability.READ_COURSE_OUTCOME),
    Action("POST", ("/safety-flags/{id}/acknowledge/",), Capability.REVIEW_SAFETY_FLAGS),
    Action("GET", ("/courses/{id}/relapse-watch/",), Capability.READ_SCORES),
    Action("POST", ("/relapses/{id}/close/",), Capability.CLOSE_RELAPSES),
    Action("GET", ("/outcomes/?clinic=&date_from=&date_to=",), Capability.READ_OUTCOMES),
    Action("POST", ("/courses/{id}/schedule/",), Capability.BOOK_SESSIONS),
    Action(
        "POST",
        ("/courses/{id}/booster/",),
        Capability.BOOK_BOOSTER,
        note=" (prescribe, plan and book a booster after the ended course; `dry_run` previews)",
    ),
    Action(
        "POST",
        ("/courses/{id}/redetermination/",),
        Capability.BOOK_REDETERMINATION,
        note=" (CPT 90869, docs/billing.md)",
    ),
    Action(
        "GET",
        ("/patients/{id}/superbill/?date_from=&date_to=&output=",),
        Capability.PRINT_SUPERBILL,
    ),
    Action("GET", ("/billing/export/?clinic=&date_from=&date_to=",), Capability.EXPORT_BILLING),
    Action("GET", ("/courses/{id}/progress/",), READ),
    Action("GET", ("/courses/{id}/adverse-events/",), Capability.READ_CLINICAL_DETAIL),
    Action(
        "POST",
        ("/courses/{id}/adverse-events/{event_id}/review/",),
        Capability.REVIEW_ADVERSE_EVENTS,
        note=" (`discontinue` also discontinues the course)",
    ),
    Action("POST", ("/sessions/{id}/check-in/",), Capability.CHECK_IN),
    Action("POST", ("/sessions/{id}/complete/",), Capability.RECORD_TREATMENT),
    Action("POST", ("/sessions/{id}/cancel/",), Capability.CANCEL_SESSION),
    Action("POST", ("/sessions/{id}/mark-missed/",), Capability.MARK_MISSED),
    Action("POST", ("/sessions/{id}/undo/",), Capability.UNDO_ATTENDANCE),
    Action("GET", ("/closures/{id}/affected-sessions/",), READ),
    Action("POST", ("/closures/{id}/rebook/",), Capability.REBOOK_CLOSURE),
    Action(
        "POST",
        ("/waitlist/{id}/book-offer/", "/waitlist/{id}/dismiss-offer/"),
        Capability.BOOK_SESSIONS,
    ),
)
