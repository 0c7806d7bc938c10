"""A stand-in for the SMS provider and a batch of due messages, shared by the fault
tests and the dispatch benchmark (loopback only; nothing leaves the machine)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from django.utils import timezone

from clinic.models import Chair, Clinic, Patient
from courses.models import Protocol, TreatmentCourse
from notifications.models import Channel, Kind, Notification
from scheduling.models import Session, SessionStatus

TOKEN_HEADER = "I-Twilio-Idempotency-Token"
FIRST_NAMES = ["Avery", "Jordan", "Riley", "Casey", "Morgan", "Quinn", "Harper", "Rowan"]


def midday_timezone(now: dt.datetime | None = None) -> str:
    """A time zone in which it is now about noon. For a clinic whose messages are sent
    on the real clock (by real worker processes, which a test's frozen clock does not
    reach): the sends then fall inside its send window (08:00-21:00) whatever the hour
    the suite runs at."""
    hour = (now or dt.datetime.now(dt.UTC)).hour
    offset = 12 - hour  # hours east of UTC: -11 .. +12, all of which Etc/ has
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"  # POSIX signs: GMT-5 is UTC+5


class FakeTwilio:
    """Twilio's ``POST /2010-04-01/Accounts/{sid}/Messages.json`` on 127.0.0.1.

    ``hold_after``: deliveries after that many are recorded, then held (no answer)
    until ``release`` is set, so a worker can be killed between the provider accepting
    a message and the worker recording it."""

    def __init__(self, account_sid: str, auth_token: str) -> None:
        self.lock = threading.Lock()
        self.sid_by_key: dict[str, str] = {}
        self.deliveries: list[tuple[str | None, str, str]] = []  # (key, to, body)
        self.requests: Counter[str | None] = Counter()
        self.refused = 0
        self.hold_after: int | None = None
        self.held = 0
        self.release = threading.Event()
        fake = self
        expected_auth = "Basic " + base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive, as the real API: a worker's HTTP session reuses its connection.
            # The headers and the body go in two writes: without TCP_NODELAY the body
            # would wait for the client's delayed ACK (40 ms) on a kept-alive connection.
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                if self.path != f"/2010-04-01/Accounts/{account_sid}/Messages.json":
                    self._answer(404, {"code": 20404, "message": "Not found", "status": 404})
                    return
                if self.headers.get("Authorization") != expected_auth:
                    with fake.lock:
                        fake.refused += 1
                    self._answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
                    return
                key = self.headers.get(TOKEN_HEADER)
                to, body = form.get("To", [""])[0], form.get("Body", [""])[0]
                hold = False
                with fake.lock:
                    fake.requests[key] += 1
                    sid = fake.sid_by_key.get(key) if key else None
                    if sid is None:
                        sid = f"SM{uuid.uuid4().hex}"
                        fake.deliveries.append((key, to, body))
                        if key:
                            fake.sid_by_key[key] = sid
                        if fake.hold_after is not None and len(fake.deliveries) > fake.hold_after:
                            fake.held += 1
                            hold = True
                if hold:
                    fake.release.wait(30)
                self._answer(
                    201,
                    {
                        "sid": sid,
                        "account_sid": account_sid,
                        "status": "queued",
                        "to": to,
                        "from": form.get("From", [""])[0],
                        "body": body,
                        "num_segments": "1",
                    },
                )

            def _answer(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the worker that asked is gone
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def delivered(self) -> int:
        with self.lock:
            return len(self.deliveries)

    def requests_total(self) -> int:
        with self.lock:
            return sum(self.requests.values())

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def create_due_sms(
    count: int, *, clinic: Clinic, chair: Chair, psychiatrist: Any
) -> list[Notification]:
    """``count`` due missed-session follow-ups by SMS, one per consenting patient with
    a phone number of their own, each for a missed session of the patient's course."""
    protocol = Protocol.objects.get(clinic=None, code="10hz-standard")
    missed_at = timezone.now() - dt.timedelta(days=1)
    patients = Patient.objects.bulk_create(
        Patient(
            clinic=clinic,
            mrn=f"FT-{n:05d}",
            first_name=FIRST_NAMES[n % len(FIRST_NAMES)],
            last_name=f"Fault{n}",
            date_of_birth=dt.date(1980, 1, 1),
            phone=f"+1212555{1000 + n:04d}",
            sms_consent=True,
        )
        for n in range(count)
    )
    courses = TreatmentCourse.objects.bulk_create(
        TreatmentCourse(
            patient=patient,
            psychiatrist=psychiatrist,
            protocol=protocol,
            indication="mdd",
            start_date=missed_at.date(),
            preferred_time=dt.time(9, 30),
        )
        for patient in patients
    )
    sessions = Session.objects.bulk_create(
        Session(
            course=course,
            patient=course.patient,
            chair=chair,
            starts_at=missed_at,
            ends_at=missed_at + dt.timedelta(minutes=40),
            status=SessionStatus.MISSED,
            missed_at=missed_at,
            kind="treatment",
            phase=1,
        )
        for course in courses
    )
    due = timezone.now() - dt.timedelta(minutes=1)
    return Notification.objects.bulk_create(
        Notification(
            clinic=clinic,
            patient=session.patient,
            session=session,
            channel=Channel.SMS,
            kind=Kind.MISSED_FOLLOWUP,
            idempotency_key=(
                f"s{session.pk}:{int(session.starts_at.timestamp())}:"
                f"{Kind.MISSED_FOLLOWUP}:{Channel.SMS}"
            ),
            scheduled_for=due,
        )
        for session in sessions
    )
