"""Staff pages of the scheduling app: the day board with its actions, moving a session,
the technician's list of today's sessions with the treatment record, and closures."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from html import unescape
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from clinic.errors import Conflict
from clinic.models import Closure, Role
from courses.models import RiskLevel
from scheduling import services
from scheduling.models import Session, SessionStatus, TreatmentRecord
from tests.factories import ChairFactory, ClosureFactory, SessionFactory

pytestmark = pytest.mark.usefixtures("frozen_now")

NY = ZoneInfo("America/New_York")
TODAY = dt.date(2026, 11, 25)  # frozen_now: Wednesday, 12:00 in New York
NEXT_MONDAY = dt.date(2026, 11, 30)
ROLES = [role.value for role in Role]
HTMX = {"HX-Request": "true"}
DASH = "\N{EN DASH}"  # between the start and end times shown
# A board row's time: shown every quarter hour, for screen readers only in between.
LABEL = '<th scope="row" class="time"><span class="label">'
HIDDEN = '<th scope="row" class="time"><span class="visually-hidden">'


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=NY)


@pytest.fixture
def book(make_course: Callable[..., Any], chairs: list[Any]) -> Callable[..., Session]:
    """A session written directly (attendance pages need sessions in the past too)."""

    def make(
        at: dt.datetime | None = None,
        chair: Any = None,
        minutes: int = 40,
        course: Any = None,
        **fields: Any,
    ) -> Session:
        start = at or local(TODAY, 9, 30)
        return SessionFactory(
            course=course or make_course(),
            chair=chair or chairs[0],
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=minutes),
            **fields,
        )

    return make


@pytest.fixture
def login(client: Client, staff: Callable[..., Any]) -> Callable[..., Client]:
    def as_role(role: str, **kwargs: Any) -> Client:
        client.force_login(staff(role, **kwargs))
        return client

    return as_role


def _text(response: Any) -> str:
    return unescape(response.content.decode())


def _row_of(html: str, marker: str) -> str:
    """The board row (<tr>) whose cells contain ``marker``."""
    rows = re.findall(r"<tr[^>]*>.*?</tr>", html, flags=re.S)
    return next(row for row in rows if marker in row)


def _refresh(session: Session) -> Session:
    session.refresh_from_db()
    return session


# --- who may open which page -----------------------------------------------------------

PAGE_ROLES = {
    "/board/": {Role.FRONT_DESK, Role.CLINIC_ADMIN},
    "/closures/": {Role.FRONT_DESK, Role.CLINIC_ADMIN},
    "/today/": {Role.TECHNICIAN, Role.CLINIC_ADMIN},
}


@pytest.mark.parametrize("path", list(PAGE_ROLES))
@pytest.mark.parametrize("role", ROLES)
def test_page_roles(login: Callable[..., Client], path: str, role: str) -> None:
    response = login(role).get(path)
    assert response.status_code == (200 if role in PAGE_ROLES[path] else 403)


@pytest.mark.parametrize("path", [*PAGE_ROLES, "/board/sessions/1/move/"])
def test_anonymous_visitors_are_sent_to_log_in(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("path", list(PAGE_ROLES))
def test_superuser_opens_every_page(client: Client, superuser: Any, clinic: Any, path: str) -> None:
    client.force_login(superuser)
    assert client.get(path).status_code == 200


def test_navigation_links_to_the_pages(login: Callable[..., Client]) -> None:
    html = _text(login(Role.CLINIC_ADMIN).get("/board/"))
    for path in PAGE_ROLES:
        assert f'href="{path}"' in html


# --- who may do which action (the API's rules, docs/roles.md) --------------------------


def _move_slot(chairs: list[Any]) -> dict[str, str]:
    return {"slot": f"{chairs[1].pk}|{local(NEXT_MONDAY, 11).isoformat()}"}


ACTIONS: dict[str, dict[str, Any]] = {
    "check-in": {
        "url": "/board/sessions/{}/check-in/",
        "roles": {Role.FRONT_DESK, Role.TECHNICIAN},
        "status": SessionStatus.CHECKED_IN,
    },
    "mark-missed": {
        "url": "/board/sessions/{}/mark-missed/",
        "roles": {Role.FRONT_DESK, Role.TECHNICIAN},
        "status": SessionStatus.MISSED,
    },
    "cancel": {
        "url": "/board/sessions/{}/cancel/",
        "roles": {Role.FRONT_DESK, Role.CLINIC_ADMIN},
        "data": {"reason": "Patient unwell"},
        "status": SessionStatus.CANCELLED,
    },
    "undo": {  # a check-in made this morning by mistake
        "url": "/board/sessions/{}/undo/",
        "roles": {Role.FRONT_DESK, Role.CLINIC_ADMIN},
        "before": SessionStatus.CHECKED_IN,
        "fields": {"checked_in_at": local(TODAY, 9, 20)},
        "data": {"reason": "Checked in the wrong patient"},
        "status": SessionStatus.SCHEDULED,
    },
    "move": {
        "url": "/board/sessions/{}/move/",
        "roles": {Role.FRONT_DESK, Role.CLINIC_ADMIN},
        "status": SessionStatus.SCHEDULED,
    },
    "complete": {
        "url": "/today/sessions/{}/complete/",
        "roles": {Role.TECHNICIAN, Role.PSYCHIATRIST},
        "before": SessionStatus.CHECKED_IN,
        "data": {
            "s{}-pulses_delivered": "3000",
            "s{}-intensity_pct_mt": "120",
            "s{}-coil_position": "Beam F3",
        },
        "status": SessionStatus.COMPLETED,
    },
}


def _action_request(name: str, session: Session, chairs: list[Any]) -> tuple[str, dict[str, str]]:
    spec = ACTIONS[name]
    data = {key.format(session.pk): value for key, value in spec.get("data", {}).items()}
    if name == "move":
        data = _move_slot(chairs)
    return spec["url"].format(session.pk), data


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("role", ROLES)
def test_action_roles(
    login: Callable[..., Client],
    book: Callable[..., Session],
    chairs: list[Any],
    action: str,
    role: str,
) -> None:
    spec = ACTIONS[action]
    session = book(status=spec.get("before", SessionStatus.SCHEDULED), **spec.get("fields", {}))
    url, data = _action_request(action, session, chairs)
    response = login(role).post(url, data, headers=HTMX)
    if role in spec["roles"]:
        assert response.status_code in (200, 302), _text(response)
        assert _refresh(session).status == spec["status"]
    else:
        assert response.status_code == 403
        assert _refresh(session).status == spec.get("before", SessionStatus.SCHEDULED)


@pytest.mark.parametrize("action", list(ACTIONS))
def test_superuser_may_act(
    client: Client, superuser: Any, book: Callable[..., Session], chairs: list[Any], action: str
) -> None:
    spec = ACTIONS[action]
    session = book(status=spec.get("before", SessionStatus.SCHEDULED), **spec.get("fields", {}))
    url, data = _action_request(action, session, chairs)
    client.force_login(superuser)
    response = client.post(url, data, headers=HTMX)
    assert response.status_code in (200, 302)
    assert _refresh(session).status == spec["status"]


@pytest.mark.parametrize("action", list(ACTIONS))
def test_another_clinics_staff_get_404(
    login: Callable[..., Client],
    other_clinic: Any,
    book: Callable[..., Session],
    chairs: list[Any],
    action: str,
) -> None:
    spec = ACTIONS[action]
    session = book(status=spec.get("before", SessionStatus.SCHEDULED), **spec.get("fields", {}))
    role = sorted(spec["roles"])[0]
    client = login(role, in_clinic=other_clinic)
    url, data = _action_request(action, session, chairs)
    assert client.post(url, data, headers=HTMX).status_code == 404
    assert client.post(url, data).status_code == 404
    assert _refresh(session).status == spec.get("before", SessionStatus.SCHEDULED)


def test_another_clinics_staff_cannot_see_the_sessions(
    login: Callable[..., Client], other_clinic: Any, book: Callable[..., Session]
) -> None:
    session = book()
    name = session.patient.first_name
    client = login(Role.CLINIC_ADMIN, in_clinic=other_clinic)
    assert client.get(f"/board/sessions/{session.pk}/move/").status_code == 404
    for path in ("/board/", "/today/"):
        response = client.get(path)
        assert response.status_code == 200
        assert name not in _text(response)
        assert f"session-{session.pk}" not in _text(response)


def test_anonymous_actions_are_sent_to_log_in(client: Client, book: Callable[..., Session]) -> None:
    session = book()
    response = client.post(f"/board/sessions/{session.pk}/check-in/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert _refresh(session).status == SessionStatus.SCHEDULED


def test_actions_answer_only_post(
    login: Callable[..., Client], book: Callable[..., Session]
) -> None:
    session = book()
    client = login(Role.FRONT_DESK)
    for verb in ("check-in", "mark-missed", "cancel"):
        assert client.get(f"/board/sessions/{session.pk}/{verb}/").status_code == 405


# --- the day board ---------------------------------------------------------------------


def test_board_shows_today_with_blocks(
    login: Callable[..., Client], book: Callable[..., Session], chairs: list[Any], make_course: Any
) -> None:
    course = make_course()
    session = book(course=course)
    course.risk_level = RiskLevel.AT_RISK
    course.save(update_fields=["risk_level"])
    book(at=local(TODAY + dt.timedelta(days=1), 9, 30))  # tomorrow: not on today's board
    response = login(Role.FRONT_DESK).get("/board/")
    html = _text(response)
    assert response.status_code == 200
    assert "Wednesday 25 November 2026 (today)" in html
    patient = session.patient
    assert f"{patient.first_name} {patient.last_name[0]}." in html
    assert patient.last_name not in html  # first name and last initial only
    block = _row_of(html, f'id="session-{session.pk}"')
    assert f'class="session-block status-scheduled" id="session-{session.pk}"' in block
    assert "Scheduled" in block
    assert "⚠ At risk" in block
    assert re.search(
        r"1<span aria-hidden=\"true\">/</span><span class=\"visually-hidden\"> of </span>36", block
    )
    assert html.count('class="session-block') == 1
    for chair in chairs:
        assert f'<th scope="col">{chair.name}</th>' in html
    assert "Check in" in block and "Mark missed" in block and "Cancel session" in block


def test_board_places_sessions_in_their_local_rows(
    login: Callable[..., Client], book: Callable[..., Session], chairs: list[Any]
) -> None:
    first = book(at=local(TODAY, 9, 30), minutes=40)
    odd = book(at=local(TODAY, 13, 10), chair=chairs[1])
    html = _text(login(Role.FRONT_DESK).get("/board/"))
    assert f"{LABEL}09:30</span>" in _row_of(html, f'id="session-{first.pk}"')
    # A linear axis of 5-minute rows: 09:30 to 10:10 spans eight of them.
    assert 'rowspan="8"' in _row_of(html, f'id="session-{first.pk}"')
    assert f"{HIDDEN}13:10</span>" in _row_of(html, f'id="session-{odd.pk}"')
    assert 'rowspan="8" class="booked single"' in _row_of(html, f'id="session-{odd.pk}"')
    assert f"{LABEL}07:30</span>" in html  # opening hours 07:30-19:00
    assert f"{LABEL}18:45</span>" in html and f"{HIDDEN}18:55</span>" in html
    assert "19:00</span>" not in html


def test_overlapping_sessions_on_a_chair_share_a_cell(
    login: Callable[..., Client], book: Callable[..., Session], make_course: Any
) -> None:
    """A missed session keeps its place (it is the day's record) and frees its chair:
    a booking made into the freed time shares its cell."""
    missed = book(status=SessionStatus.MISSED)
    overlapping = book(at=local(TODAY, 9, 45), course=make_course())
    html = _text(login(Role.FRONT_DESK).get("/board/"))
    row = _row_of(html, f'id="session-{missed.pk}"')
    assert f'id="session-{overlapping.pk}"' in row
    assert "Missed" in row and 'rowspan="11"' in row  # 09:30 to 10:25


def test_cancelled_sessions_take_no_space_on_the_board(
    login: Callable[..., Client], book: Callable[..., Session], make_course: Any
) -> None:
    """A cancelled session and the booking that took its place: the grid holds only the
    booking; the cancelled one is listed apart, under its chair's name."""
    cancelled = book(
        at=local(TODAY, 14), status=SessionStatus.CANCELLED, cancelled_at=local(TODAY, 8)
    )
    replacement = book(at=local(TODAY, 14), course=make_course())
    html = _text(login(Role.FRONT_DESK).get("/board/"))
    row = _row_of(html, f'id="session-{replacement.pk}"')
    assert f'id="session-{cancelled.pk}"' not in row and 'rowspan="8"' in row
    listed = html.split('id="cancelled-heading"')[1]
    assert f'id="session-{cancelled.pk}"' in listed and "Cancelled this day (1)" in html
    assert f"/board/sessions/{cancelled.pk}/undo/" in listed  # this morning, by mistake?


def test_todays_board_marks_the_current_time(
    login: Callable[..., Client], book: Callable[..., Session]
) -> None:
    book()
    client = login(Role.FRONT_DESK)
    html = _text(client.get("/board/"))  # frozen at 12:00 in New York
    row = _row_of(html, "now-label")
    assert f"{LABEL}12:00</span>" in row and "now 12:00" in row
    assert "now now-0" in row and "style=" not in row
    assert "now-label" not in _text(client.get("/board/?date=2026-11-26"))


def test_two_patients_with_the_same_first_name_and_initial_are_told_apart(
    login: Callable[..., Client], book: Callable[..., Session], make_course: Any, chairs: Any
) -> None:
    first, second = make_course(), make_course()
    for course, mrn in ((first, "A-1001"), (second, "B-2002")):
        patient = course.patient
        patient.first_name, patient.last_name, patient.mrn = "Maria", "Garcia", mrn
        patient.save()
    book(course=first)
    book(course=second, chair=chairs[1])
    other = book(at=local(TODAY, 11), chair=chairs[2])
    html = _text(login(Role.FRONT_DESK).get("/board/"))
    assert "Maria G. · MRN …1001" in html and "Maria G. · MRN …2002" in html
    assert f"{other.patient.first_name} {other.patient.last_name[0]}. ·" not in html
    assert "Garcia" not in html


@pytest.mark.parametrize(
    "day",
    [
        dt.date(2027, 3, 12),  # Friday before spring forward (EST, UTC-5)
        dt.date(2027, 3, 14),  # Sunday: the change itself, 02:00 -> 03:00
        dt.date(2027, 3, 15),  # Monday after (EDT, UTC-4)
    ],
)
def test_board_keeps_wall_clock_rows_across_dst(
    login: Callable[..., Client], book: Callable[..., Session], frozen_now: Any, day: dt.date
) -> None:
    frozen_now.move_to(dt.datetime(2027, 3, 10, 17, tzinfo=dt.UTC))
    session = book(at=local(day, 9, 30))
    response = login(Role.FRONT_DESK).get(f"/board/?date={day.isoformat()}")
    assert response.status_code == 200
    row = _row_of(_text(response), f'id="session-{session.pk}"')
    assert f"{LABEL}09:30</span>" in row
    assert f"09:30{DASH}10:10" in row


def test_board_date_navigation(login: Callable[..., Client]) -> None:
    html = _text(login(Role.FRONT_DESK).get("/board/?date=2026-12-01"))
    assert "Tuesday 1 December 2026" in html
    assert 'href="?date=2026-11-30"' in html and 'href="?date=2026-12-02"' in html
    assert 'href="?date=2026-11-25">Today' in html
    assert '<label for="board-date">Date</label>' in html


def test_board_on_a_closed_day(
    login: Callable[..., Client], clinic: Any, chairs: list[Any]
) -> None:
    ClosureFactory(clinic=clinic, date=dt.date(2026, 12, 24), reason="Christmas Eve")
    html = _text(login(Role.FRONT_DESK).get("/board/?date=2026-12-24"))
    assert "The clinic is closed this day" in html and "Christmas Eve" in html
    saturday = _text(login(Role.FRONT_DESK).get("/board/?date=2026-11-28"))
    assert "no opening hours on Saturdays" in saturday


@pytest.mark.parametrize(
    "value", ["tomorrow", "2026-02-30", "2026-13-01", "9999-12-31", "26-11-25"]
)
def test_board_bad_date_is_400(login: Callable[..., Client], value: str) -> None:
    response = login(Role.FRONT_DESK).get(f"/board/?date={value}")
    assert response.status_code == 400
    assert "That date could not be used" in _text(response)


def _fill_board(clinic: Any, make_course: Any, chairs: int, per_chair: int) -> None:
    levels = [RiskLevel.OK, RiskLevel.WATCH, RiskLevel.AT_RISK]
    for number in range(chairs):
        chair = ChairFactory(clinic=clinic, name=f"Room {number}")
        for slot in range(per_chair):
            course = make_course(risk_level=levels[slot % 3])
            start = local(TODAY, 8) + dt.timedelta(minutes=45 * slot)
            SessionFactory(
                course=course,
                chair=chair,
                starts_at=start,
                ends_at=start + dt.timedelta(minutes=40),
            )


# Login session, user, memberships, clinics; the day's sessions, chairs (board_for_day);
# opening hours, closure; the idle-timeout session save (savepoint, update, release);
# the patient messages still to handle, counted in the navigation; the waitlist's
# offers; the audit trail's one INSERT (a view of the board's patients).
BOARD_QUERIES = 14


@pytest.mark.parametrize(("chairs", "per_chair"), [(1, 1), (6, 10)])
def test_board_query_count_is_fixed(
    login: Callable[..., Client],
    clinic: Any,
    make_course: Any,
    django_assert_num_queries: Any,
    chairs: int,
    per_chair: int,
) -> None:
    _fill_board(clinic, make_course, chairs, per_chair)
    client = login(Role.FRONT_DESK)
    with django_assert_num_queries(BOARD_QUERIES):
        response = client.get("/board/")
    assert _text(response).count('class="session-block') == chairs * per_chair


def test_clinic_admin_sees_only_the_actions_of_the_role(
    login: Callable[..., Client], book: Callable[..., Session]
) -> None:
    book()
    html = _text(login(Role.CLINIC_ADMIN).get("/board/"))
    assert "Cancel session" in html and ">Move<" in html
    assert "Check in" not in html and "Mark missed" not in html  # front desk and technicians


# --- board actions ---------------------------------------------------------------------


def test_check_in_with_htmx_returns_the_block(
    login: Callable[..., Client], book: Callable[..., Session]
) -> None:
    session = book()
    client = login(Role.FRONT_DESK)
    url = f"/board/sessions/{session.pk}/check-in/"
    response = client.post(url, {"fragment": "block", "next": "/board/"}, headers=HTMX)
    html = _text(response)
    assert response.status_code == 200
    assert html.lstrip().startswith(
        f'<div class="session-block status-checked_in" id="session-{session.pk}"'
    )
    assert "Checked in" in html and 'role="status"' in html
    assert _refresh(session).status == SessionStatus.CHECKED_IN
    again = client.post(url, {"fragment": "block"}, headers=HTMX)
    assert again.status_code == 409
    assert "A checked-in session cannot be checked in." in _text(again)
    assert 'role="alert"' in _text(again)


def test_check_in_without_javascript_redirects_back(
    login: Callable[..., Client], book: Callable[..., Session]
) -> None:
    session = book()
    client = login(Role.FRONT_DESK)
    response = client.post(
        f"/board/sessions/{session.pk}/check-in/", {"next": "/board/?date=2026-11-25"}, follow=True
    )
    assert response.redirect_chain == [("/board/?date=2026-11-25", 302)]
    html = _text(response)
    assert "Checked in the session at 09:30 on Chair 1, Wed 25 Nov." in html
    assert session.patient.first_name not in html.split('<ul class="messages"')[1].split("</ul>")[0]
    again = client.post(f"/board/sessions/{session.pk}/check-in/", follow=True)
    assert again.redirect_chain == [("/board/?date=2026-11-25", 302)]
    assert "A checked-in session cannot be checked in." in _text(again)


def test_redirect_back_stays_on_this_site(
    login: Callable[..., Client], book: Callable[..., Session]
) -> None:
    session = book()
    response = login(Role.FRONT_DESK).post(
        f"/board/sessions/{session.pk}/check-in/", {"next": "https://evil.example/"}
    )
    assert response["Location"] == "/board/?date=2026-11-25"


def test_mark_missed_and_invalid_transition(
    login: Callable[..., Client], book: Callable[..., Session]
) -> None:
    session = book()
    client = login(Role.FRONT_DESK)
    url = f"/board/sessions/{session.pk}/mark-missed/"
    response = client.post(url, {"fragment": "block"}, headers=HTMX)
    assert response.status_code == 200
    assert "status-missed" in _text(response) and "Missed" in _text(response)
    assert _refresh(session).status == SessionStatus.MISSED
    again = client.post(url, {"fragment": "block"}, headers=HTMX)
    assert again.status_code == 409
    assert "A missed session cannot be marked missed." in _text(again)


def test_mark_missed_is_offered_once_the_session_started(
    login: Callable[..., Client], book: Callable[..., Session], chairs: list[Any]
) -> None:
    started = book()
    later = book(at=local(TODAY, 15), chair=chairs[1])
    html = _text(login(Role.FRONT_DESK).get("/board/"))
    assert f"/board/sessions/{started.pk}/mark-missed/" in html
    assert f"/board/sessions/{later.pk}/mark-missed/" not in html


def test_cancel_needs_a_reason(login: Callable[..., Client], book: Callable[..., Session]) -> None:
    session = book()
    client = login(Role.FRONT_DESK)
    url = f"/board/sessions/{session.pk}/cancel/"
    blank = client.post(url, {"reason": "  ", "fragment": "block"}, headers=HTMX)
    assert blank.status_code == 400
    assert "Give a reason for cancelling." in _text(blank)
    too_long = client.post(url, {"reason": "x" * 201}, headers=HTMX)
    assert too_long.status_code == 400
    assert _refresh(session).status == SessionStatus.SCHEDULED
    done = client.post(url, {"reason": "Patient has the flu"}, headers=HTMX)
    assert done.status_code == 200 and "Cancelled" in _text(done)
    session = _refresh(session)
    assert (
        session.status == SessionStatus.CANCELLED and session.cancel_reason == "Patient has the flu"
    )
    again = client.post(url, {"reason": "again"}, headers=HTMX)
    assert again.status_code == 409
    assert "A cancelled session cannot be cancelled." in _text(again)


def test_unknown_session_is_404(login: Callable[..., Client]) -> None:
    client = login(Role.FRONT_DESK)
    assert client.post("/board/sessions/999999/check-in/", headers=HTMX).status_code == 404


# --- moving a session ------------------------------------------------------------------


def test_move_page_lists_free_times(
    login: Callable[..., Client], book: Callable[..., Session], chairs: list[Any]
) -> None:
    session = book(at=local(NEXT_MONDAY, 9, 30))
    book(at=local(NEXT_MONDAY, 11), chair=chairs[1])  # someone else on chair 2, 11:00-11:40
    client = login(Role.FRONT_DESK)
    response = client.get(f"/board/sessions/{session.pk}/move/")
    page = _text(response)
    assert response.status_code == 200
    assert "Monday 30 November 2026" in page  # the session's own day by default
    values = {
        (int(chair), dt.datetime.fromisoformat(start))
        for chair, start in re.findall(r'name="slot" value="(\d+)\|([^"]+)"', page)
    }

    def slot(chair: Any, hour: int, minute: int = 0) -> tuple[int, dt.datetime]:
        return chair.pk, local(NEXT_MONDAY, hour, minute)

    assert slot(chairs[0], 7, 30) in values
    assert slot(chairs[0], 9, 30) not in values  # where it already is
    assert slot(chairs[0], 9, 45) in values  # overlapping its own place is fine
    assert slot(chairs[1], 11) not in values and slot(chairs[1], 10, 30) not in values
    assert slot(chairs[1], 11, 45) in values
    assert slot(chairs[0], 18, 30) not in values  # would end after 19:00
    assert slot(chairs[0], 18, 15) in values


def test_move_page_follows_the_patients_protocol(
    login: Callable[..., Client], book: Callable[..., Session], chairs: list[Any], make_course: Any
) -> None:
    # snt-accelerated: 15-minute slots, up to 10 a day, 50 minutes from the end of one
    # 10-minute stimulation to the next start (hourly starts).
    course = make_course("snt-accelerated")
    session = book(at=local(NEXT_MONDAY, 9, 30), minutes=15, course=course)
    book(at=local(dt.date(2026, 12, 1), 10), minutes=15, course=course, chair=chairs[2])
    page = _text(login(Role.FRONT_DESK).get(f"/board/sessions/{session.pk}/move/?date=2026-12-01"))
    starts = {
        dt.datetime.fromisoformat(start)
        for start in re.findall(r'name="slot" value="\d+\|([^"]+)"', page)
    }
    assert local(dt.date(2026, 12, 1), 8, 45) in starts
    assert local(dt.date(2026, 12, 1), 9) in starts  # stimulation ends 09:10, 50 minutes
    assert local(dt.date(2026, 12, 1), 9, 15) not in starts  # 09:25: under 50 minutes
    assert local(dt.date(2026, 12, 1), 10) not in starts
    assert local(dt.date(2026, 12, 1), 10, 45) not in starts  # 35 minutes after 10:10
    assert local(dt.date(2026, 12, 1), 11) in starts  # the hour after 10:00
    assert local(dt.date(2026, 12, 1), 11, 15) in starts


def test_move_page_on_a_day_the_patient_is_full(
    login: Callable[..., Client], book: Callable[..., Session], chairs: list[Any], make_course: Any
) -> None:
    course = make_course()  # 10hz-standard: one session a day
    session = book(at=local(NEXT_MONDAY, 9, 30), course=course)
    book(at=local(dt.date(2026, 12, 1), 10), course=course, chair=chairs[2])
    page = _text(login(Role.FRONT_DESK).get(f"/board/sessions/{session.pk}/move/?date=2026-12-01"))
    assert "The patient already has 1 session that day; the protocol allows 1 a day." in page
    assert 'name="slot"' not in page


def test_move_to_a_chosen_slot(
    login: Callable[..., Client], book: Callable[..., Session], chairs: list[Any]
) -> None:
    session = book(at=local(NEXT_MONDAY, 9, 30))
    client = login(Role.FRONT_DESK)
    target = local(dt.date(2026, 12, 1), 11)
    response = client.post(
        f"/board/sessions/{session.pk}/move/?date=2026-12-01",
        {"slot": f"{chairs[2].pk}|{target.isoformat()}"},
        follow=True,
    )
    assert response.redirect_chain == [("/board/?date=2026-12-01", 302)]
    assert "Moved the session to 11:00 on Chair 3, Tue 1 Dec." in _text(response)
    session = _refresh(session)
    assert session.starts_at == target and session.chair_id == chairs[2].pk
    assert session.ends_at - session.starts_at == dt.timedelta(minutes=40)


def test_a_move_opened_from_the_patient_page_returns_to_it(
    login: Callable[..., Client], book: Callable[..., Session], chairs: list[Any]
) -> None:
    session = book(at=local(NEXT_MONDAY, 9, 30))
    back = f"/patients/{session.patient_id}/"
    client = login(Role.FRONT_DESK)
    patient_page = _text(client.get(back))
    move_url = f"/board/sessions/{session.pk}/move/?next={back}"
    assert f'href="{move_url}"' in patient_page
    page = _text(client.get(move_url))
    # The way back, the day navigation and both forms keep the patient page.
    assert f'<a href="{back}">Back without moving it</a>' in page
    assert "Back to the day board" not in page
    assert f"?date=2026-12-01&next={back}" in page
    assert page.count(f'<input type="hidden" name="next" value="{back}">') == 2
    target = local(dt.date(2026, 12, 1), 11)
    response = client.post(
        f"/board/sessions/{session.pk}/move/?date=2026-12-01",
        {"slot": f"{chairs[2].pk}|{target.isoformat()}", "next": back},
        follow=True,
    )
    assert response.redirect_chain == [(back, 302)]
    assert "Moved the session to 11:00 on Chair 3, Tue 1 Dec." in _text(response)
    assert _refresh(session).starts_at == target


@pytest.mark.parametrize(
    "elsewhere", ["https://evil.example/patients/1/", "//evil.example/", "javascript:alert(1)"]
)
def test_a_move_never_returns_off_the_site(
    login: Callable[..., Client], book: Callable[..., Session], chairs: list[Any], elsewhere: str
) -> None:
    session = book(at=local(NEXT_MONDAY, 9, 30))
    client = login(Role.FRONT_DESK)
    page = _text(client.get(f"/board/sessions/{session.pk}/move/", {"next": elsewhere}))
    assert "evil.example" not in page and "javascript:" not in page
    assert "Back to the day board" in page
    target = local(dt.date(2026, 12, 1), 11)
    response = client.post(
        f"/board/sessions/{session.pk}/move/",
        {"slot": f"{chairs[2].pk}|{target.isoformat()}", "next": elsewhere},
    )
    assert response.status_code == 302 and response["Location"] == "/board/?date=2026-12-01"


@pytest.mark.parametrize(
    "slot",
    ["", "garbage", "12|not-a-time", "x|2026-12-01T11:00:00-05:00", "0|2026-12-01T11:00:00"],
)
def test_move_bad_input_is_400(
    login: Callable[..., Client], book: Callable[..., Session], slot: str
) -> None:
    session = book(at=local(NEXT_MONDAY, 9, 30))
    response = login(Role.FRONT_DESK).post(f"/board/sessions/{session.pk}/move/", {"slot": slot})
    assert response.status_code == 400
    assert 'role="alert"' in _text(response)
    assert _refresh(session).starts_at == local(NEXT_MONDAY, 9, 30)


def test_move_to_another_clinics_chair_is_400(
    login: Callable[..., Client], book: Callable[..., Session], other_clinic: Any
) -> None:
    session = book(at=local(NEXT_MONDAY, 9, 30))
    foreign = ChairFactory(clinic=other_clinic)
    response = login(Role.FRONT_DESK).post(
        f"/board/sessions/{session.pk}/move/",
        {"slot": f"{foreign.pk}|{local(NEXT_MONDAY, 11).isoformat()}"},
    )
    assert response.status_code == 400
    assert "Choose a chair of this clinic." in _text(response)


@pytest.mark.parametrize(
    ("when", "message"),
    [
        (local(NEXT_MONDAY, 6), "outside the clinic's opening hours"),
        (local(dt.date(2026, 12, 24), 10), "The clinic is closed on Thursday 24 December."),
        (local(NEXT_MONDAY, 10), "That chair is taken"),
    ],
)
def test_move_conflict_is_409(
    login: Callable[..., Client],
    book: Callable[..., Session],
    chairs: list[Any],
    when: dt.datetime,
    message: str,
    clinic: Any,
) -> None:
    ClosureFactory(clinic=clinic, date=dt.date(2026, 12, 24))
    session = book(at=local(NEXT_MONDAY, 9, 30))
    book(at=local(NEXT_MONDAY, 10), chair=chairs[1])
    response = login(Role.FRONT_DESK).post(
        f"/board/sessions/{session.pk}/move/", {"slot": f"{chairs[1].pk}|{when.isoformat()}"}
    )
    assert response.status_code == 409
    assert message in _text(response)
    assert _refresh(session).starts_at == local(NEXT_MONDAY, 9, 30)


def test_move_into_the_past_is_400(
    login: Callable[..., Client], book: Callable[..., Session], chairs: list[Any]
) -> None:
    session = book(at=local(NEXT_MONDAY, 9, 30))
    response = login(Role.FRONT_DESK).post(
        f"/board/sessions/{session.pk}/move/",
        {"slot": f"{chairs[1].pk}|{local(TODAY, 8).isoformat()}"},
    )
    assert response.status_code == 400
    assert "cannot be moved into the past" in _text(response)


def test_a_checked_in_session_cannot_be_moved(
    login: Callable[..., Client], book: Callable[..., Session], chairs: list[Any]
) -> None:
    session = book(status=SessionStatus.CHECKED_IN)
    client = login(Role.FRONT_DESK)
    page = client.get(f"/board/sessions/{session.pk}/move/")
    assert page.status_code == 200
    assert "Only scheduled sessions can be moved" in _text(page)
    response = client.post(f"/board/sessions/{session.pk}/move/", _move_slot(chairs))
    assert response.status_code == 409
    assert "A checked-in session cannot be moved." in _text(response)


def test_move_page_bad_date_is_400(
    login: Callable[..., Client], book: Callable[..., Session]
) -> None:
    session = book()
    response = login(Role.FRONT_DESK).get(f"/board/sessions/{session.pk}/move/?date=2026-11-31")
    assert response.status_code == 400


def test_move_page_on_a_closed_day(
    login: Callable[..., Client], book: Callable[..., Session], clinic: Any
) -> None:
    ClosureFactory(clinic=clinic, date=dt.date(2026, 12, 2))
    session = book(at=local(NEXT_MONDAY, 9, 30))
    html = _text(login(Role.FRONT_DESK).get(f"/board/sessions/{session.pk}/move/?date=2026-12-02"))
    assert "The clinic is closed that day." in html
    assert 'name="slot"' not in html


# --- the technician's list -------------------------------------------------------------


def _record(session: Session, **changes: str) -> dict[str, Any]:
    fields = {
        "pulses_delivered": "3000",
        "intensity_pct_mt": "120",
        "coil_position": "Beam F3",
        "side_effects": ["headache", "scalp_discomfort"],
        "side_effects_other": "mild jaw tension",
        "adverse_event": "on",
        **changes,
    }
    return {f"s{session.pk}-{name}": value for name, value in fields.items()}


def test_today_lists_the_days_sessions_in_time_order(
    login: Callable[..., Client], book: Callable[..., Session], chairs: list[Any], other_clinic: Any
) -> None:
    late = book(at=local(TODAY, 15), chair=chairs[0])
    due = book(at=local(TODAY, 12, 30), chair=chairs[1])
    early = book(at=local(TODAY, 8), chair=chairs[3], status=SessionStatus.CHECKED_IN)
    tomorrow = book(at=local(TODAY + dt.timedelta(days=1), 8))
    html = _text(login(Role.TECHNICIAN).get("/today/"))
    assert "Wednesday 25 November 2026" in html
    assert html.index(f'id="today-session-{early.pk}"') < html.index(
        f'id="today-session-{late.pk}"'
    )
    assert f'id="today-session-{tomorrow.pk}"' not in html
    assert "Chair 4" in html and f"08:00{DASH}08:40" in html and "Checked in" in html
    assert f"{early.patient.first_name} {early.patient.last_name[0]}." in html
    assert early.patient.last_name not in html
    # Checked in: the treatment record form, every input labelled; scheduled: check-in.
    assert f'id="record-{early.pk}"' in html and f'id="record-{late.pk}"' not in html
    assert f"/board/sessions/{due.pk}/check-in/" in html
    # Check-in opens an hour before (the clinic's setting): the list says from when.
    assert f"/board/sessions/{late.pk}/check-in/" not in html
    assert "Check-in from 14:00" in html
    for name in ("pulses_delivered", "intensity_pct_mt", "coil_position", "side_effects_other"):
        assert f'for="id_s{early.pk}-{name}"' in html
    assert "Scalp discomfort at the site" in html and "Adverse event" in html


def test_clinic_admin_reads_today_without_actions(
    login: Callable[..., Client], book: Callable[..., Session]
) -> None:
    checked_in = book(status=SessionStatus.CHECKED_IN)
    html = _text(login(Role.CLINIC_ADMIN).get("/today/"))
    assert f"today-session-{checked_in.pk}" in html
    assert f'id="record-{checked_in.pk}"' not in html and "read-only for your role" in html


def test_check_in_from_the_list_returns_the_row(
    login: Callable[..., Client], book: Callable[..., Session]
) -> None:
    session = book()
    response = login(Role.TECHNICIAN).post(
        f"/board/sessions/{session.pk}/check-in/",
        {"fragment": "row", "next": "/today/"},
        headers=HTMX,
    )
    html = _text(response)
    assert response.status_code == 200
    assert html.lstrip().startswith(f'<tbody id="today-session-{session.pk}"')
    assert f'id="record-{session.pk}"' in html  # now ready for its treatment record


def test_complete_with_the_treatment_record(
    login: Callable[..., Client], book: Callable[..., Session], staff: Any, client: Client
) -> None:
    session = book(status=SessionStatus.CHECKED_IN)
    technician = staff(Role.TECHNICIAN)
    client.force_login(technician)
    response = client.post(
        f"/today/sessions/{session.pk}/complete/", _record(session), headers=HTMX
    )
    assert response.status_code == 200, _text(response)
    assert "Completed" in _text(response) and f'id="record-{session.pk}"' not in _text(response)
    assert _refresh(session).status == SessionStatus.COMPLETED
    record = TreatmentRecord.objects.get(session=session)
    assert record.technician == technician
    assert record.pulses_delivered == 3000 and record.intensity_pct_mt == 120
    assert record.side_effects == ["headache", "scalp_discomfort"]
    assert record.side_effects_other == "mild jaw tension" and record.adverse_event is True
    again = client.post(f"/today/sessions/{session.pk}/complete/", _record(session), headers=HTMX)
    assert again.status_code == 409
    assert "A completed session cannot be completed." in _text(again)


def test_complete_without_javascript_redirects_to_the_list(
    login: Callable[..., Client], book: Callable[..., Session]
) -> None:
    session = book(status=SessionStatus.CHECKED_IN)
    response = login(Role.TECHNICIAN).post(
        f"/today/sessions/{session.pk}/complete/", _record(session), follow=True
    )
    assert response.redirect_chain == [("/today/", 302)]
    assert "Completed the session at 09:30 on Chair 1" in _text(response)


@pytest.mark.parametrize("htmx", [True, False])
def test_complete_with_bad_input_is_400(
    login: Callable[..., Client], book: Callable[..., Session], htmx: bool
) -> None:
    session = book(status=SessionStatus.CHECKED_IN)
    client = login(Role.TECHNICIAN)
    url = f"/today/sessions/{session.pk}/complete/"
    unreadable = _record(session, coil_position="")
    unreadable[f"s{session.pk}-side_effects"] = ["hiccups"]
    response = client.post(url, unreadable, headers=HTMX if htmx else {})
    html = _text(response)
    assert response.status_code == 400
    assert "some fields need attention" in html
    assert "This field is required." in html
    assert "Select a valid choice. hiccups is not one of the available choices." in html
    # Readable, but outside a treatment record's limits: the service refuses.
    out_of_range = _record(session, pulses_delivered="-1", intensity_pct_mt="500")
    response = client.post(url, out_of_range, headers=HTMX if htmx else {})
    html = _text(response)
    assert response.status_code == 400
    assert "some fields need attention" in html
    assert "Ensure this value is greater than or equal to 0." in html
    assert "Ensure this value is less than or equal to 200." in html
    assert 'value="500"' in html  # what was typed stays in the form
    assert _refresh(session).status == SessionStatus.CHECKED_IN
    assert not TreatmentRecord.objects.filter(session=session).exists()


def test_complete_a_scheduled_session_is_409(
    login: Callable[..., Client], book: Callable[..., Session]
) -> None:
    session = book()
    client = login(Role.TECHNICIAN)
    for headers in (HTMX, {}):
        response = client.post(
            f"/today/sessions/{session.pk}/complete/", _record(session), headers=headers
        )
        assert response.status_code == 409
        assert "A scheduled session cannot be completed." in _text(response)
    assert not TreatmentRecord.objects.exists()


# --- closures --------------------------------------------------------------------------


def test_clinic_admin_adds_a_closure(login: Callable[..., Client], clinic: Any) -> None:
    client = login(Role.CLINIC_ADMIN)
    response = client.post(
        "/closures/", {"date": "2026-12-24", "reason": "Christmas Eve"}, follow=True
    )
    assert response.redirect_chain == [("/closures/", 302)]
    assert "The clinic is now closed on Thursday 24 December 2026." in _text(response)
    closure = Closure.objects.get(clinic=clinic)
    assert (closure.date, closure.reason) == (dt.date(2026, 12, 24), "Christmas Eve")
    assert "Thursday 24 December 2026: Christmas Eve" in _text(response)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"date": "2026-11-24"}, "A closure cannot be in the past."),
        ({"date": "2026-12-24"}, "The clinic is already closed on that date."),
        ({"date": "24/12/2026"}, "Enter a valid date."),
        ({"date": ""}, "This field is required."),
        ({"date": "2026-12-26", "reason": "x" * 201}, "at most 200 characters"),
    ],
)
def test_closure_bad_input_is_400(
    login: Callable[..., Client], clinic: Any, data: dict[str, str], message: str
) -> None:
    ClosureFactory(clinic=clinic, date=dt.date(2026, 12, 24))
    response = login(Role.CLINIC_ADMIN).post("/closures/", data)
    assert response.status_code == 400
    assert message in _text(response)
    assert Closure.objects.filter(clinic=clinic).count() == 1


