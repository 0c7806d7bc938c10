"""Sessions beyond a course's payer authorization (the rule: ``scheduling.coverage``).

What booking does with them is the clinic's setting ``book_beyond_authorization``:
``pending`` books them marked *pending authorization* (shown on the board and the
technician's list), ``leave`` leaves them unbooked (a single session or a make-up is
refused or skipped). The same rule serves the whole-course booking and its preview,
a single session and a make-up. The marks follow the authorizations: whenever a
course's sessions or authorizations change, ``refresh_pending_authorization`` marks
exactly the sessions then outside, so an extension clears the ones it now covers.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.utils import timezone

from clinic.errors import Conflict
from clinic.models import BeyondAuthorization, Clinic
from courses.models import Authorization
from scheduling.coverage import AuthorizationTerms, Outside, sessions_outside
from scheduling.models import OCCUPYING, Session
from scheduling.planner import Placement


def books_beyond(clinic: Clinic) -> bool:
    """True: sessions outside the authorization are booked, marked pending."""
    return bool(clinic.book_beyond_authorization == BeyondAuthorization.PENDING)


def _local_days(starts: Iterable[dt.datetime], tz: dt.tzinfo) -> list[dt.date]:
    return [start.astimezone(tz).date() for start in starts]


@dataclass(frozen=True)
class OutsidePlacement:
    """A planned session of a whole-course booking that the authorization does not
    cover, and whether the booking books it (marked pending) or leaves it out."""

    placement: Placement
    reason: str  # coverage.COUNT | coverage.DATES
    detail: str
    booked: bool


def split_placements(
    clinic: Clinic,
    placements: Sequence[Placement],
    authorizations: Sequence[AuthorizationTerms],
) -> tuple[list[Placement], set[int], list[OutsidePlacement]]:
    """Apply the clinic's rule to a new course's planned sessions (it has none booked
    yet): the placements to book, the positions among those to mark pending, and every
    placement outside the authorization. Under ``leave`` a course whose first (mapping)
    session is outside is refused: the rest would have no motor threshold."""
    ordered = sorted(placements, key=lambda placement: placement.starts_at)
    outside = sessions_outside(
        _local_days((p.starts_at for p in ordered), clinic.tz), authorizations
    )
    book_all = books_beyond(clinic)
    if outside and not book_all and 0 in outside:
        raise Conflict(
            f"The authorization does not cover the first (mapping) session: "
            f"{outside[0].detail}. Change the start date or add the authorization first.",
            code="authorization_exceeded",
        )
    to_book = ordered if book_all else [p for i, p in enumerate(ordered) if i not in outside]
    listed = [
        OutsidePlacement(ordered[i], why.reason, why.detail, book_all)
        for i, why in sorted(outside.items())
    ]
    return to_book, (set(outside) if book_all else set()), listed


def outside_if_added(
    clinic: Clinic,
    held: Sequence[dt.datetime],
    start: dt.datetime,
    authorizations: Sequence[AuthorizationTerms],
) -> Outside | None:
    """Would one more session at ``start`` leave a session of the course outside the
    authorization that is covered today (the new one, or a later one it displaces)?
    ``held``: the starts of the course's occupying sessions."""
    if not authorizations:
        return None
    before = sessions_outside(_local_days(sorted(held), clinic.tz), authorizations)
    starts = sorted([*held, start])
    after = sessions_outside(_local_days(starts, clinic.tz), authorizations)
    if len(after) <= len(before):
        return None
    position = starts.index(start)
    return after.get(position) or after[max(after)]


def check_single_session(
    clinic: Clinic,
    held: Sequence[dt.datetime],
    start: dt.datetime,
    authorizations: Sequence[AuthorizationTerms],
) -> None:
    """A single session beyond the authorization: booked (and marked, by the refresh
    after it) when the clinic books beyond, else refused with 409."""
    if books_beyond(clinic):
        return
    outside = outside_if_added(clinic, held, start, authorizations)
    if outside is not None:
        raise Conflict(
            f"Not booked: the session would fall {outside.detail}. The clinic leaves "
            "sessions beyond the authorization unbooked.",
            code="authorization_exceeded",
        )


def check_move(
    clinic: Clinic,
    others: Sequence[dt.datetime],
    old_start: dt.datetime,
    new_start: dt.datetime,
    authorizations: Sequence[AuthorizationTerms],
) -> None:
    """Moving a session may take it (or a later one) outside the authorization, e.g.
    past its end date: refused like a booking when the clinic leaves such sessions
    unbooked (the caller asks only then). ``others``: the starts of the course's other
    occupying sessions."""
    if not authorizations:
        return
    before = sessions_outside(_local_days(sorted([*others, old_start]), clinic.tz), authorizations)
    starts = sorted([*others, new_start])
    after = sessions_outside(_local_days(starts, clinic.tz), authorizations)
    if len(after) > len(before):
        outside = after.get(starts.index(new_start)) or after[max(after)]
        raise Conflict(
            f"Not moved: the session would fall {outside.detail}. The clinic leaves "
            "sessions beyond the authorization unbooked.",
            code="authorization_exceeded",
        )


def refresh_pending_authorization(course_ids: Iterable[int]) -> int:
    """Mark exactly the occupying sessions of these courses that their authorizations
    do not cover (in time order), and unmark the rest; returns how many changed.
    At most four queries whatever the number of courses (two when none has an
    authorization and no session is to be marked)."""
    ids = sorted(set(course_ids))
    if not ids:
        return 0
    terms: dict[int, list[Authorization]] = defaultdict(list)
    for authorization in Authorization.objects.filter(course_id__in=ids):
        terms[authorization.course_id].append(authorization)
    rows: dict[int, list[tuple[int, dt.datetime, str]]] = defaultdict(list)
    # Only the courses with an authorization have sessions to mark (the others' are
    # all unmarked below): none, usually, and then no sessions are read.
    for pk, course_id, starts_at, zone in (
        Session.objects.filter(course_id__in=list(terms), status__in=OCCUPYING)
        .order_by("course_id", "starts_at", "id")
        .values_list("pk", "course_id", "starts_at", "patient__clinic__timezone")
        if terms
        else ()
    ):
        rows[course_id].append((pk, starts_at, zone))
    outside_ids: set[int] = set()
    for course_id, sessions in rows.items():
        if not terms[course_id]:
            continue
        tz = zoneinfo.ZoneInfo(sessions[0][2])
        days = _local_days((starts for _, starts, _ in sessions), tz)
        outside_ids |= {sessions[i][0] for i in sessions_outside(days, terms[course_id])}
    now = timezone.now()
    marked = Session.objects.filter(pk__in=outside_ids, pending_authorization=False).update(
        pending_authorization=True, updated_at=now
    )
    cleared = (
        Session.objects.filter(course_id__in=ids, pending_authorization=True)
        .exclude(pk__in=outside_ids)
        .update(pending_authorization=False, updated_at=now)
    )
    return marked + cleared
