"""Transports against real local servers: Twilio's SDK over HTTP, Django's SMTP backend
over SMTP; the retry/failure bookkeeping of services.send; the consent ledger."""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
import time_machine
from django.utils import timezone

from clinic.models import Role
from courses.models import TreatmentCourse
from notifications import services
from notifications.models import Channel, ConsentEvent, Kind, Notification, Status
from notifications.services import outbox
from notifications.transports import reset_transports
from scheduling.models import Session
from tests.conftest import bearer_client
from tests.factories import (
    ClinicFactory,
    CourseFactory,
    MembershipFactory,
    PatientFactory,
    SessionFactory,
)
from tests.sms_fakes import midday_timezone
from tests.smtp import SmtpServer, free_port, start_smtp_server

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "f" * 32
FROM_NUMBER = "+15005550006"
MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
DISPLAY_NAME = "Prospect Heights Wellness Ctr"


# --- a local stand-in for Twilio's Messages API -------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, list[str]]


@dataclass
class FakeTwilio:
    url: str
    requests: list[Recorded] = field(default_factory=list)
    # (HTTP status, JSON payload or None for a Twilio-like success)
    replies: list[tuple[int, dict[str, Any] | None]] = field(default_factory=list)
    sent: int = 0

    def answer(self, status: int, payload: dict[str, Any] | None = None) -> None:
        self.replies.append((status, payload))


