"""Which visits get routine reminders by default, and caps that never starve them
(issue 14, item 16; the reasoning: docs/reminders.md).

A 10hz-standard course booked at NOW (Wednesday 25 November 2026, New York) has its
mapping visit on Monday 30 November at 09:30 and a visit every weekday after it.
The planner and the sender run every hour of two treatment weeks, as beat would.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from clinic.models import Clinic, Patient, Role
from notifications import services
from notifications.models import Channel, Kind, Notification, Status
from scheduling import services as scheduling
from scheduling.models import Session, SessionStatus
from tests.notifications.test_outbox import NEW_YORK, _local, book, outbox

__all__ = ["book", "outbox"]  # fixtures

ROUTINE = (Kind.FIRST_SESSION, Kind.DAY_BEFORE, Kind.SAME_DAY)
WEEKDAYS = [dt.date(2026, 11, 30) + dt.timedelta(days=n) for n in range(12) if n % 7 < 5]
MON1, TUE1, WED1, THU1, FRI1, MON2 = WEEKDAYS[0], *WEEKDAYS[1:5], WEEKDAYS[5]


def _run(frozen_now: Any, until: dt.datetime, start: dt.datetime | None = None) -> None:
    """Plan and send every hour, from Saturday 28 November, 08:00 to ``until``."""
    moment = start or _local(dt.date(2026, 11, 28), 8)
    while moment <= until:
        frozen_now.move_to(moment)
        services.plan_reminders()
        for notification_id in services.due_ids():
            services.send(notification_id)
        moment += dt.timedelta(hours=1)


def _reminded(status: str = Status.SENT) -> dict[dt.date, set[str]]:
    """Local day of the visit -> the routine kinds sent about it."""
    days: dict[dt.date, set[str]] = {}
    for kind, starts_at in Notification.objects.filter(
        kind__in=ROUTINE, status=status, channel=Channel.SMS
    ).values_list("kind", "session__starts_at"):
        days.setdefault(starts_at.astimezone(NEW_YORK).date(), set()).add(kind)
    return days


@pytest.fixture
def booked(book: Callable[..., list[Session]]) -> list[Session]:
    return book(email=False)


def test_by_default_the_first_visit_of_each_week_is_reminded_and_nothing_is_capped(
    booked: list[Session], frozen_now: Any
) -> None:
    _run(frozen_now, until=_local(dt.date(2026, 12, 11), 18))
    assert _reminded() == {
        MON1: {Kind.FIRST_SESSION, Kind.SAME_DAY},
        MON2: {Kind.DAY_BEFORE, Kind.SAME_DAY},
    }
    assert not Notification.objects.filter(reason="frequency cap reached").exists()


def test_a_patient_who_asks_is_reminded_before_every_visit_within_the_default_caps(
    booked: list[Session], frozen_now: Any
) -> None:
    """Every weekday of two weeks: a day-before and a same-day text, and Thursday and
    Friday too (the former default of three texts a week left them without)."""
    Patient.objects.filter(pk=booked[0].patient_id).update(daily_reminders=True)
    _run(frozen_now, until=_local(dt.date(2026, 12, 11), 18))
    assert _reminded() == {
        day: {Kind.FIRST_SESSION if day == MON1 else Kind.DAY_BEFORE, Kind.SAME_DAY}
        for day in WEEKDAYS
    }
    assert not Notification.objects.filter(status=Status.SUPPRESSED).exists()


def test_a_clinic_may_remind_everyone_every_day(
    booked: list[Session], frozen_now: Any, clinic: Clinic
) -> None:
    services.policy_update(clinic, every_day=True)
    _run(frozen_now, until=_local(FRI1, 18))
    assert set(_reminded()) == set(WEEKDAYS[:5])
    assert not Notification.objects.filter(status=Status.SUPPRESSED).exists()


def test_a_moved_visit_and_a_make_up_are_reminded(booked: list[Session], frozen_now: Any) -> None:
    _run(frozen_now, until=_local(MON1, 12))
    wednesday = next(s for s in booked if s.starts_at.astimezone(NEW_YORK).date() == WED1)
    scheduling.session_move(wednesday, starts_at=_local(WED1, 13))
    scheduling.session_mark_missed(booked[0])  # Monday's: a make-up is booked at the end
    makeup = Session.objects.get(makeup_for=booked[0])
    _run(frozen_now, until=_local(THU1, 18), start=_local(MON1, 13))
    reminded = _reminded()
    assert reminded[WED1] == {Kind.DAY_BEFORE, Kind.SAME_DAY}
    # Tuesday follows the missed Monday, and is the mapping visit now: reminded, and
    # the missed-visit text of Monday does not use up the day's routine texts.
    assert reminded[TUE1] == {Kind.FIRST_SESSION, Kind.SAME_DAY}
    missed = Notification.objects.get(kind=Kind.MISSED_FOLLOWUP)
    assert missed.status == Status.SENT
    assert THU1 not in reminded
    # The make-up's reminders are planned when it comes within the horizon.
    frozen_now.move_to(makeup.starts_at - dt.timedelta(hours=30))
    services.plan_reminders()
    assert set(
        Notification.objects.filter(session=makeup, kind__in=ROUTINE).values_list("kind", flat=True)
    ) == {Kind.DAY_BEFORE, Kind.SAME_DAY}


def test_the_first_visit_after_a_day_off_is_reminded(
    booked: list[Session], frozen_now: Any
) -> None:
    """A cancelled Wednesday (a holiday, a staff cancel): Thursday starts a new run."""
    _run(frozen_now, until=_local(MON1, 12))
    wednesday = next(s for s in booked if s.starts_at.astimezone(NEW_YORK).date() == WED1)
    Clinic.objects.filter(pk=wednesday.chair.clinic_id).update(auto_makeup=False)
    scheduling.session_cancel(wednesday, reason="holiday")
    _run(frozen_now, until=_local(FRI1, 18), start=_local(MON1, 13))
    reminded = _reminded()
    assert reminded[THU1] == {Kind.DAY_BEFORE, Kind.SAME_DAY}
    assert FRI1 not in reminded and TUE1 not in reminded
    assert Session.objects.get(pk=wednesday.pk).status == SessionStatus.CANCELLED


def test_the_front_desk_turns_daily_reminders_on_through_the_api(
    booked: list[Session], api_as: Callable[..., Any]
) -> None:
    patient_id = booked[0].patient_id
    client = api_as(Role.FRONT_DESK)
    response = client.patch(
        f"/api/v1/patients/{patient_id}/", {"daily_reminders": True}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["daily_reminders"] is True
    assert Patient.objects.get(pk=patient_id).daily_reminders is True
    bad = client.patch(
        f"/api/v1/patients/{patient_id}/", {"daily_reminders": "often"}, format="json"
    )
    assert bad.status_code == 400 and "daily_reminders" in bad.json()["errors"]
