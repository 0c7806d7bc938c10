"""Which procedure code a session carries, the payer rules on codes and units, and
what a course's per-code authorizations have left (docs/billing.md).

- A session's code follows its kind: mapping 90867, a motor threshold
  re-determination 90869, any other delivered session 90868. It is *stored* on the
  session when it is completed (``Session.billing_code``, with its clinic-local
  ``service_date``) and never changed after: a claim made from it must still match
  when the kinds or these rules change, and the database can then hold the rules
  (90867 once per course; 90867 and 90869 never on one day). A session not yet
  delivered shows the code it *would* carry (``expected_code``); a missed or cancelled
  one carries none.
- Units: one per code per day. 90867 and 90869 include that day's treatment, so a
  90868 on the same day is bundled into them (0 units); several 90868 sessions on one
  day (accelerated protocols) bill one unit. ``billed_units`` applies this to a
  patient's delivered sessions; the superbill and the per-code remaining both use it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from clinic.errors import Conflict
from courses.billing import BillingCode
from scheduling.models import OCCUPYING, Session, SessionKind, SessionStatus

CODE_FOR_KIND: dict[str, str] = {
    SessionKind.MAPPING: BillingCode.INITIAL,
    SessionKind.REMAP: BillingCode.REDETERMINATION,
    SessionKind.TREATMENT: BillingCode.SUBSEQUENT,
    SessionKind.TAPER: BillingCode.SUBSEQUENT,
    SessionKind.CONTINUATION: BillingCode.SUBSEQUENT,
    SessionKind.MAKEUP: BillingCode.SUBSEQUENT,
}
# Codes that include the day's treatment: a 90868 on their day bills no unit.
INCLUDES_DELIVERY = (BillingCode.INITIAL, BillingCode.REDETERMINATION)
NO_CODE = (SessionStatus.MISSED, SessionStatus.CANCELLED)


def expected_code(kind: str, status: str, stored: str = "") -> str:
    """The code a session carries (stored once delivered) or would carry if delivered;
    "" for a missed or cancelled session."""
    if stored:
        return stored
    if status in NO_CODE:
        return ""
    return CODE_FOR_KIND[kind]


def delivered(session: Session, tz: dt.tzinfo) -> dict[str, Any]:
    """The fields a completed session stores: its code and its date of service."""
    return {
        "billing_code": CODE_FOR_KIND[session.kind],
        "service_date": session.starts_at.astimezone(tz).date(),
    }


def check_threshold_day(
    course: Any, kind: str, start: dt.datetime, tz: Any, *, ignore: int | None = None
) -> None:
    """The booking rules of the sessions that determine a motor threshold (409):
    a re-determination (90869) comes after the course's mapping session, never on its
    day, and at most one a day; a mapping session is not moved onto a
    re-determination's day. ``ignore``: the session being moved."""
    if kind not in (SessionKind.MAPPING, SessionKind.REMAP):
        return
    from scheduling.calendar import day_bounds  # the calendar reads risk, which reads us

    day_start, day_end = day_bounds(start.astimezone(tz).date(), tz)
    others = Session.objects.filter(course=course, status__in=OCCUPYING)
    if ignore is not None:
        others = others.exclude(pk=ignore)
    same_day = list(
        others.filter(
            kind__in=(SessionKind.MAPPING, SessionKind.REMAP),
            starts_at__gte=day_start,
            starts_at__lt=day_end,
        ).values_list("kind", flat=True)
    )
    if {kind, *same_day} >= {SessionKind.MAPPING, SessionKind.REMAP}:
        raise Conflict(
            "A motor threshold re-determination (90869) cannot be on the day of the "
            "mapping session (90867): payers pay one of them a day.",
            code="remap_same_day_as_mapping",
        )
    if kind == SessionKind.MAPPING:
        if others.filter(kind=SessionKind.REMAP, starts_at__lt=day_start).exists():
            raise Conflict(
                "The mapping session cannot move after a motor threshold re-determination.",
                code="remap_before_mapping",
            )
        return
    if not others.filter(kind=SessionKind.MAPPING, starts_at__lt=day_start).exists():
        raise Conflict(
            "A motor threshold is re-determined after the course's mapping session, "
            "on a later day; book the mapping session first.",
            code="remap_before_mapping",
        )
    if SessionKind.REMAP in same_day:
        raise Conflict(
            "The patient already has a motor threshold re-determination that day.",
            code="remap_same_day",
        )


