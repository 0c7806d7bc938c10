"""Every write in the scheduling app, one module per concern:

- ``booking``: a whole course planned and booked at once;
- ``booster``: a booster course after an ended one, prescribed, planned and booked in
  one action (previewed first);
- ``attendance``: single sessions (book, move, check in, complete, cancel, mark missed)
  and the sweep that marks overdue sessions missed;
- ``undo`` and ``reinstate``: a mistaken check-in, missed mark or cancellation undone
  within the day, and a late patient checked in after a missed mark;
- ``makeups``: make-up sessions and authorization extensions;
- ``authorization``: sessions beyond a course's payer authorization (booked marked
  pending, or left unbooked: the clinic's setting), and their marks kept up to date;
- ``closures``: closures re-booked, chair blocks, an ended course's bookings released;
- ``replan``: a course lengthened or switched to another protocol mid-course, its
  remaining sessions re-planned all or nothing;
- ``waitlist``: prescribed courses waiting for room, their earliest start kept up
  to date, offers, and booking from one;
- ``adverse_events``: an adverse event raised with a treatment record, the hold it puts
  on its course, and the psychiatrist's decision that lifts it.

Callers use ``from scheduling import services`` and the names below.
"""

from scheduling.services.adverse_events import adverse_event_review, require_no_review_hold
from scheduling.services.attendance import (
    check_in_opens_at,
    session_book,
    session_cancel,
    session_cancel_by_patient,
    session_check_in,
    session_complete,
    session_confirm_by_patient,
    session_mark_missed,
    session_move,
    sweep_missed_sessions,
)
from scheduling.services.authorization import refresh_pending_authorization
from scheduling.services.booking import (
    course_book,
    course_schedule,
    course_schedule_booking,
    course_shape,
)
from scheduling.services.booster import BoosterBooking, booster_book
from scheduling.services.closures import (
    chair_block_delete,
    chair_block_save,
    closure_rebook,
    release_sessions_of_ended_course,
    sessions_hit_by_closure,
)
from scheduling.services.makeups import (
    arrange_makeups,
    arrange_makeups_and_refresh,
    authorization_extend,
)
from scheduling.services.replan import Replan, course_lengthen, course_switch_protocol
from scheduling.services.undo import session_undo, undo_offered
from scheduling.services.waitlist import (
    refresh_on_commit,
    still_waiting,
    waitlist_add,
    waitlist_book_offer,
    waitlist_course_left,
    waitlist_dismiss_offer,
    waitlist_refresh,
    waitlist_remove,
    waitlist_update,
)

__all__ = [
    "BoosterBooking",
    "Replan",
    "adverse_event_review",
    "arrange_makeups",
    "arrange_makeups_and_refresh",
    "authorization_extend",
    "booster_book",
    "chair_block_delete",
    "chair_block_save",
    "check_in_opens_at",
    "closure_rebook",
    "course_book",
    "course_lengthen",
    "course_schedule",
    "course_schedule_booking",
    "course_shape",
    "course_switch_protocol",
    "refresh_on_commit",
    "refresh_pending_authorization",
    "release_sessions_of_ended_course",
    "require_no_review_hold",
    "session_book",
    "session_cancel",
    "session_cancel_by_patient",
    "session_check_in",
    "session_complete",
    "session_confirm_by_patient",
    "session_mark_missed",
    "session_move",
    "session_undo",
    "sessions_hit_by_closure",
    "still_waiting",
    "sweep_missed_sessions",
    "undo_offered",
    "waitlist_add",
    "waitlist_book_offer",
    "waitlist_course_left",
    "waitlist_dismiss_offer",
    "waitlist_refresh",
    "waitlist_remove",
    "waitlist_update",
]
