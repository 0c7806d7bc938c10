"""Twilio webhooks: signed inbound keywords and delivery status callbacks."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone
from twilio.request_validator import RequestValidator

from notifications.models import (
    Channel,
    ConsentEvent,
    Kind,
    Notification,
    PatientReply,
    Status,
)
from tests.factories import ClinicFactory, PatientFactory

AUTH_TOKEN = "0123456789abcdef0123456789abcdef"
ACCOUNT_SID = "AC" + "0" * 32
INBOUND_URL = "http://testserver/webhooks/sms/inbound/"
STATUS_URL = "http://testserver/webhooks/sms/status/"
PATIENT_PHONE = "+13475550123"
CLINIC_PHONE = "+13475550187"
CLINIC_PHONE_NATIONAL = "(347) 555-0187"
SID = "SM" + "1" * 32


@pytest.fixture(autouse=True)
def _twilio_token(settings: Any) -> None:
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN


@pytest.fixture
def patient(db: None) -> Any:
    clinic = ClinicFactory(display_name="Prospect Heights Wellness Ctr", phone=CLINIC_PHONE)
    return PatientFactory(clinic=clinic, phone=PATIENT_PHONE, sms_consent=True)


def sign(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> str:
    return str(RequestValidator(token).compute_signature(url, params))


def post(
    url: str, params: dict[str, str], signature: str | None = "valid", client: Client | None = None
) -> Any:
    headers = {}
    if signature == "valid":
        headers["X-Twilio-Signature"] = sign(url, params)
    elif signature is not None:
        headers["X-Twilio-Signature"] = signature
    return (client or Client()).post(
        url.removeprefix("http://testserver"),
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        headers=headers,
    )


def inbound(
    body: str, from_number: str = PATIENT_PHONE, message_id: str | None = None
) -> dict[str, str]:
    """A text as Twilio posts it; each gets a message id of its own unless one is given."""
    return {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "Body": body,
        "From": from_number,
        "FromCountry": "US",
        "MessageSid": message_id or "SM" + uuid.uuid4().hex,
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsStatus": "received",
        "To": "+15005550006",
    }


def status_callback(sid: str, status: str) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "From": "+15005550006",
        "MessageSid": sid,
        "MessageStatus": status,
        "SmsSid": sid,
        "SmsStatus": status,
        "To": PATIENT_PHONE,
    }


def messages_in(response: Any) -> int:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    text = response.content.decode()
    assert "<Response" in text
    return text.count("<Message>")


def consent_of(patient: Any) -> bool:
    patient.refresh_from_db()
    return bool(patient.sms_consent)


def pending_row(patient: Any, key: str = "k1", channel: str = Channel.SMS) -> Any:
    return Notification.objects.create(
        clinic=patient.clinic,
        patient=patient,
        channel=channel,
        kind=Kind.DAY_BEFORE,
        idempotency_key=key,
        scheduled_for=timezone.now() + dt.timedelta(hours=1),
    )


# --- signatures -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "not-a-signature",
        sign(INBOUND_URL, inbound("STOP"), token="f" * 32),  # another account's token
        sign(INBOUND_URL, inbound("hello")),  # signed for another body
        sign(STATUS_URL, inbound("STOP")),  # signed for another URL
    ],
    ids=["missing", "empty", "garbage", "wrong-token", "tampered-body", "wrong-url"],
)
def test_inbound_without_a_valid_signature_is_refused(patient: Any, signature: str | None) -> None:
    response = post(INBOUND_URL, inbound("STOP"), signature=signature)

    assert response.status_code == 403
    assert consent_of(patient) is True
    assert ConsentEvent.objects.count() == 0


def test_no_configured_token_refuses_everything(patient: Any, settings: Any) -> None:
    params = inbound("STOP")
    signature = RequestValidator("").compute_signature(INBOUND_URL, params)
    settings.TWILIO_AUTH_TOKEN = ""

    response = post(INBOUND_URL, params, signature=signature)

    assert response.status_code == 403
    assert consent_of(patient) is True


@pytest.mark.parametrize("signature", [None, "garbage", sign(STATUS_URL, {"x": "y"})])
def test_status_without_a_valid_signature_is_refused(patient: Any, signature: str | None) -> None:
    row = pending_row(patient)
    Notification.objects.filter(pk=row.pk).update(status=Status.SENT, provider_message_id=SID)

    response = post(STATUS_URL, status_callback(SID, "delivered"), signature=signature)

    assert response.status_code == 403
    row.refresh_from_db()
    assert row.status == Status.SENT
    assert row.delivered_at is None


def test_webhooks_accept_only_post(patient: Any) -> None:
    assert Client().get("/webhooks/sms/inbound/").status_code == 405
    assert Client().get("/webhooks/sms/status/").status_code == 405


# --- inbound keywords -----------------------------------------------------------------------

STOP_MESSAGES = [
    "STOP",
    "stop",
    "stop please",
    "Stop.",
    "  STOP \n",
    "STOPALL",
    "UNSUBSCRIBE",
    "unsubscribe",
    "END",
    "end",
    "QUIT",
    "Quit",
    "CANCEL",
    "cancel",
    "REVOKE",
    "revoke",
    "OPTOUT",
    "OptOut",
]


@pytest.mark.parametrize("body", STOP_MESSAGES)
def test_stop_keywords_revoke_sms_consent_at_once(patient: Any, body: str) -> None:
    sms_row = pending_row(patient, "sms")
    email_row = pending_row(patient, "email", channel=Channel.EMAIL)

    response = post(INBOUND_URL, inbound(body))

    assert messages_in(response) == 1
    assert "START" in response.content.decode()
    assert consent_of(patient) is False
    event = ConsentEvent.objects.get()
    assert (event.patient, event.channel, event.granted) == (patient, Channel.SMS, False)
    assert event.source == ConsentEvent.Source.INBOUND_SMS == "inbound_sms"
    assert event.recorded_by is None
    sms_row.refresh_from_db()
    email_row.refresh_from_db()
    assert sms_row.status == Status.CANCELLED
    assert email_row.status == Status.PENDING
    patient.refresh_from_db()
    assert patient.email_consent is True


def test_stop_twice_confirms_again_but_writes_one_revocation(patient: Any) -> None:
    assert messages_in(post(INBOUND_URL, inbound("STOP"))) == 1
    assert messages_in(post(INBOUND_URL, inbound("stop"))) == 1

    assert consent_of(patient) is False
    assert ConsentEvent.objects.count() == 1


def test_stop_applies_to_every_patient_with_that_number(patient: Any) -> None:
    other = PatientFactory(clinic=ClinicFactory(), phone=PATIENT_PHONE, sms_consent=True)
    stranger = PatientFactory(clinic=patient.clinic, phone="+13475550999", sms_consent=True)

    assert messages_in(post(INBOUND_URL, inbound("STOP"))) == 1

    assert consent_of(patient) is False
    assert consent_of(other) is False
    assert consent_of(stranger) is True
    assert ConsentEvent.objects.filter(granted=False).count() == 2


@pytest.mark.parametrize("body", ["START", "start", "Start.", "UNSTOP"])
def test_start_resubscribes(patient: Any, body: str) -> None:
    post(INBOUND_URL, inbound("STOP"))
    assert consent_of(patient) is False

    response = post(INBOUND_URL, inbound(body))

    assert messages_in(response) == 1
    assert consent_of(patient) is True
    revoke, grant = ConsentEvent.objects.order_by("at", "id")
    assert (revoke.granted, grant.granted) == (False, True)
    assert grant.source == ConsentEvent.Source.INBOUND_SMS
    assert grant.channel == Channel.SMS


def test_start_when_already_subscribed_writes_nothing(patient: Any) -> None:
    assert messages_in(post(INBOUND_URL, inbound("START"))) == 1

    assert consent_of(patient) is True
    assert ConsentEvent.objects.count() == 0


@pytest.mark.parametrize("body", ["HELP", "help", "Help?", "INFO"])
def test_help_answers_with_the_clinic_phone_and_changes_nothing(patient: Any, body: str) -> None:
    row = pending_row(patient)

    response = post(INBOUND_URL, inbound(body))

    assert messages_in(response) == 1
    text = response.content.decode()
    assert CLINIC_PHONE_NATIONAL in text
    assert "Prospect Heights Wellness Ctr" in text
    assert consent_of(patient) is True
    assert ConsentEvent.objects.count() == 0
    row.refresh_from_db()
    assert row.status == Status.PENDING


@pytest.mark.parametrize("body", ["STOP", "HELP", "START", "hello"])
def test_unknown_number_gets_an_empty_response(patient: Any, body: str) -> None:
    response = post(INBOUND_URL, inbound(body, from_number="+13475550999"))

    assert messages_in(response) == 0
    assert "<Message" not in response.content.decode()
    assert consent_of(patient) is True
    assert ConsentEvent.objects.count() == 0


@pytest.mark.parametrize(
    "body", ["See you tomorrow!", "ok", "Stopping by at 10", "What time is my visit?"]
)
def test_a_message_without_a_keyword_is_kept_for_the_front_desk(patient: Any, body: str) -> None:
    """Not a keyword: the front desk reads it (tests/notifications/test_inbox.py); the
    patient is told so, once, and nothing about consent changes."""
    response = post(INBOUND_URL, inbound(body))

    assert messages_in(response) == 1
    assert "front desk will read your message" in response.content.decode()
    assert list(PatientReply.objects.values_list("patient_id", "body")) == [(patient.pk, body)]
    assert consent_of(patient) is True
    assert ConsentEvent.objects.count() == 0


@pytest.mark.parametrize("body", ["", "   ", "\n"])
def test_an_empty_message_gets_no_reply_and_is_not_kept(patient: Any, body: str) -> None:
    assert messages_in(post(INBOUND_URL, inbound(body))) == 0
    assert not PatientReply.objects.exists()


def test_an_opt_out_is_not_overridden_by_an_earlier_yes(patient: Any) -> None:
    post(INBOUND_URL, inbound("Yes, please stop texting me"))

    assert consent_of(patient) is False


# --- delivery status callbacks --------------------------------------------------------------


@pytest.fixture
def sent_row(patient: Any) -> Any:
    row = pending_row(patient)
    Notification.objects.filter(pk=row.pk).update(
        status=Status.SENT, provider_message_id=SID, sent_at=timezone.now(), attempts=1
    )
    row.refresh_from_db()
    return row


def snapshot(row: Any) -> dict[str, Any]:
    return Notification.objects.filter(pk=row.pk).values().get()


def test_delivered_moves_a_sent_row_to_delivered(sent_row: Any) -> None:
    response = post(STATUS_URL, status_callback(SID, "delivered"))

    assert response.status_code == 204
    sent_row.refresh_from_db()
    assert sent_row.status == Status.DELIVERED
    assert sent_row.delivered_at is not None
    assert sent_row.delivered_at >= sent_row.sent_at


def test_replayed_delivered_changes_nothing(sent_row: Any) -> None:
    post(STATUS_URL, status_callback(SID, "delivered"))
    before = snapshot(sent_row)

    response = post(STATUS_URL, status_callback(SID, "delivered"))

    assert response.status_code == 204
    assert snapshot(sent_row) == before


@pytest.mark.parametrize("late", ["sent", "queued", "sending", "failed", "undelivered"])
def test_late_callbacks_never_move_a_delivered_row(sent_row: Any, late: str) -> None:
    post(STATUS_URL, status_callback(SID, "delivered"))
    before = snapshot(sent_row)

    response = post(STATUS_URL, status_callback(SID, late))

    assert response.status_code == 204
    assert snapshot(sent_row) == before
    assert before["status"] == Status.DELIVERED


@pytest.mark.parametrize("outcome", ["failed", "undelivered"])
def test_failed_or_undelivered_fails_a_sent_row(sent_row: Any, outcome: str) -> None:
    response = post(STATUS_URL, status_callback(SID, outcome))

    assert response.status_code == 204
    sent_row.refresh_from_db()
    assert sent_row.status == Status.FAILED
    assert sent_row.reason == f"provider reported {outcome}"
    assert sent_row.delivered_at is None


@pytest.mark.parametrize("late", ["sent", "delivered"])
def test_a_failed_row_stays_failed(sent_row: Any, late: str) -> None:
    post(STATUS_URL, status_callback(SID, "undelivered"))
    before = snapshot(sent_row)

    post(STATUS_URL, status_callback(SID, late))

    assert snapshot(sent_row) == before


@pytest.mark.parametrize("intermediate", ["queued", "sending", "accepted", "sent"])
def test_intermediate_statuses_leave_a_sent_row_alone(sent_row: Any, intermediate: str) -> None:
    before = snapshot(sent_row)

    assert post(STATUS_URL, status_callback(SID, intermediate)).status_code == 204

    assert snapshot(sent_row) == before


def test_unknown_sid_is_acknowledged_and_changes_nothing(sent_row: Any) -> None:
    before = snapshot(sent_row)

    response = post(STATUS_URL, status_callback("SM" + "f" * 32, "delivered"))

    assert response.status_code == 204
    assert snapshot(sent_row) == before


def test_callback_without_a_sid_changes_nothing(sent_row: Any) -> None:
    before = snapshot(sent_row)

    response = post(STATUS_URL, {"MessageStatus": "delivered"})

    assert response.status_code == 204
    assert snapshot(sent_row) == before


# --- each inbound message once -------------------------------------------------------------


def test_a_replayed_start_after_a_stop_changes_nothing(patient: Any) -> None:
    """A captured, validly signed START posted again after the patient's STOP must not
    switch texts back on: the provider's message id was processed already."""
    captured = inbound("START", message_id="SM" + "a" * 32)
    assert messages_in(post(INBOUND_URL, captured)) == 1
    assert messages_in(post(INBOUND_URL, inbound("STOP"))) == 1
    assert consent_of(patient) is False

    replay = post(INBOUND_URL, captured)

    assert messages_in(replay) == 0  # 200, nothing to say, nothing done
    assert consent_of(patient) is False
    assert list(ConsentEvent.objects.values_list("granted", flat=True)) == [False]


def test_a_replayed_stop_writes_no_second_revocation(patient: Any) -> None:
    stop = inbound("STOP", message_id="SM" + "b" * 32)
    assert messages_in(post(INBOUND_URL, stop)) == 1
    assert messages_in(post(INBOUND_URL, inbound("START"))) == 1
    assert messages_in(post(INBOUND_URL, stop)) == 0
    assert consent_of(patient) is True
    assert list(ConsentEvent.objects.values_list("granted", flat=True)) == [False, True]


@pytest.mark.parametrize("message_id", ["", "SM" + "c" * 80])
def test_an_inbound_text_without_a_sound_message_id_is_400(patient: Any, message_id: str) -> None:
    params = inbound("STOP")
    params["MessageSid"] = message_id
    assert post(INBOUND_URL, params).status_code == 400
    assert consent_of(patient) is True
