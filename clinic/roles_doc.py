"""What docs/roles.md lists: every API resource, API action and staff page, with the
capability each needs (clinic/roles_render.py writes the tables from these rows).

Every cell that says who may do something names a capability, never roles: the roles
come from :data:`clinic.capabilities.CAPABILITIES`. A note may name another capability in
braces (``{READ_CLINICAL_DETAIL}``); it is written out as that capability's roles. Which
capability each endpoint and page needs is checked against the views by
tests/clinic/test_capabilities.py.
"""

from __future__ import annotations

from clinic.capabilities import Capability
from clinic.roles_fhir import FHIR
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
    Action("POST", ("/waitlist/{id}/book-offer/",), Capability.BOOK_SESSIONS),
)

PAGES: tuple[Page, ...] = (
    Page(
        ("/board/",),
        (Capability.OPEN_BOARD, "; a session shows only the buttons its viewer may use"),
        "day board",
    ),
    Page(("POST /board/sessions/<id>/check-in/",), Capability.CHECK_IN),
    Page(("POST /board/sessions/<id>/mark-missed/",), Capability.MARK_MISSED),
    Page(("POST /board/sessions/<id>/cancel/",), Capability.CANCEL_SESSION),
    Page(("POST /board/sessions/<id>/undo/",), Capability.UNDO_ATTENDANCE),
    Page(("/board/sessions/<id>/move/",), Capability.BOOK_SESSIONS),
    Page(
        ("/waitlist/",),
        (Capability.BOOK_SESSIONS, "; the day board names the patients with an offer"),
        "waitlist",
    ),
    Page(
        ("POST /waitlist/<id>/book-offer/", "POST /waitlist/<id>/remove/"),
        Capability.BOOK_SESSIONS,
    ),
    Page(("/capacity/",), Capability.READ_CAPACITY_FORECAST, "capacity forecast"),
    Page(("/today/",), Capability.OPEN_TODAY, "technician's list"),
    Page(
        ("/patients/",),
        (
            READ,
            " (search, filters, 25 a page; the phone column: {READ_PATIENT_CONTACT})",
        ),
        "patient list",
    ),
    Page(
        ("/patients/<id>/",),
        (
            READ,
            "; contact details, messages sent and due, consent history: "
            "{READ_PATIENT_CONTACT}; each action only to the roles its own page allows",
        ),
        "patient page",
    ),
    Page(
        ("/patients/new/", "/patients/<id>/edit/"),
        (Capability.EDIT_PATIENTS, " (consents with their source; duplicates shown first)"),
        "register and edit a patient",
    ),
    Page(
        ("POST /patients/<id>/sessions/book/",),
        Capability.BOOK_SESSIONS,
        "one extra session from the patient page",
    ),
    Page(
        ("POST /patients/<id>/sessions/remap/",),
        Capability.BOOK_REDETERMINATION,
        "a motor threshold re-determination from the patient page",
    ),
    Page(
        ("/patients/<id>/superbill/",),
        Capability.PRINT_SUPERBILL,
        "a patient's superbill (PDF or CSV)",
    ),
    Page(
        ("/billing/", "/billing/export.csv"),
        Capability.EXPORT_BILLING,
        "billing page and its period CSV",
    ),
    Page(("POST /today/sessions/<id>/complete/",), Capability.RECORD_TREATMENT),
    Page(
        ("/closures/",),
        (Capability.OPEN_CLOSURES, "; adding a closure: {SET_UP_CLINIC}"),
    ),
    Page(("POST /closures/<id>/rebook/",), Capability.REBOOK_CLOSURE),
    Page(
        ("/closures/<id>/edit/", "/closures/<id>/delete/"),
        (Capability.SET_UP_CLINIC, "; each lists the sessions booked on the day first"),
        "change or remove a closure",
    ),
    Page(
        ("/setup/", "/setup/chairs/", "/setup/chairs/<id>/"),
        Capability.SET_UP_CLINIC,
        "set-up: the clinic's settings and opening hours, its chairs",
    ),
    Page(
        (
            "/setup/chairs/<id>/blocks/",
            "/setup/chairs/<id>/blocks/<block>/edit/",
            "POST /setup/chairs/<id>/blocks/<block>/delete/",
        ),
        (Capability.BLOCK_CHAIRS, "; a block over booked sessions is refused, listing them"),
        "a chair's blocks",
    ),
    Page(
        ("/setup/staff/", "POST /setup/staff/<id>/role/", "POST /setup/staff/<id>/remove/"),
        (
            Capability.MANAGE_STAFF,
            "; the person added is emailed a link to choose a password; nobody removes "
            "themselves or a clinic's last admin",
        ),
        "set-up: staff",
    ),
    Page(
        ("/setup/reminders/",),
        (Capability.SET_UP_CLINIC, "; with a preview of a typical week's messages"),
        "set-up: the reminder policy",
    ),
    Page(
        ("/setup/webhooks/", "/setup/webhooks/<id>/"),
        (
            Capability.MANAGE_WEBHOOKS,
            "; the secret is shown once, on registering or renewing it",
        ),
        "set-up: webhooks and their delivery logs",
    ),
    Page(
        ("/courses/book/", "/courses/book/patients/", "/courses/book/patient-status/"),
        (Capability.BOOK_SESSIONS, "; the search lists only the current clinic's patients"),
        "book a course",
    ),
    Page(
        ("/courses/mine/",),
        (
            Capability.OPEN_DASHBOARD,
            "; every course of the clinic: {OVERSEE_ALL_COURSES}; the others see the "
            "courses they prescribe; the week's deviations from the prescription: "
            "{READ_CLINICAL_DETAIL}",
        ),
        "dashboard",
    ),
    Page(
        ("/courses/<id>/",),
        (
            READ,
            "; scores and the chart: {READ_SCORES}; item and screening answers, "
            "treatment records: {READ_CLINICAL_DETAIL}; motor thresholds: "
            "{READ_MOTOR_THRESHOLDS}",
        ),
        "course page",
    ),
    Page(
        ("POST /courses/<id>/assessments/", "POST /courses/<id>/motor-thresholds/"),
        Capability.RECORD_MEASUREMENTS,
        "score and motor-threshold entry on the course page",
    ),
    Page(
        ("POST /courses/<id>/adverse-events/<event_id>/review/",),
        Capability.REVIEW_ADVERSE_EVENTS,
        "adverse-event decision on the course page",
    ),
    Page(
        ("POST /courses/<id>/prescription/",),
        Capability.PRESCRIBE,
        "the prescription (pulses, intensity, coil position) on the course page",
    ),
    Page(
        ("/screenings/new/?patient=<id>", "/screenings/<id>/", "/screenings/<id>/edit/"),
        Capability.RECORD_SCREENING,
        "record, see and correct a screening",
    ),
    Page(
        ("POST /screenings/<id>/decide/",),
        Capability.CLEAR_SCREENING,
        "clear or decline a screening (never with an absolute contraindication)",
    ),
    Page(
        ("/courses/prescribe/?patient=<id>",),
        Capability.PRESCRIBE,
        "prescribe a course, and book it at once after a preview",
    ),
    Page(
        ("/courses/<id>/lengthen/", "/courses/<id>/switch-protocol/"),
        Capability.PRESCRIBE,
        "lengthen a course or switch its protocol (the re-planned sessions previewed)",
    ),
    Page(
        ("/courses/<id>/booster/",),
        Capability.BOOK_BOOSTER,
        "book a booster course after an ended course (preview, confirm)",
    ),
    Page(
        ("/courses/<id>/book/",),
        Capability.BOOK_SESSIONS,
        "book every session of a prescribed course (preview, confirm)",
    ),
    Page(
        ("/courses/<id>/status/<pause|resume|complete|discontinue>/",),
        Capability.CHANGE_COURSE_STATUS,
        "course actions, each confirmed with what it does to the bookings",
    ),
    Page(
        ("/courses/<id>/authorizations/new/",),
        Capability.EXTEND_AUTHORIZATION,
        "add an authorization (books the make-ups that now fit)",
    ),
    Page(("POST /courses/safety-flags/<id>/acknowledge/",), Capability.REVIEW_SAFETY_FLAGS),
    Page(("POST /courses/<id>/relapses/<relapse_id>/close/",), Capability.CLOSE_RELAPSES),
    Page(
        ("POST /courses/alerts/<id>/acknowledge/", "POST /courses/alerts/acknowledge/"),
        (Capability.ACKNOWLEDGE_ALERTS, " (your own alerts only; several at once: the second)"),
    ),
    Page(
        ("/reports/outcomes/", "/reports/outcomes.csv"),
        Capability.READ_OUTCOMES,
        "outcomes report and its CSV",
    ),
    Page(
        ("/messages/",),
        (
            Capability.READ_PATIENT_MESSAGES,
            " (the current clinic's patient texts; the navigation counts those to handle)",
        ),
        "patient messages",
    ),
    Page(("POST /messages/<id>/handled/",), Capability.READ_PATIENT_MESSAGES),
    Page(
        ("/audit/", "/audit/events.csv"),
        (Capability.READ_AUDIT_TRAIL, " (the current clinic's events)"),
        "audit trail and its CSV",
    ),
    Page(
        ("/outbox/",),
        (
            Capability.READ_OUTBOX,
            " (the messages of every clinic where the viewer's role holds it)",
        ),
    ),
)
