"""A patient's preferred channel (issue 13, register and edit a patient): kept on the
patient (API, form, page), and deciding where a message goes when the patient agreed to
both texts and emails; a channel without consent or contact is never used, so the other
one is (notifications.services.policy.chosen). End to end: a reminder planned and sent
reaches the local SMS provider or the local SMTP server, as the preference says."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.utils import timezone

from clinic.models import AuditEvent, Patient, PreferredChannel, Role
from notifications import services
from notifications.models import Channel, Kind, Notification, Status
from notifications.services.policy import chosen
from tests.factories import ClinicFactory, PatientFactory, SessionFactory
from tests.notifications.test_transports import FakeTwilio
from tests.sms_fakes import midday_timezone
from tests.smtp import SmtpServer

SMS, EMAIL, BOTH = PreferredChannel.SMS, PreferredChannel.EMAIL, PreferredChannel.BOTH
PHONE, ADDRESS = "+13475550123", "max@example.org"


@pytest.mark.parametrize(
    ("sms", "email", "preferred", "channels"),
    [
        (True, True, SMS, [Channel.SMS]),
        (True, True, EMAIL, [Channel.EMAIL]),
        (True, True, BOTH, [Channel.SMS, Channel.EMAIL]),
        # The preferred channel lacks consent: the other one, never the preferred.
        (False, True, SMS, [Channel.EMAIL]),
        (True, False, EMAIL, [Channel.SMS]),
        (False, True, BOTH, [Channel.EMAIL]),
        (False, False, EMAIL, []),
    ],
)
def test_the_preferred_channel_decides_between_consented_ones(
    sms: bool, email: bool, preferred: str, channels: list[str]
) -> None:
    assert chosen(PHONE, ADDRESS, sms, email, preferred) == channels


def test_a_preferred_channel_without_a_contact_falls_back() -> None:
    assert chosen("", ADDRESS, True, True, SMS) == [Channel.EMAIL]
    assert chosen(PHONE, "", True, True, EMAIL) == [Channel.SMS]


# --- planned and sent, end to end -------------------------------------------------------


@pytest.fixture
def clinic_at_noon(db: None) -> Any:
    """A clinic where it is about noon now: reminders go at once, inside the window."""
    return ClinicFactory(phone="+13475550187", timezone=midday_timezone())


def _patient(clinic: Any, *, sms: bool, email: bool, preferred: str) -> Patient:
    return PatientFactory(
        clinic=clinic,
        first_name="Maximiliana",
        phone=PHONE,
        email=ADDRESS,
        sms_consent=sms,
        email_consent=email,
        preferred_channel=preferred,
    )


def _plan_and_send(patient: Patient) -> list[Notification]:
    """A session in 100 minutes: the planner writes its same-day reminder, due now
    (two hours before, the clinic's default); every row written is sent."""
    starts_at = timezone.now().replace(microsecond=0) + dt.timedelta(minutes=100)
    SessionFactory(course__patient=patient, starts_at=starts_at)
    services.plan_reminders()
    rows = list(Notification.objects.filter(patient=patient, kind=Kind.SAME_DAY))
    for row in rows:
        services.send(row.pk)
        row.refresh_from_db()
    return rows


@pytest.mark.parametrize(
    ("sms", "email", "preferred", "texted", "emailed"),
    [
        (True, True, EMAIL, False, True),
        (True, True, SMS, True, False),
        (True, True, BOTH, True, True),
        (False, True, SMS, False, True),  # prefers texts, agreed to emails only
        (True, False, EMAIL, True, False),
    ],
)
def test_a_planned_reminder_lands_where_the_preference_and_consent_say(
    sms: bool,
    email: bool,
    preferred: str,
    texted: bool,
    emailed: bool,
    clinic_at_noon: Any,
    twilio_settings: Any,  # the local SMS provider (tests/notifications/conftest.py)
    fake_twilio: FakeTwilio,
    smtp_server: SmtpServer,
) -> None:
    patient = _patient(clinic_at_noon, sms=sms, email=email, preferred=preferred)
    rows = _plan_and_send(patient)
    assert sorted(row.channel for row in rows) == [Channel.EMAIL] * emailed + [Channel.SMS] * texted
    assert all(row.status == Status.SENT for row in rows), [(r.status, r.reason) for r in rows]
    assert [r.form["To"] for r in fake_twilio.requests] == ([[PHONE]] if texted else [])
    assert [rcpt for _, rcpt, _ in smtp_server.handler.messages] == ([[ADDRESS]] if emailed else [])


def test_change_messages_follow_the_preference_too(clinic_at_noon: Any) -> None:
    """A visit moved: the announcement goes on the preferred channel only."""
    patient = _patient(clinic_at_noon, sms=True, email=True, preferred=EMAIL)
    session = SessionFactory(
        course__patient=patient, starts_at=timezone.now() + dt.timedelta(days=3)
    )
    previous = session.starts_at
    session.starts_at += dt.timedelta(hours=1)
    services.session_changed(session, moved=True, previous_start=previous)
    assert list(
        Notification.objects.filter(session=session, kind=Kind.SESSION_MOVED).values_list(
            "channel", flat=True
        )
    ) == [Channel.EMAIL]


# --- on the patient: API, form, page ----------------------------------------------------


def test_the_api_reads_and_changes_the_preferred_channel(clinic: Any, staff: Any, api: Any) -> None:
    patient = PatientFactory(clinic=clinic, preferred_channel=SMS)
    url = f"/api/v1/patients/{patient.pk}/"
    client = api(staff(Role.FRONT_DESK))
    assert client.get(url).json()["preferred_channel"] == "sms"
    changed = client.patch(url, {"preferred_channel": "email"}, format="json")
    assert changed.status_code == 200, changed.json()
    assert Patient.objects.get(pk=patient.pk).preferred_channel == "email"
    bad = client.patch(url, {"preferred_channel": "pigeon"}, format="json")
    assert bad.status_code == 400 and "preferred_channel" in bad.json()["errors"]
    assert Patient.objects.get(pk=patient.pk).preferred_channel == "email"


def test_a_patient_registered_through_the_api_prefers_texts_by_default(
    clinic: Any, staff: Any, api: Any
) -> None:
    response = api(staff(Role.FRONT_DESK)).post(
        "/api/v1/patients/",
        {
            "clinic": clinic.pk,
            "mrn": "P-9",
            "first_name": "Ada",
            "last_name": "Byron",
            "date_of_birth": "1980-01-02",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["preferred_channel"] == "sms"


def _form(**overrides: Any) -> dict[str, Any]:
    return {
        "mrn": "NEW-1",
        "first_name": "Nora",
        "last_name": "Quinn",
        "date_of_birth": "1979-03-02",
        "phone": "(718) 555-0142",
        "email": "nora@example.org",
        "sms_consent": "on",
        "email_consent": "on",
        "consent_source": "staff",
        **overrides,
    }


def test_registered_and_edited_on_the_form_and_shown_on_the_page(
    clinic: Any, staff: Any, client: Client
) -> None:
    client.force_login(staff(Role.FRONT_DESK))
    form = client.get("/patients/new/").content.decode()
    assert 'name="preferred_channel" value="sms"' in form and "checked" in form
    registered = client.post("/patients/new/", _form(preferred_channel="email"))
    assert registered.status_code == 302
    patient = Patient.objects.get(mrn="NEW-1")
    assert patient.preferred_channel == "email"
    page = client.get(f"/patients/{patient.pk}/").content.decode()
    assert "<dt>Prefers</dt><dd>Email; messages go by email</dd>" in page

    edited = client.post(
        f"/patients/{patient.pk}/edit/", _form(preferred_channel="both", email_consent="")
    )
    assert edited.status_code == 302
    patient.refresh_from_db()
    assert patient.preferred_channel == "both" and not patient.email_consent
    page = client.get(f"/patients/{patient.pk}/").content.decode()
    assert "<dt>Prefers</dt><dd>Both: text and email; messages go by text</dd>" in page
    bad = client.post(f"/patients/{patient.pk}/edit/", _form(preferred_channel="pigeon"))
    assert bad.status_code == 400
    assert Patient.objects.get(pk=patient.pk).preferred_channel == "both"


def test_a_form_without_the_field_keeps_the_preference(
    clinic: Any, staff: Any, client: Client
) -> None:
    patient = PatientFactory(clinic=clinic, preferred_channel=EMAIL, mrn="NEW-1")
    client.force_login(staff(Role.PSYCHIATRIST))
    assert client.post(f"/patients/{patient.pk}/edit/", _form()).status_code == 302
    assert Patient.objects.get(pk=patient.pk).preferred_channel == "email"


def test_the_page_says_when_no_message_can_go(clinic: Any, staff: Any, client: Client) -> None:
    patient = PatientFactory(clinic=clinic, sms_consent=False, email_consent=False)
    client.force_login(staff(Role.FRONT_DESK))
    page = client.get(f"/patients/{patient.pk}/").content.decode()
    assert "no message can go: nothing agreed with a contact to use" in page


def test_the_preference_is_in_the_audit_trail(clinic: Any, staff: Any, api: Any) -> None:
    patient = PatientFactory(clinic=clinic, preferred_channel=SMS)
    api(staff(Role.FRONT_DESK)).patch(
        f"/api/v1/patients/{patient.pk}/", {"preferred_channel": "both"}, format="json"
    )
    (event,) = AuditEvent.objects.filter(action="update", object_type="clinic.patient")
    assert event.object_id == str(patient.pk)
    assert event.changes["preferred_channel"] == ["sms", "both"]


# --- the migration ------------------------------------------------------------------------

BEFORE = [("clinic", "0017_api_tokens_stored_as_digests")]
AFTER = [("clinic", "0018_patient_preferred_channel")]


@pytest.mark.django_db(transaction=True)
def test_patients_registered_before_keep_the_channels_they_got() -> None:
    """Until the preference, a message went on every consented channel: patients who
    agreed to both keep both, email-only ones email; the rest start on texts."""
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(BEFORE)
    try:
        old = executor.loader.project_state(BEFORE).apps
        clinic = old.get_model("clinic", "Clinic").objects.create(
            name="Old", slug="old", timezone="America/New_York", display_name="Old", phone="+1"
        )
        old_patient = old.get_model("clinic", "Patient")
        consents = {"both": (True, True), "sms": (True, False), "email": (False, True)}
        consents["none"] = (False, False)
        for mrn, (sms, email) in consents.items():
            old_patient.objects.create(
                clinic=clinic,
                mrn=mrn,
                first_name="A",
                last_name="B",
                date_of_birth=dt.date(1980, 1, 1),
                phone="+13475550123",
                email="a@example.org",
                sms_consent=sms,
                email_consent=email,
            )
        executor.loader.build_graph()
        executor.migrate(AFTER)
        new = executor.loader.project_state(AFTER).apps
        preferred = dict(
            new.get_model("clinic", "Patient").objects.values_list("mrn", "preferred_channel")
        )
        assert preferred == {"both": "both", "sms": "sms", "email": "email", "none": "sms"}
    finally:
        executor.loader.build_graph()
        executor.migrate(latest)


# --- messages already due move with the channel -----------------------------------------


def _moved_announcement(patient: Patient) -> Notification:
    session = SessionFactory(
        course__patient=patient, starts_at=timezone.now() + dt.timedelta(days=3)
    )
    previous = session.starts_at
    session.starts_at += dt.timedelta(hours=1)
    services.session_changed(session, moved=True, previous_start=previous)
    return Notification.objects.get(session=session, kind=Kind.SESSION_MOVED)


def _due(patient: Patient) -> list[tuple[str, str, Any, Any]]:
    return list(
        Notification.objects.filter(patient=patient, status=Status.PENDING).values_list(
            "kind", "channel", "scheduled_for", "previous_starts_at"
        )
    )


def test_a_text_due_goes_by_email_when_the_patient_opts_out_of_texts(
    clinic_at_noon: Any,
) -> None:
    """The preferred channel withdrawn (STOP): what was due on it goes on the other
    channel the patient agreed to, as it would have been planned there."""
    patient = _patient(clinic_at_noon, sms=True, email=True, preferred=SMS)
    texted = _moved_announcement(patient)
    services.consent_record(patient, Channel.SMS, granted=False, source="inbound_sms")
    texted.refresh_from_db()
    assert texted.status == Status.CANCELLED and texted.reason == "consent revoked"
    assert _due(patient) == [
        (Kind.SESSION_MOVED, Channel.EMAIL, texted.scheduled_for, texted.previous_starts_at)
    ]


def test_a_new_preferred_channel_takes_the_messages_still_due(
    clinic_at_noon: Any, staff: Any, api: Any
) -> None:
    patient = _patient(clinic_at_noon, sms=True, email=True, preferred=SMS)
    texted = _moved_announcement(patient)
    response = api(staff(Role.FRONT_DESK, in_clinic=clinic_at_noon)).patch(
        f"/api/v1/patients/{patient.pk}/", {"preferred_channel": "email"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert Notification.objects.get(pk=texted.pk).status == Status.CANCELLED
    assert _due(patient) == [
        (Kind.SESSION_MOVED, Channel.EMAIL, texted.scheduled_for, texted.previous_starts_at)
    ]
    # And back: the text is written again (its key was freed when it was cancelled).
    api(staff(Role.FRONT_DESK, in_clinic=clinic_at_noon)).patch(
        f"/api/v1/patients/{patient.pk}/", {"preferred_channel": "sms"}, format="json"
    )
    assert [channel for _, channel, _, _ in _due(patient)] == [Channel.SMS]


def test_a_preference_changed_in_the_django_admin_moves_them_too(
    clinic_at_noon: Any, superuser: Any
) -> None:
    """The admin saves through the same service as the pages and the API."""
    patient = _patient(clinic_at_noon, sms=True, email=True, preferred=SMS)
    texted = _moved_announcement(patient)
    client = Client()
    client.force_login(superuser)
    form = {
        "clinic": clinic_at_noon.pk,
        "mrn": patient.mrn,
        "first_name": patient.first_name,
        "last_name": patient.last_name,
        "date_of_birth": patient.date_of_birth.isoformat(),
        "phone": patient.phone,
        "email": patient.email,
        "preferred_channel": "email",
    }
    saved = client.post(f"/admin/clinic/patient/{patient.pk}/change/", form)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    assert Notification.objects.get(pk=texted.pk).status == Status.CANCELLED
    assert _due(patient) == [
        (Kind.SESSION_MOVED, Channel.EMAIL, texted.scheduled_for, texted.previous_starts_at)
    ]


def test_nothing_moves_to_a_channel_without_consent(clinic_at_noon: Any) -> None:
    patient = _patient(clinic_at_noon, sms=True, email=False, preferred=EMAIL)
    texted = _moved_announcement(patient)
    assert texted.channel == Channel.SMS
    services.consent_record(patient, Channel.SMS, granted=False, source="inbound_sms")
    assert _due(patient) == []