def twilio_error(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _handler_for(fake: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
            with lock:
                fake.requests.append(Recorded("POST", self.path, dict(self.headers.items()), form))
                status, payload = fake.replies.pop(0) if fake.replies else (201, None)
                if status == 201 and payload is None:
                    fake.sent += 1
                    payload = self._message(form, fake.sent)
            if self.path != MESSAGES_PATH:
                status, payload = (
                    404,
                    twilio_error(404, 20404, "The requested resource was not found"),
                )
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        @staticmethod
        def _message(form: dict[str, list[str]], n: int) -> dict[str, Any]:
            sid = f"SM{n:032x}"
            return {
                "account_sid": ACCOUNT_SID,
                "api_version": "2010-04-01",
                "body": form.get("Body", [""])[0],
                "date_created": "Thu, 26 Nov 2026 14:00:00 +0000",
                "date_sent": None,
                "date_updated": "Thu, 26 Nov 2026 14:00:00 +0000",
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": form.get("From", [""])[0],
                "messaging_service_sid": None,
                "num_media": "0",
                "num_segments": "1",
                "price": None,
                "price_unit": "USD",
                "sid": sid,
                "status": "queued",
                "subresource_uris": {
                    "media": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}/Media.json"
                },
                "to": form.get("To", [""])[0],
                "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json",
            }

    return Handler


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    fake = FakeTwilio(url=f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler_for(fake)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def twilio_settings(settings: Any, fake_twilio: FakeTwilio) -> Iterator[Any]:
    settings.NOTIFICATION_TRANSPORTS = {
        **settings.NOTIFICATION_TRANSPORTS,
        "sms": "notifications.transports.TwilioTransport",
    }
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.TWILIO_FROM_NUMBER = FROM_NUMBER
    settings.TWILIO_BASE_URL = fake_twilio.url
    settings.SMS_STATUS_CALLBACK_URL = None
    reset_transports()
    yield settings
    reset_transports()


# --- a real SMTP server on loopback -----------------------------------------------------


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[SmtpServer]:
    server = start_smtp_server()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    settings.DEFAULT_FROM_EMAIL = "reminders@cadence.test"
    settings.NOTIFICATION_TRANSPORTS = {
        **settings.NOTIFICATION_TRANSPORTS,
        "email": "notifications.transports.EmailTransport",
    }
    reset_transports()
    try:
        yield server
    finally:
        server.stop()
        reset_transports()


# --- rows to send -----------------------------------------------------------------------


@pytest.fixture
def patient(db: None) -> Any:
    clinic = ClinicFactory(
        display_name=DISPLAY_NAME, phone="+13475550187", timezone=midday_timezone()
    )
    return PatientFactory(
        clinic=clinic, first_name="Maximiliana", phone="+13475550123", email="max@example.org"
    )


def upcoming_session(patient: Any) -> Any:
    """A new session of the patient's (one open) course, a few days ahead."""
    course = TreatmentCourse.objects.filter(patient=patient).first() or CourseFactory(
        patient=patient
    )
    days = 3 + Session.objects.filter(patient=patient).count()
    return SessionFactory(
        course=course, starts_at=timezone.now().replace(microsecond=0) + dt.timedelta(days=days)
    )


def pending(patient: Any, channel: str = Channel.SMS, kind: str = Kind.COURSE_BOOKED) -> Any:
    """A due, pending row for a future session of ``patient`` (course_booked: no cap)."""
    session = upcoming_session(patient)
    return Notification.objects.create(
        clinic=patient.clinic,
        patient=patient,
        session=session,
        channel=channel,
        kind=kind,
        idempotency_key=outbox._key(kind, channel, session),
        scheduled_for=timezone.now() - dt.timedelta(minutes=1),
    )


# --- Twilio ---------------------------------------------------------------------------------


def test_twilio_send_posts_the_message_and_stores_the_sid(
    twilio_settings: Any, fake_twilio: FakeTwilio, patient: Any
) -> None:
    row = pending(patient)

    assert services.send(row.pk) == Status.SENT

    [request] = fake_twilio.requests
    assert request.method == "POST"
    assert request.path == MESSAGES_PATH
    assert request.form["To"] == ["+13475550123"]
    assert request.form["From"] == [FROM_NUMBER]
    [body] = request.form["Body"]
    assert body.startswith("Hi Maximiliana,")
    assert DISPLAY_NAME in body
    assert "StatusCallback" not in request.form
    scheme, credentials = request.headers["Authorization"].split(" ", 1)
    assert scheme == "Basic"
    assert base64.b64decode(credentials).decode() == f"{ACCOUNT_SID}:{AUTH_TOKEN}"
    assert request.headers["I-Twilio-Idempotency-Token"] == row.idempotency_key

    row.refresh_from_db()
    assert row.status == Status.SENT
    assert row.provider_message_id == f"SM{1:032x}"
    assert row.attempts == 1
    assert row.sent_at is not None
    assert row.lease_expires_at is None
    assert row.body == body


def test_twilio_asks_for_status_callbacks_when_configured(
    twilio_settings: Any, fake_twilio: FakeTwilio, patient: Any
) -> None:
    twilio_settings.SMS_STATUS_CALLBACK_URL = "https://cadence.example.org/webhooks/sms/status/"
    row = pending(patient)

    assert services.send(row.pk) == Status.SENT

    [request] = fake_twilio.requests
    assert request.form["StatusCallback"] == ["https://cadence.example.org/webhooks/sms/status/"]


def test_each_message_carries_its_own_idempotency_token(
    twilio_settings: Any, fake_twilio: FakeTwilio, patient: Any
) -> None:
    rows = [pending(patient), pending(patient, kind=Kind.SESSION_MOVED)]

    for row in rows:
        assert services.send(row.pk) == Status.SENT

    tokens = [r.headers["I-Twilio-Idempotency-Token"] for r in fake_twilio.requests]
    assert tokens == [row.idempotency_key for row in rows]
    sids = list(Notification.objects.order_by("id").values_list("provider_message_id", flat=True))
    assert sids == [f"SM{1:032x}", f"SM{2:032x}"]


def test_twilio_reads_proxies_and_ca_bundle_from_the_environment_once(
    twilio_settings: Any, fake_twilio: FakeTwilio, patient: Any, monkeypatch: Any
) -> None:
    """What requests would read from the environment on every request (proxies, NO_PROXY,
    a CA bundle) is read when the transport is made, and still applies."""
    from notifications.transports import TwilioTransport

    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/our-ca.pem")
    monkeypatch.setenv("NO_PROXY", "")
    session = TwilioTransport().client.http_client.session  # type: ignore[attr-defined]
    assert session.trust_env is False
    assert session.proxies["http"] == "http://proxy.invalid:3128"
    assert session.verify == "/etc/ssl/our-ca.pem"

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # the fake provider: no proxy, and it goes
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    reset_transports()
    assert services.send(pending(patient).pk) == Status.SENT
    assert len(fake_twilio.requests) == 1


@pytest.mark.parametrize(
    ("status", "payload"),
    [
        (500, twilio_error(500, 20500, "Internal Server Error")),
        (503, twilio_error(503, 20503, "Service Unavailable")),
        (429, twilio_error(429, 20429, "Too Many Requests")),
    ],
)
def test_twilio_server_trouble_is_retried_later(
    twilio_settings: Any,
    fake_twilio: FakeTwilio,
    patient: Any,
    status: int,
    payload: dict[str, Any],
) -> None:
    row = pending(patient)
    fake_twilio.answer(status, payload)
    before = timezone.now()

    assert services.send(row.pk) == Status.PENDING

    row.refresh_from_db()
    assert row.status == Status.PENDING
    assert row.attempts == 1
    assert row.scheduled_for > before
    assert row.last_error == f"twilio error: {status}"
    assert row.provider_message_id == ""
    assert row.sent_at is None
    assert row.lease_expires_at is None
    patient.refresh_from_db()
    assert patient.contact_problem == ""

    # Not due yet: nobody may send it again right away.
    assert services.send(row.pk) == "not_claimed"
    assert len(fake_twilio.requests) == 1

    # Later the retry goes out with the same idempotency token and succeeds.
    with time_machine.travel(row.scheduled_for + dt.timedelta(seconds=1), tick=False):
        assert services.send(row.pk) == Status.SENT
    first, retry = fake_twilio.requests
    assert (
        first.headers["I-Twilio-Idempotency-Token"]
        == retry.headers["I-Twilio-Idempotency-Token"]
        == row.idempotency_key
    )
    row.refresh_from_db()
    assert row.status == Status.SENT
    assert row.attempts == 2
    assert row.provider_message_id == f"SM{1:032x}"


def test_twilio_unreachable_is_transient(twilio_settings: Any, patient: Any) -> None:
    twilio_settings.TWILIO_BASE_URL = f"http://127.0.0.1:{free_port()}"  # nobody listens
    reset_transports()
    row = pending(patient)

    assert services.send(row.pk) == Status.PENDING

    row.refresh_from_db()
    assert row.attempts == 1
    assert row.last_error.startswith("twilio unreachable")


def test_twilio_invalid_number_fails_for_good(
    twilio_settings: Any, fake_twilio: FakeTwilio, patient: Any
) -> None:
    row = pending(patient)
    fake_twilio.answer(
        400, twilio_error(400, 21211, "The 'To' number +13475550123 is not a valid phone number.")
    )

    assert services.send(row.pk) == Status.FAILED

    row.refresh_from_db()
    assert row.status == Status.FAILED
    assert "21211" in row.reason
    assert "21211" in row.last_error
    assert row.provider_message_id == ""
    assert row.lease_expires_at is None
    patient.refresh_from_db()
    assert patient.contact_problem.startswith("sms:")
    assert "21211" in patient.contact_problem
    # A failed row is final: it is not claimed again.
    assert services.send(row.pk) == "not_claimed"
    assert len(fake_twilio.requests) == 1


def test_twilio_bad_credentials_do_not_blame_the_patient(
    twilio_settings: Any, fake_twilio: FakeTwilio, patient: Any
) -> None:
    row = pending(patient)
    fake_twilio.answer(401, twilio_error(401, 20003, "Authentication Error - invalid username"))

    services.send(row.pk)

    patient.refresh_from_db()
    row.refresh_from_db()
    assert patient.contact_problem == ""
    assert row.status == Status.PENDING


# --- Email over SMTP ------------------------------------------------------------------------


def test_email_goes_through_a_real_smtp_server(smtp_server: SmtpServer, patient: Any) -> None:
    row = pending(patient, channel=Channel.EMAIL)

    assert services.send(row.pk) == Status.SENT

    [(mail_from, rcpt_tos, message)] = smtp_server.handler.messages
    assert mail_from == "reminders@cadence.test"
    assert rcpt_tos == ["max@example.org"]
    assert message["Subject"] == "Your appointments are booked"
    assert message["To"] == "max@example.org"
    assert message["X-Cadence-Message"] == row.idempotency_key
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert DISPLAY_NAME in text
    assert "(347) 555-0187" in text
    assert "Maximiliana" in text
    assert "Reply STOP" not in text

    row.refresh_from_db()
    assert row.status == Status.SENT
    assert row.provider_message_id == f"email-{row.idempotency_key}"
    assert row.body == text.replace("\r\n", "\n").strip()


def test_email_server_down_is_transient(smtp_server: SmtpServer, patient: Any) -> None:
    row = pending(patient, channel=Channel.EMAIL)
    smtp_server.stop()
    before = timezone.now()

    assert services.send(row.pk) == Status.PENDING

    row.refresh_from_db()
    assert row.status == Status.PENDING
    assert row.attempts == 1
    assert row.scheduled_for > before
    assert row.last_error.startswith("email server unavailable")
    patient.refresh_from_db()
    assert patient.contact_problem == ""


def test_email_refused_address_fails_for_good(smtp_server: SmtpServer, patient: Any) -> None:
    smtp_server.handler.refused.add("max@example.org")
    row = pending(patient, channel=Channel.EMAIL)

    assert services.send(row.pk) == Status.FAILED

    row.refresh_from_db()
    patient.refresh_from_db()
    assert row.status == Status.FAILED
    assert patient.contact_problem.startswith("email:")


# --- consent ----------------------------------------------------------------------------


def test_no_sms_consent_suppresses_and_sends_nothing(
    twilio_settings: Any, fake_twilio: FakeTwilio, patient: Any
) -> None:
    row = pending(patient)
    patient.__class__.objects.filter(pk=patient.pk).update(sms_consent=False)

    assert services.send(row.pk) == Status.SUPPRESSED

    assert fake_twilio.requests == []
    row.refresh_from_db()
    assert row.status == Status.SUPPRESSED
    assert row.reason == "no consent or no contact"
    assert row.provider_message_id == ""
    assert row.sent_at is None


def test_revoking_consent_cancels_that_channels_pending_rows(patient: Any) -> None:
    sms_due = pending(patient)
    sms_later = pending(patient, kind=Kind.SESSION_MOVED)
    email_due = pending(patient, channel=Channel.EMAIL)
    sms_sent = pending(patient, kind=Kind.DAY_BEFORE)
    Notification.objects.filter(pk=sms_sent.pk).update(
        status=Status.SENT, provider_message_id="SM" + "a" * 32, sent_at=timezone.now()
    )
    staff = MembershipFactory(clinic=patient.clinic, role=Role.FRONT_DESK).user

    event = services.consent_record(
        patient, Channel.SMS, granted=False, source=ConsentEvent.Source.STAFF, by=staff
    )

    assert ConsentEvent.objects.get() == event
    assert (event.patient, event.channel, event.granted) == (patient, Channel.SMS, False)
    assert (event.source, event.recorded_by) == (ConsentEvent.Source.STAFF, staff)
    assert event.text_version
    assert event.at is not None
    patient.refresh_from_db()
    assert patient.sms_consent is False
    assert patient.email_consent is True
    originals = [sms_due.pk, sms_later.pk, email_due.pk, sms_sent.pk]
    statuses = dict(Notification.objects.filter(pk__in=originals).values_list("id", "status"))
    assert statuses == {
        sms_due.pk: Status.CANCELLED,
        sms_later.pk: Status.CANCELLED,
        email_due.pk: Status.PENDING,
        sms_sent.pk: Status.SENT,
    }
    assert Notification.objects.get(pk=sms_due.pk).reason == "consent revoked"
    # The texts still due go by email, which the patient agreed to (docs/reminders.md).
    assert set(
        Notification.objects.exclude(pk__in=originals).values_list(
            "session_id", "kind", "channel", "status"
        )
    ) == {
        (sms_due.session_id, Kind.COURSE_BOOKED, Channel.EMAIL, Status.PENDING),
        (sms_later.session_id, Kind.SESSION_MOVED, Channel.EMAIL, Status.PENDING),
    }


def test_granting_consent_cancels_nothing(patient: Any) -> None:
    row = pending(patient)

    services.consent_record(patient, Channel.SMS, granted=True, source=ConsentEvent.Source.STAFF)

    row.refresh_from_db()
    assert row.status == Status.PENDING
    assert ConsentEvent.objects.get().granted is True


def test_patients_api_consent_change_goes_into_the_ledger(patient: Any) -> None:
    front_desk = MembershipFactory(clinic=patient.clinic, role=Role.FRONT_DESK).user
    row = pending(patient)
    client = bearer_client(front_desk)

    response = client.patch(
        f"/api/v1/patients/{patient.pk}/", {"first_name": "Maxi"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert ConsentEvent.objects.count() == 0  # no consent change, no ledger entry

    response = client.patch(
        f"/api/v1/patients/{patient.pk}/", {"sms_consent": False}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["sms_consent"] is False
    event = ConsentEvent.objects.get()
    assert (event.patient_id, event.channel, event.granted) == (patient.pk, Channel.SMS, False)
    assert event.source == ConsentEvent.Source.API == "api"
    assert event.recorded_by == front_desk
    patient.refresh_from_db()
    assert patient.sms_consent is False
    row.refresh_from_db()
    assert row.status == Status.CANCELLED
