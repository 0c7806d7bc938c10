"""How the notifications app answers what the apps below it announce (clinic.signals,
scheduling.signals): each receiver writes outbox or ledger rows through one service,
in the transaction of the change. Connected in NotificationsConfig.ready()."""

from __future__ import annotations

import datetime as dt
from typing import Any

from clinic.models import Clinic, Patient
from notifications import services
from scheduling.models import Session


def consent_changed(
    sender: Any,
    *,
    patient: Patient,
    channel: str,
    granted: bool,
    source: str,
    by: Any,
    document: str = "",
    given_on: dt.date | None = None,
    **_: Any,
) -> None:
    services.consent_record(
        patient,
        channel,
        granted=granted,
        source=source,
        by=by,
        document=document,
        given_on=given_on,
    )


def channels_changed(sender: Any, *, patient: Patient, **_: Any) -> None:
    services.reroute_pending(patient, "channel changed")


def sessions_booked(
    sender: Any, *, sessions: list[Session], patient: Patient, clinic: Clinic, **_: Any
) -> None:
    services.notify_course_booked(sessions, patient=patient, clinic=clinic)


def session_changed(
    sender: Any,
    *,
    session: Session,
    moved: bool,
    previous_start: dt.datetime | None = None,
    by_patient: bool = False,
    **_: Any,
) -> None:
    services.session_changed(
        session, moved=moved, previous_start=previous_start, by_patient=by_patient
    )


def session_reinstated(
    sender: Any, *, session: Session, withdrawn_makeup: Session | None, **_: Any
) -> None:
    services.session_reinstated(session, withdrawn_makeup)


def sessions_missed(sender: Any, *, session_ids: list[int], **_: Any) -> None:
    services.notify_missed(session_ids)


def sessions_released(sender: Any, *, session_ids: list[int], reason: str, **_: Any) -> None:
    services.sessions_released(session_ids, reason)


def sessions_withdrawn(sender: Any, *, session_ids: list[int], **_: Any) -> None:
    services.sessions_withdrawn(session_ids)


def makeups_booked(sender: Any, *, session_ids: list[int], **_: Any) -> None:
    services.notify_makeups(session_ids)


def waitlist_offers_made(sender: Any, *, entry_ids: list[int], **_: Any) -> None:
    services.notify_waitlist_offers(entry_ids)