@pytest.mark.parametrize("role", ROLES)
def test_who_may_add_a_closure(login: Callable[..., Client], clinic: Any, role: str) -> None:
    response = login(role).post("/closures/", {"date": "2026-12-24"})
    assert response.status_code == (302 if role == Role.CLINIC_ADMIN else 403)
    assert Closure.objects.filter(clinic=clinic).exists() == (role == Role.CLINIC_ADMIN)


def test_front_desk_sees_closures_without_the_add_form(login: Callable[..., Client]) -> None:
    html = _text(login(Role.FRONT_DESK).get("/closures/"))
    assert "Closures are added by a clinic admin" in html
    assert 'name="date"' not in html


def test_closures_list_the_sessions_they_hit(
    login: Callable[..., Client], book: Callable[..., Session], clinic: Any, other_clinic: Any
) -> None:
    ClosureFactory(clinic=clinic, date=dt.date(2026, 11, 20))  # past: not listed
    ClosureFactory(clinic=clinic, date=dt.date(2026, 12, 1), reason="Power work")
    ClosureFactory(clinic=other_clinic, date=dt.date(2026, 12, 2), reason="Queens only")
    hit = book(at=local(dt.date(2026, 12, 1), 9, 30))
    cancelled = book(at=local(dt.date(2026, 12, 1), 11), status=SessionStatus.CANCELLED)
    # Names no generated staff member or patient shares (a random "Michael" in the
    # header once made the last check fail).
    cancelled.patient.first_name = "Zebulon"
    cancelled.patient.save()
    html = _text(login(Role.FRONT_DESK).get("/closures/"))
    assert "Tuesday 1 December 2026: Power work" in html
    assert "20 November" not in html and "Queens only" not in html
    assert f"{hit.patient.first_name} {hit.patient.last_name[0]}." in html
    assert cancelled.patient.first_name not in html
    assert "Sessions still booked that day (1)" in html and "Chair 1" in html
    assert "Re-book this session" in html


