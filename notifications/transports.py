"""Where messages go: one interface, several transports chosen in settings.

A transport raises ``TransientError`` for failures worth retrying (timeouts, 5xx,
rate limits) and ``PermanentError`` for ones that will not get better (an invalid or
unreachable number, a rejected address); anything it returns is the provider's id.
"""

from __future__ import annotations

import logging
import smtplib
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class TransientError(Exception):
    pass


class PermanentError(Exception):
    """Retrying will not help. ``blames_contact``: the patient's number or address is
    the problem (staff should check it), not our account or the message."""

    def __init__(self, message: str, *, blames_contact: bool = True) -> None:
        super().__init__(message)
        self.blames_contact = blames_contact


@dataclass(frozen=True)
class Outgoing:
    to: str  # E.164 number or email address
    subject: str
    body: str
    idempotency_key: str
    status_callback: str | None = None


class Transport(Protocol):
    def send(self, message: Outgoing) -> str: ...


class ConsoleTransport:
    """The embedded default: logs that a message went out (not its content, which
    staff read on the outbox page) and returns a local id."""

    def send(self, message: Outgoing) -> str:
        provider_id = f"console-{uuid.uuid4().hex[:12]}"
        logger.info("message %s sent via console transport", message.idempotency_key)
        return provider_id


class LocmemTransport:
    """For tests: keeps what was sent in memory."""

    outbox: list[Outgoing] = []
    _lock = threading.Lock()

    def send(self, message: Outgoing) -> str:
        with self._lock:
            self.outbox.append(message)
        return f"locmem-{len(self.outbox)}"


class EmailTransport:
    """Email through Django's configured email backend (SMTP in production)."""

    def send(self, message: Outgoing) -> str:
        email = EmailMessage(
            subject=message.subject,
            body=message.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.to],
            headers={"X-Cadence-Message": message.idempotency_key},
        )
        try:
            email.send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused:
            raise PermanentError("email address refused by the server") from None
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            # Refused for a reason of ours (sender, content): retrying will not help,
            # and the patient's address is not to blame.
            raise PermanentError(
                f"email refused: {type(exc).__name__}", blames_contact=False
            ) from None
        except OSError as exc:  # connection trouble; smtplib's errors are OSErrors too
            raise TransientError(f"email server unavailable: {type(exc).__name__}") from None
        return f"email-{message.idempotency_key}"


class TwilioTransport:
    """SMS through Twilio's SDK. ``TWILIO_BASE_URL`` points it elsewhere (tests run it
    against a local HTTP server); the idempotency key travels as a header so that a
    retry after a crash can be recognised."""

    PERMANENT_CODES = {21211, 21408, 21610, 21612, 21614}  # invalid, blocked, opted out

    def __init__(self) -> None:
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        transport = self

        class KeyedHttpClient(TwilioHttpClient):
            def __init__(self, base_url: str, **kwargs: Any) -> None:
                super().__init__(**kwargs)
                if self.session is not None:
                    _environment_read_once(self.session, base_url)

            def request(self, *args: Any, **kwargs: Any) -> Any:
                headers = dict(kwargs.pop("headers", None) or {})
                key = getattr(transport._local, "key", None)
                if key:
                    headers["I-Twilio-Idempotency-Token"] = key
                return super().request(*args, headers=headers, **kwargs)

        self._local = threading.local()
        self.client = Client(
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_AUTH_TOKEN,
            http_client=KeyedHttpClient(
                settings.TWILIO_BASE_URL or "https://api.twilio.com", timeout=10
            ),
        )
        if settings.TWILIO_BASE_URL:
            self.client.api.base_url = settings.TWILIO_BASE_URL

    def send(self, message: Outgoing) -> str:
        from twilio.base.exceptions import TwilioRestException

        self._local.key = message.idempotency_key
        try:
            created = self.client.messages.create(
                to=message.to,
                from_=settings.TWILIO_FROM_NUMBER,
                body=message.body,
                status_callback=message.status_callback,
            )
        except TwilioRestException as exc:
            if exc.code in self.PERMANENT_CODES:
                raise PermanentError(f"twilio refused the number: {exc.code}") from None
            if exc.status in (401, 403):
                # Our credentials, not the patient: retry (someone may fix the token).
                raise TransientError(f"twilio authentication failed: {exc.code}") from None
            if 400 <= exc.status < 500 and exc.status != 429:
                raise PermanentError(
                    f"twilio refused the message: {exc.code or exc.status}", blames_contact=False
                ) from None
            raise TransientError(f"twilio error: {exc.status}") from None
        except Exception as exc:  # network trouble: worth another try
            raise TransientError(f"twilio unreachable: {type(exc).__name__}") from None
        finally:
            self._local.key = None
        return str(created.sid)


def _environment_read_once(session: Any, url: str) -> None:
    """Give a requests session what it would read from the environment for ``url`` on
    every request (proxies from HTTPS_PROXY and NO_PROXY, a CA bundle from
    REQUESTS_CA_BUNDLE), read now, once: requests reads and parses the environment's
    proxy settings for each request otherwise, about a twentieth of a text's CPU."""
    found = session.merge_environment_settings(url, {}, None, None, None)
    session.trust_env = False
    session.proxies.update(found["proxies"])
    session.verify = found["verify"]


_transports: dict[str, Transport] = {}


def transport_for(channel: str) -> Transport:
    path = settings.NOTIFICATION_TRANSPORTS[channel]
    if path not in _transports:
        _transports[path] = import_string(path)()
    return _transports[path]


def reset_transports() -> None:
    _transports.clear()
