"""What the scheduling app announces to the apps above it (docs/architecture.md).

Each signal is sent by a service inside its own transaction and the receivers run
synchronously: the outbox rows the notifications app writes for a booking commit or
roll back with the booking. A receiver that fails makes the service fail. Call the
``announce_*`` functions, which name and type what each signal carries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from django.dispatch import Signal

from courses.models import TreatmentCourse
from scheduling.models import Session

if TYPE_CHECKING:
    from clinic.models import Clinic, Patient

sessions_booked = Signal()  # sessions, patient, clinic: a course was booked (or planned anew)
# session, moved, previous_start, by_patient: one session moved to another time (from
# previous_start), or cancelled (by the patient from their link, or by the clinic)
session_changed = Signal()
sessions_missed = Signal()  # session_ids: sessions just marked missed
sessions_released = Signal()  # session_ids, reason: cancelled because their course ended
sessions_withdrawn = Signal()  # session_ids: about to be deleted (an unstarted course re-planned)
makeups_booked = Signal()  # session_ids: make-up sessions just booked
# session, withdrawn_makeup: a missed mark or cancellation undone (or a late patient
# checked in after a missed mark); withdrawn_makeup: the make-up it had booked, now
# cancelled, or None
session_reinstated = Signal()
session_booked = Signal()  # session: one session booked on its own (not a whole course)
session_completed = Signal()  # session: a checked-in session completed with its record
# entry_ids: waitlist entries whose earliest start just moved earlier (an offer)
waitlist_offers_made = Signal()
# changes: list of (course id, previous level, new level): courses whose risk level
# changed; courses: those courses, as the caller loaded them
course_risk_changed = Signal()


def announce_sessions_booked(
    sessions: Sequence[Session], *, patient: Patient, clinic: Clinic
) -> None:
    sessions_booked.send(sender=Session, sessions=list(sessions), patient=patient, clinic=clinic)


def announce_session_changed(
    session: Session,
    *,
    moved: bool,
    previous_start: dt.datetime | None = None,
    by_patient: bool = False,
) -> None:
    session_changed.send(
        sender=Session,
        session=session,
        moved=moved,
        previous_start=previous_start,
        by_patient=by_patient,
    )


def announce_sessions_missed(session_ids: Iterable[int]) -> None:
    sessions_missed.send(sender=Session, session_ids=list(session_ids))


def announce_sessions_released(session_ids: Iterable[int], reason: str) -> None:
    sessions_released.send(sender=Session, session_ids=list(session_ids), reason=reason)


def announce_sessions_withdrawn(session_ids: Iterable[int]) -> None:
    sessions_withdrawn.send(sender=Session, session_ids=list(session_ids))


def announce_makeups_booked(session_ids: Iterable[int]) -> None:
    makeups_booked.send(sender=Session, session_ids=list(session_ids))


def announce_session_reinstated(session: Session, *, withdrawn_makeup: Session | None) -> None:
    session_reinstated.send(sender=Session, session=session, withdrawn_makeup=withdrawn_makeup)


def announce_session_booked(session: Session) -> None:
    session_booked.send(sender=Session, session=session)


def announce_session_completed(session: Session) -> None:
    session_completed.send(sender=Session, session=session)


def announce_course_risk_changed(
    changes: Sequence[tuple[int, str, str]], courses: Sequence[TreatmentCourse] = ()
) -> None:
    if changes:
        course_risk_changed.send(
            sender=TreatmentCourse, changes=list(changes), courses=list(courses)
        )


def announce_waitlist_offers(entry_ids: Iterable[int]) -> None:
    waitlist_offers_made.send(sender=Session, entry_ids=list(entry_ids))