def test_rebook_moves_every_hit_session(
    login: Callable[..., Client], make_course: Any, chairs: list[Any], clinic: Any
) -> None:
    course = make_course()
    services.course_schedule(course)
    hit = Session.objects.get(course=course, starts_at=local(dt.date(2026, 12, 1), 9, 30))
    closure = ClosureFactory(clinic=clinic, date=dt.date(2026, 12, 1))
    response = login(Role.FRONT_DESK).post(f"/closures/{closure.pk}/rebook/")
    html = _text(response)
    assert response.status_code == 200
    assert "Re-booked 1 session." in html
    assert "Course not started yet, planned again: first session Mon 30 Nov 09:30" in html
    assert not Session.objects.filter(pk=hit.pk).exists()  # planned again from the start
    assert not any(
        s.starts_at.astimezone(NY).date() == dt.date(2026, 12, 1)
        for s in Session.objects.filter(course=course)
    )
    assert "No sessions are booked that day." in html


def test_rebook_of_a_course_under_way_shows_the_new_time(
    login: Callable[..., Client], book: Callable[..., Session], make_course: Any, clinic: Any
) -> None:
    course = make_course()
    book(course=course, status=SessionStatus.COMPLETED, at=local(dt.date(2026, 11, 24), 9, 30))
    hit = book(course=course, at=local(dt.date(2026, 12, 1), 9, 30))
    closure = ClosureFactory(clinic=clinic, date=dt.date(2026, 12, 1))
    html = _text(login(Role.CLINIC_ADMIN).post(f"/closures/{closure.pk}/rebook/"))
    hit = _refresh(hit)
    assert hit.starts_at.astimezone(NY).date() > dt.date(2026, 12, 1)
    assert f"{hit.starts_at.astimezone(NY):%a %-d %b %H:%M}, Chair 1" in html
    assert "planned again" not in html


