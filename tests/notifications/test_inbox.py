"""Patients' replies through the signed inbound webhook (issue 14, item 14): YES
confirms the next visit, any other text reaches the front desk's inbox of the
patient's clinic (with an unread count in the navigation), each message once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic.models import Patient, Role
from notifications.models import Channel, ConsentEvent, Kind, Notification, PatientReply, Status
from scheduling import services as scheduling
from scheduling.models import Session, SessionStatus
from tests.factories import ClinicFactory, PatientFactory
from tests.notifications.test_webhooks import (
    INBOUND_URL,
    PATIENT_PHONE,
    _twilio_token,
    inbound,
    post,
)
from tests.permissions import ACTORS, make_actor

__all__ = ["_twilio_token"]  # autouse fixture

pytestmark = pytest.mark.usefixtures("frozen_now")


@pytest.fixture
def visits(make_course: Callable[..., Any], chairs: list[Any]) -> list[Session]:
    """A course from Monday 30 November, 09:30; the patient texts from PATIENT_PHONE."""
    course = make_course()
    Patient.objects.filter(pk=course.patient_id).update(phone=PATIENT_PHONE, sms_consent=True)
    return sorted(scheduling.course_schedule(course), key=lambda s: s.starts_at)


def _reply(response: Any) -> str:
    assert response.status_code == 200
    text = response.content.decode()
    assert text.count("<Message>") <= 1
    return text


def _texted(patient: Patient, at: dt.datetime) -> None:
    """An SMS we sent the patient at ``at`` (what they may be answering)."""
    Notification.objects.create(
        clinic=patient.clinic,
        patient=patient,
        channel=Channel.SMS,
        kind=Kind.DAY_BEFORE,
        status=Status.SENT,
        idempotency_key=f"texted:{patient.pk}:{at.timestamp()}",
        scheduled_for=at,
        sent_at=at,
    )


# --- YES ----------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["YES", "yes", "Yes!", " yes please "])
def test_yes_confirms_the_next_visit(visits: list[Session], body: str) -> None:
    text = _reply(post(INBOUND_URL, inbound(body)))

    assert "your visit on Mon Nov 30 at 9:30 AM is confirmed" in text
    confirmed = Session.objects.filter(patient_confirmed_at__isnull=False)
    assert list(confirmed.values_list("pk", flat=True)) == [visits[0].pk]


def test_yes_skips_visits_past_or_cancelled(visits: list[Session], frozen_now: Any) -> None:
    scheduling.session_cancel(visits[1], reason="x")
    Session.objects.filter(pk=visits[0].pk).update(status=SessionStatus.COMPLETED)
    frozen_now.move_to(visits[0].ends_at)

    text = _reply(post(INBOUND_URL, inbound("YES")))

    assert "Wed Dec 2 at 9:30 AM is confirmed" in text
    assert Session.objects.get(patient_confirmed_at__isnull=False).pk == visits[2].pk


def test_a_replayed_yes_changes_nothing(visits: list[Session]) -> None:
    params = inbound("YES")
    post(INBOUND_URL, params)
    Session.objects.update(patient_confirmed_at=None)

    response = post(INBOUND_URL, params)

    assert "<Message" not in _reply(response)
    assert not Session.objects.filter(patient_confirmed_at__isnull=False).exists()


def test_yes_without_an_upcoming_visit_says_so(db: None) -> None:
    clinic = ClinicFactory(display_name="Elm Care", phone="+13475550187")
    PatientFactory(clinic=clinic, phone=PATIENT_PHONE, sms_consent=True)

    text = _reply(post(INBOUND_URL, inbound("YES")))

    assert "no upcoming visit to confirm" in text and "(347) 555-0187" in text


def test_yes_after_an_opt_out_turns_texts_back_on_and_confirms_nothing(
    visits: list[Session],
) -> None:
    patient = visits[0].patient
    post(INBOUND_URL, inbound("STOP"))

    text = _reply(post(INBOUND_URL, inbound("YES")))

    assert "texts are back on" in text
    patient.refresh_from_db()
    assert patient.sms_consent is True
    assert ConsentEvent.objects.filter(
        patient=patient, granted=True, source=ConsentEvent.Source.INBOUND_SMS
    ).exists()
    assert not Session.objects.filter(patient_confirmed_at__isnull=False).exists()


def test_yes_from_a_shared_number_confirms_the_visit_of_the_patient_we_texted_last(
    visits: list[Session], make_course: Callable[..., Any]
) -> None:
    sibling_course = make_course(at=dt.time(11))
    sibling = sibling_course.patient
    Patient.objects.filter(pk=sibling.pk).update(phone=PATIENT_PHONE, sms_consent=True)
    sibling_visits = sorted(scheduling.course_schedule(sibling_course), key=lambda s: s.starts_at)
    now = timezone.now()
    _texted(visits[0].patient, now - dt.timedelta(hours=2))
    _texted(sibling, now - dt.timedelta(hours=1))

    text = _reply(post(INBOUND_URL, inbound("YES")))

    assert "Mon Nov 30 at 11:00 AM is confirmed" in text
    assert Session.objects.get(patient_confirmed_at__isnull=False).pk == sibling_visits[0].pk


def test_a_yes_inside_an_opt_out_is_an_opt_out(visits: list[Session]) -> None:
    post(INBOUND_URL, inbound("Yes, please stop texting me"))
    visits[0].patient.refresh_from_db()
    assert visits[0].patient.sms_consent is False
    assert not Session.objects.filter(patient_confirmed_at__isnull=False).exists()


# --- other texts: the front desk's inbox -----------------------------------------------------


def test_other_texts_reach_the_inbox_once_and_are_answered_once(visits: list[Session]) -> None:
    patient = visits[0].patient
    first = inbound("running late, 10 min")
    assert "front desk will read" in _reply(post(INBOUND_URL, first))
    assert "<Message" not in _reply(post(INBOUND_URL, first))  # a replay: nothing
    assert "<Message" not in _reply(post(INBOUND_URL, inbound("sorry!")))  # still waiting

    assert list(PatientReply.objects.order_by("id").values_list("patient", "body")) == [
        (patient.pk, "running late, 10 min"),
        (patient.pk, "sorry!"),
    ]
    PatientReply.objects.update(handled_at=timezone.now())
    # once the desk has handled them, the next text is answered again
    assert "front desk will read" in _reply(post(INBOUND_URL, inbound("here now")))


def test_an_opted_out_patient_is_heard_but_not_answered(visits: list[Session]) -> None:
    post(INBOUND_URL, inbound("STOP"))
    assert "<Message" not in _reply(post(INBOUND_URL, inbound("can I come Friday instead?")))
    assert PatientReply.objects.get().body == "can I come Friday instead?"


def test_an_unknown_number_leaves_nothing(visits: list[Session]) -> None:
    assert "<Message" not in _reply(post(INBOUND_URL, inbound("hi", from_number="+13475550999")))
    assert not PatientReply.objects.exists()


def test_a_number_at_two_clinics_reaches_only_the_clinic_that_texted_last(
    visits: list[Session], other_clinic: Any, staff: Any, client: Client
) -> None:
    elsewhere = PatientFactory(clinic=other_clinic, phone=PATIENT_PHONE, sms_consent=True)
    _texted(elsewhere, timezone.now() - dt.timedelta(days=3))
    _texted(visits[0].patient, timezone.now() - dt.timedelta(hours=3))

    post(INBOUND_URL, inbound("running late"))

    reply = PatientReply.objects.get()
    assert (reply.clinic_id, reply.patient_id) == (
        visits[0].patient.clinic_id,
        visits[0].patient_id,
    )
    client.force_login(staff(Role.FRONT_DESK, in_clinic=other_clinic))
    assert "running late" not in client.get("/messages/").content.decode()


# --- the page ---------------------------------------------------------------------------------


def _reply_row(clinic: Any, body: str = "running late", **fields: Any) -> PatientReply:
    patient = PatientFactory(clinic=clinic, first_name="Ana", last_name="Lopez")
    return PatientReply.objects.create(clinic=clinic, patient=patient, body=body, **fields)


def test_the_front_desk_reads_and_handles_a_text(clinic: Any, staff: Any, client: Client) -> None:
    reply = _reply_row(clinic)
    _reply_row(
        clinic, body="an old one", handled_at=timezone.now(), handled_by=staff(Role.CLINIC_ADMIN)
    )
    desk = staff(Role.FRONT_DESK)
    client.force_login(desk)

    page = client.get("/messages/").content.decode()

    assert "running late" in page and "Ana Lopez" in page
    assert page.index("running late") < page.index("an old one")  # to handle first
    assert 'Patient messages <span class="badge">1<' in page
    response = client.post(f"/messages/{reply.pk}/handled/")
    assert response.status_code == 302
    reply.refresh_from_db()
    assert reply.handled_by == desk and reply.handled_at is not None
    assert 'class="badge"' not in client.get("/messages/").content.decode()
    # twice: nothing changes, the first stays on record
    client.force_login(staff(Role.CLINIC_ADMIN))
    client.post(f"/messages/{reply.pk}/handled/")
    reply.refresh_from_db()
    assert reply.handled_by == desk


def test_the_count_shows_on_every_page_for_those_who_may_read(
    clinic: Any, staff: Any, client: Client
) -> None:
    _reply_row(clinic)
    _reply_row(clinic)
    client.force_login(staff(Role.FRONT_DESK))
    assert 'Patient messages <span class="badge">2<' in client.get("/board/").content.decode()
    client.force_login(staff(Role.TECHNICIAN))
    assert "Patient messages" not in client.get("/today/").content.decode()


def test_the_page_and_the_count_take_a_fixed_number_of_queries(
    clinic: Any, staff: Any, client: Client
) -> None:
    client.force_login(staff(Role.FRONT_DESK))
    _reply_row(clinic)

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/messages/").status_code == 200
        return len(captured)

    few = count()
    for n in range(8):
        _reply_row(
            clinic,
            handled_at=timezone.now() if n % 2 else None,
            handled_by=None if n % 2 == 0 else staff(Role.FRONT_DESK),
        )
    assert count() == few


@pytest.mark.parametrize("actor", ACTORS)
def test_inbox_roles(
    actor: str, clinic: Any, other_clinic: Any, staff: Any, superuser: Any, client: Client
) -> None:
    reply = _reply_row(clinic)
    user = make_actor(actor, other_clinic, staff, superuser)
    if user is not None:
        client.force_login(user)
    page = client.get("/messages/")
    handled = client.post(f"/messages/{reply.pk}/handled/")
    reply.refresh_from_db()
    if actor == "anonymous":
        assert page.status_code == handled.status_code == 302
        assert "/accounts/login/" in page["Location"]
        assert reply.handled_at is None
    elif actor == "outsider":  # an admin of another clinic: their inbox, not this one
        assert page.status_code == 200 and "running late" not in page.content.decode()
        assert handled.status_code == 404 and reply.handled_at is None
    elif actor in ("superuser", Role.FRONT_DESK, Role.CLINIC_ADMIN):
        assert page.status_code == 200 and "running late" in page.content.decode()
        assert handled.status_code == 302 and reply.handled_at is not None
    else:
        assert page.status_code == handled.status_code == 403
        assert reply.handled_at is None
    assert client.get(f"/messages/{reply.pk}/handled/").status_code in (302, 405)
