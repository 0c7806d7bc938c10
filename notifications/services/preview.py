"""What a reminder policy sends in a typical week, for the policy page to show before
an admin saves it.

The week is that of a patient in daily treatment (Monday to Friday at 10:00, in the
week after the clinic's coming Monday's, so a week of visits comes before it), reached
by SMS, whose Wednesday visit the front desk moves on Tuesday at noon to 15:00. The
messages come from the same functions the planner and the sender use: which visits get
routine reminders (reminder_days.day_gets_reminders), when each is due
(policy.reminder_time), the send window (policy.within_window, outbox.suppression) and
the caps as the sender counts them (routine texts sent that clinic-local day and that
Monday-to-Sunday week; changes never held back nor counted). The week before is
simulated too, so the caps start the week with what it really sent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from clinic.models import Clinic
from notifications.models import UNCAPPED_KINDS, Channel, Kind, ReminderPolicy
from notifications.services.outbox import suppression
from notifications.services.policy import reminder_time, within_window
from notifications.services.reminder_days import day_gets_reminders
from scheduling.models import SessionKind

VISIT_TIME = dt.time(10, 0)
MOVED_TO = dt.time(15, 0)
MOVED_ON = (1, dt.time(12, 0))  # Tuesday at noon: when the front desk moves the visit
MOVED_DAY = 2  # Wednesday's visit


@dataclass(frozen=True)
class PreviewMessage:
    send_at: dt.datetime  # clinic-local
    kind: str
    channel: str
    visit: dt.datetime  # clinic-local start of the visit it is about
    held_back: str  # why it does not go; empty when it goes

    @property
    def kind_label(self) -> str:
        return Kind(self.kind).label

    @property
    def channel_label(self) -> str:
        return Channel(self.channel).label


@dataclass(frozen=True)
class _Visit:
    starts_at: dt.datetime
    moved_at: dt.datetime | None = None


def preview_week(
    clinic: Clinic, policy: ReminderPolicy, *, daily_patient: bool = False
) -> tuple[dt.date, list[PreviewMessage]]:
    """The Monday of the week shown and the messages about its visits, in send order."""
    tz = clinic.tz
    today = clinic.today()
    monday = today + dt.timedelta(days=7 - today.weekday() + 7)
    visits = []
    for offset in range(-7, 5):
        day = monday + dt.timedelta(days=offset)
        if day.weekday() > 4:
            continue
        if offset == MOVED_DAY:
            moved_at = dt.datetime.combine(
                monday + dt.timedelta(days=MOVED_ON[0]), MOVED_ON[1], tzinfo=tz
            )
            visits.append(_Visit(dt.datetime.combine(day, MOVED_TO, tzinfo=tz), moved_at))
        else:
            visits.append(_Visit(dt.datetime.combine(day, VISIT_TIME, tzinfo=tz)))
    days_visited = {visit.starts_at.date() for visit in visits}
    messages: list[PreviewMessage] = []
    for visit in visits:
        if visit.moved_at is not None and policy.kind_enabled(Kind.SESSION_MOVED):
            sent_at = within_window(visit.moved_at, clinic, policy)
            messages.append(_message(Kind.SESSION_MOVED, sent_at, visit))
        if not day_gets_reminders(
            policy,
            daily_patient=daily_patient,
            session_kind=SessionKind.TREATMENT,
            moved=visit.moved_at is not None,
            visited_day_before=visit.starts_at.date() - dt.timedelta(days=1) in days_visited,
        ):
            continue
        for kind in (Kind.DAY_BEFORE, Kind.SAME_DAY):
            if not policy.kind_enabled(kind):
                continue
            due = reminder_time(kind, visit.starts_at, clinic, policy)
            if visit.moved_at is not None:
                due = max(due, visit.moved_at)  # planned again once the visit moved
            send_at = within_window(due, clinic, policy)
            messages.append(
                _message(kind, send_at, visit, suppression(kind, send_at, visit.starts_at))
            )
    messages = _apply_caps(sorted(messages, key=lambda m: (m.send_at, m.kind)), policy)
    return monday, [m for m in messages if m.visit.date() >= monday]


def _message(kind: str, send_at: dt.datetime, visit: _Visit, held_back: str = "") -> PreviewMessage:
    return PreviewMessage(send_at, kind, Channel.SMS, visit.starts_at, held_back)


def _apply_caps(messages: list[PreviewMessage], policy: ReminderPolicy) -> list[PreviewMessage]:
    """As dispatch._over_cap counts: routine texts already sent that local day and that
    Monday-to-Sunday week, against the SMS caps."""
    sent: list[dt.datetime] = []
    result = []
    for message in messages:
        if message.held_back or message.kind in UNCAPPED_KINDS:
            result.append(message)
            continue
        day = message.send_at.date()
        week_start = day - dt.timedelta(days=day.weekday())
        today_count = sum(1 for at in sent if at.date() == day)
        week_count = sum(1 for at in sent if at.date() >= week_start)
        if today_count >= policy.sms_per_day or week_count >= policy.sms_per_week:
            message = PreviewMessage(
                message.send_at,
                message.kind,
                message.channel,
                message.visit,
                "frequency cap reached",
            )
        else:
            sent.append(message.send_at)
        result.append(message)
    return result
