"""The staff pages of docs/roles.md, with the capability each needs (the API's rows
are in clinic/roles_doc.py; tests/clinic/test_capabilities.py checks them against the
views)."""

from __future__ import annotations

from clinic.capabilities import Capability
from clinic.roles_rows import Page

READ = Capability.READ_CLINIC_RECORDS

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
        (
            "POST /waitlist/<id>/book-offer/",
            "POST /waitlist/<id>/dismiss-offer/",
            "POST /waitlist/<id>/remove/",
        ),
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