@dataclass(frozen=True)
class ServiceLine:
    """One line of a bill: a code on a date of service, and its units."""

    service_date: dt.date
    code: str
    units: int
    sessions: int  # delivered sessions behind the line (several: an accelerated day)


def billed_units(delivered_sessions: Iterable[tuple[dt.date, str]]) -> list[ServiceLine]:
    """The payer's view of delivered sessions (date of service, code): one line per day
    and code, one unit each; 90868 on a day with 90867 or 90869 is bundled into it and
    left out. In date and code order."""
    counts: dict[dt.date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for day, code in delivered_sessions:
        counts[day][code] += 1
    lines: list[ServiceLine] = []
    for day in sorted(counts):
        codes = counts[day]
        bundled = any(code in codes for code in INCLUDES_DELIVERY)
        for code in sorted(codes):
            if code == BillingCode.SUBSEQUENT and bundled:
                continue
            lines.append(ServiceLine(day, code, 1, codes[code]))
    return lines


@dataclass(frozen=True)
class CodeAllowance:
    """One code of a course's authorizations: units allowed, billed, and booked ahead."""

    code: str
    authorized: int
    used: int
    booked: int  # sessions of that code still to come

    @property
    def remaining(self) -> int:
        return max(0, self.authorized - self.used)

    @property
    def exceeded(self) -> bool:
        return self.used + self.booked > self.authorized


def allowances(
    lines: Sequence[tuple[str, int]], sessions: Iterable[tuple[str, str, str, dt.date]]
) -> dict[str, CodeAllowance]:
    """Per-code allowances of a course: ``lines`` (code, units) of all its authorizations
    (several lines of one code add up); ``sessions`` (status, kind, stored code,
    clinic-local day) of all its sessions. Codes without a line are not tracked."""
    authorized: dict[str, int] = defaultdict(int)
    for code, units in lines:
        authorized[code] += units
    if not authorized:
        return {}
    done: list[tuple[dt.date, str]] = []
    booked: dict[str, int] = defaultdict(int)
    for status, kind, stored, day in sessions:
        if stored:
            done.append((day, stored))
        elif status in (SessionStatus.SCHEDULED, SessionStatus.CHECKED_IN):
            booked[CODE_FOR_KIND.get(kind, BillingCode.SUBSEQUENT)] += 1
    used: dict[str, int] = defaultdict(int)
    for line in billed_units(done):
        used[line.code] += line.units
    return {
        code: CodeAllowance(code, units, used[code], booked[code])
        for code, units in sorted(authorized.items())
    }


def code_warnings(codes: dict[str, CodeAllowance], to_come: int, low: int) -> list[tuple[str, str]]:
    """The per-code authorization rules of course risk, as (reason code, detail): more
    sessions of a code delivered or booked than its lines allow
    (``authorization_code_exceeded``); at most ``low`` units left of a code authorized
    for more, with more of the course to come (``authorization_code_low``)."""
    found = []
    for code, allowed in codes.items():
        if allowed.exceeded:
            found.append(
                (
                    "authorization_code_exceeded",
                    f"{allowed.used + allowed.booked} sessions of {code} delivered or booked; "
                    f"{allowed.authorized} authorized.",
                )
            )
        elif allowed.authorized > low >= allowed.remaining and to_come > allowed.remaining:
            found.append(
                (
                    "authorization_code_low",
                    f"Only {allowed.remaining} authorized unit(s) of {code} left.",
                )
            )
    return found
