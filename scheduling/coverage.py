"""Which of a course's sessions its payer authorizations cover (a pure function, no
database): the one rule for booking a whole course, a single session and a make-up.

A course may have several authorizations (an extension is another row), each for a
number of sessions between two dates. The course's occupying sessions (booked, checked
in or done) are counted in time order, as a payer counts them: each uses one session of
an authorization whose dates include its day, the one ending soonest first. A session is
*outside* when no authorization's dates include its day (``dates``), or when every one
that does is used up by earlier sessions (``count``). A course with no authorization on
file is not tracked: nothing is outside.

What happens to a session outside is the clinic's choice (``Clinic.book_beyond_
authorization``): booked, marked pending authorization, or left unbooked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

COUNT = "count"
DATES = "dates"


class AuthorizationTerms(Protocol):
    """What an authorization contributes (``courses.models.Authorization`` has these)."""

    @property
    def sessions_authorized(self) -> int: ...

    @property
    def valid_from(self) -> dt.date: ...

    @property
    def valid_until(self) -> dt.date: ...


@dataclass(frozen=True)
class Outside:
    reason: str  # COUNT | DATES
    detail: str  # in words, for the preview and the refusal


def sessions_outside(
    days: Sequence[dt.date], authorizations: Sequence[AuthorizationTerms]
) -> dict[int, Outside]:
    """The positions in ``days`` (the clinic-local days of a course's occupying sessions,
    in time order) that the authorizations do not cover, with why."""
    if not authorizations:
        return {}
    terms = sorted(authorizations, key=lambda a: (a.valid_until, a.valid_from))
    left = [a.sessions_authorized for a in terms]
    authorized = sum(left)
    outside: dict[int, Outside] = {}
    for position, day in enumerate(days):
        dated = [i for i, a in enumerate(terms) if a.valid_from <= day <= a.valid_until]
        if not dated:
            outside[position] = Outside(DATES, _dates_detail(day, terms))
            continue
        usable = next((i for i in dated if left[i] > 0), None)
        if usable is None:
            outside[position] = Outside(
                COUNT, f"beyond the {authorized} authorized session{'s' * (authorized != 1)}"
            )
            continue
        left[usable] -= 1
    return outside


def _dates_detail(day: dt.date, terms: Sequence[AuthorizationTerms]) -> str:
    spans = ", ".join(f"{a.valid_from:%d %b %Y} to {a.valid_until:%d %b %Y}" for a in terms)
    return f"{day:%d %b %Y} is outside the authorization's dates ({spans})"
