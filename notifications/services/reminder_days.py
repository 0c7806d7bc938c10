"""Which visits get routine reminders (day-before, same-day): the reasoning is in
docs/reminders.md.

A patient in daily treatment comes five days a week for six weeks. A reminder before
every visit is thirty texts about a routine they know by the second week, and texts
that say nothing new teach people to ignore texts. So a routine reminder goes before
a visit that does not follow a visit of the day before (the first of each week, the
first after a holiday or a missed day, every visit of a taper or of a twice-a-week
schedule), and before every visit that changed (moved, or a make-up). A patient who
asks for it, or every patient of a clinic that chooses it, is reminded every day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db.models import Q

from clinic.models import Clinic, Patient
from notifications.models import Kind, Notification, ReminderPolicy
from scheduling.models import OCCUPYING, Session, SessionKind

# Where the planner's session rows keep what this module reads.
_ID, _STARTS_AT, _KIND, _PATIENT, _CLINIC = 0, 1, 2, 3, -1


def sessions_worth_a_reminder(
    rows: Sequence[Sequence[Any]],
    coming: Q,
    places: dict[int, tuple[Clinic, ReminderPolicy]],
) -> set[int]:
    """The ids of the planner's coming sessions (``rows`` of its _SESSION_CONTACT, the
    sessions ``coming`` selects) whose day gets routine reminders. Three queries,
    whatever the number of rows; ids go to the database as subqueries, never as lists
    (a large deployment's day would pass PostgreSQL's limit on parameters)."""
    if not rows:
        return set()
    coming_sessions = Session.objects.filter(coming)
    their_patients = coming_sessions.values("patient_id")
    earliest = min(row[_STARTS_AT] for row in rows) - dt.timedelta(days=2)
    latest = max(row[_STARTS_AT] for row in rows)
    visited = {
        (patient_id, starts_at.astimezone(places[clinic_id][0].tz).date())
        for patient_id, starts_at, clinic_id in Session.objects.filter(
            patient_id__in=their_patients,
            status__in=OCCUPYING,
            starts_at__gte=earliest,
            starts_at__lt=latest,
        ).values_list("patient_id", "starts_at", "chair__clinic_id")
        if clinic_id in places
    }
    moved = set(
        Notification.objects.filter(
            session__in=coming_sessions, kind=Kind.SESSION_MOVED
        ).values_list("session_id", flat=True)
    )
    daily = set(
        Patient.objects.filter(pk__in=their_patients, daily_reminders=True).values_list(
            "pk", flat=True
        )
    )
    wanted = set()
    for row in rows:
        clinic, policy = places[row[_CLINIC]]
        day = row[_STARTS_AT].astimezone(clinic.tz).date()
        if day_gets_reminders(
            policy,
            daily_patient=row[_PATIENT] in daily,
            session_kind=row[_KIND],
            moved=row[_ID] in moved,
            visited_day_before=(row[_PATIENT], day - dt.timedelta(days=1)) in visited,
        ):
            wanted.add(row[_ID])
    return wanted


def day_gets_reminders(
    policy: ReminderPolicy,
    *,
    daily_patient: bool,
    session_kind: str,
    moved: bool,
    visited_day_before: bool,
) -> bool:
    """Whether a visit gets routine reminders: the rule above, for one visit."""
    return (
        policy.every_day
        or daily_patient
        or session_kind in (SessionKind.MAPPING, SessionKind.MAKEUP)
        or moved
        or not visited_day_before
    )