def test_rebook_conflict_is_409(
    login: Callable[..., Client], book: Callable[..., Session], clinic: Any, monkeypatch: Any
) -> None:
    book(at=local(dt.date(2026, 12, 1), 9, 30))
    closure = ClosureFactory(clinic=clinic, date=dt.date(2026, 12, 1))

    def no_room(*args: Any, **kwargs: Any) -> list[Session]:
        raise Conflict("1 session(s) found no free place before their course window ends.")

    monkeypatch.setattr(services, "closure_rebook", no_room)
    response = login(Role.FRONT_DESK).post(f"/closures/{closure.pk}/rebook/")
    assert response.status_code == 409
    assert "Nothing was moved: 1 session(s) found no free place" in _text(response)


@pytest.mark.parametrize("role", ROLES)
def test_who_may_rebook(
    login: Callable[..., Client], book: Callable[..., Session], clinic: Any, role: str
) -> None:
    session = book(at=local(dt.date(2026, 12, 2), 9, 30), course=None)
    closure = ClosureFactory(clinic=clinic, date=dt.date(2026, 12, 2))
    response = login(role).post(f"/closures/{closure.pk}/rebook/")
    allowed = role in (Role.FRONT_DESK, Role.CLINIC_ADMIN)
    assert response.status_code == (200 if allowed else 403)
    assert (
        Session.objects.filter(pk=session.pk, starts_at=local(dt.date(2026, 12, 2), 9, 30)).exists()
        != allowed
    )


def test_rebook_of_another_clinics_closure_is_404(
    login: Callable[..., Client], other_clinic: Any
) -> None:
    foreign = ClosureFactory(clinic=other_clinic, date=dt.date(2026, 12, 2))
    client = login(Role.FRONT_DESK)
    assert client.post(f"/closures/{foreign.pk}/rebook/").status_code == 404


def test_closures_page_query_count_is_fixed(
    login: Callable[..., Client],
    book: Callable[..., Session],
    clinic: Any,
    chairs: list[Any],
    django_assert_num_queries: Any,
) -> None:
    client = login(Role.FRONT_DESK)
    ClosureFactory(clinic=clinic, date=dt.date(2026, 12, 1))
    book(at=local(dt.date(2026, 12, 1), 9, 30))
    # 9, the navigation's message count, and the audit trail's view of the patients shown
    with django_assert_num_queries(11) as small:
        client.get("/closures/")
    for offset in range(2, 6):
        day = dt.date(2026, 12, offset)
        ClosureFactory(clinic=clinic, date=day)
        for chair in chairs:
            book(at=local(day, 10), chair=chair)
    with django_assert_num_queries(len(small.captured_queries)):
        client.get("/closures/")
