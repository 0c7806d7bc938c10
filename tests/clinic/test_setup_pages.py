"""The clinic set-up pages (issue 13, clinic set-up): the clinic's settings and hours,
chairs and their blocks, closures changed and removed, staff, the reminder policy, and
a superuser's new clinic. Each page and action for every role, anonymous, a clinic
admin of another clinic and a superuser; the rules through the pages (and the API where
a rule is new)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from html import unescape
from typing import Any

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from clinic import tasks
from clinic.models import Chair, ChairBlock, Clinic, Closure, OpeningHours, Role, StaffMembership
from notifications.models import ReminderPolicy
from tests.factories import (
    ChairBlockFactory,
    ChairFactory,
    ClosureFactory,
    MembershipFactory,
    SessionFactory,
)
from tests.permissions import ACTORS, make_actor

User = get_user_model()
ADMIN_ONLY = {Role.CLINIC_ADMIN.value}
BLOCKERS = {Role.CLINIC_ADMIN.value, Role.TECHNICIAN.value}
FUTURE_DAY = dt.date(2027, 6, 8)  # a Tuesday


def _text(response: Any) -> str:
    return unescape(response.content.decode())


@pytest.fixture
def invitations_run_now(monkeypatch: Any) -> None:
    monkeypatch.setattr(
        tasks.send_staff_invitation, "delay", lambda *args: tasks.send_staff_invitation(*args)
    )


@pytest.fixture
def as_actor(
    client: Client, clinic: Any, other_clinic: Any, staff: Any, superuser: Any
) -> Callable[[str], Client]:
    def login(actor: str) -> Client:
        user = make_actor(actor, other_clinic, staff, superuser)
        if user is not None:
            client.force_login(user)
        return client

    return login


def _expected(actor: str, roles: set[str], *, of_clinic: bool, success: int = 200) -> int:
    """Anonymous: the login page; another clinic's admin: 404 for an object of this
    clinic (a page about their own clinic otherwise); a role without the page: 403."""
    if actor == "anonymous":
        return 302
    if actor == "superuser":
        return success
    if actor == "outsider":
        return 404 if of_clinic else success
    return success if actor in roles else 403


# Page (GET) -> (roles, path from the clinic, whether the path names an object of it)
PAGES: dict[str, tuple[set[str], Callable[[Any], str], bool]] = {
    "settings": (ADMIN_ONLY, lambda c: "/setup/", False),
    "chairs": (ADMIN_ONLY, lambda c: "/setup/chairs/", False),
    "chair": (ADMIN_ONLY, lambda c: f"/setup/chairs/{ChairFactory(clinic=c).pk}/", True),
    "blocks": (
        BLOCKERS,
        lambda c: f"/setup/chairs/{ChairFactory(clinic=c).pk}/blocks/",
        True,
    ),
    "block change": (BLOCKERS, lambda c: _block_url(c, "edit"), True),
    "staff": (ADMIN_ONLY, lambda c: "/setup/staff/", False),
    "reminders": (ADMIN_ONLY, lambda c: "/setup/reminders/", False),
    "closure edit": (
        ADMIN_ONLY,
        lambda c: f"/closures/{ClosureFactory(clinic=c).pk}/edit/",
        True,
    ),
    "closure delete": (
        ADMIN_ONLY,
        lambda c: f"/closures/{ClosureFactory(clinic=c).pk}/delete/",
        True,
    ),
}


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("name", list(PAGES))
def test_who_may_open_each_set_up_page(
    name: str, actor: str, clinic: Any, as_actor: Callable[[str], Client]
) -> None:
    roles, path, of_clinic = PAGES[name]
    url = path(clinic)
    response = as_actor(actor).get(url)
    assert response.status_code == _expected(actor, roles, of_clinic=of_clinic), url


@pytest.mark.parametrize("actor", ACTORS)
def test_the_closures_page_leads_on_to_the_other_set_up_pages(
    actor: str, as_actor: Callable[[str], Client]
) -> None:
    """Closures are a set-up step: whoever sets the clinic up finds the set-up tabs there
    (the way on to staff and reminders); the front desk, who also opens it, does not."""
    response = as_actor(actor).get("/closures/")
    opens = {"anonymous": 302, "superuser": 200, "outsider": 200}.get(
        actor, 200 if actor in {Role.FRONT_DESK, Role.CLINIC_ADMIN} else 403
    )
    assert response.status_code == opens
    tabs = 'aria-label="Set-up"' in _text(response)
    assert tabs == (actor in {"superuser", "outsider", Role.CLINIC_ADMIN})
    if tabs:
        assert '<a href="/closures/" aria-current="page">Closures</a>' in _text(response)


@pytest.mark.parametrize("actor", ACTORS)
def test_only_a_superuser_opens_the_new_clinic_page(
    actor: str, as_actor: Callable[[str], Client]
) -> None:
    response = as_actor(actor).get("/setup/clinics/new/")
    expected = {"anonymous": 302, "superuser": 200}.get(actor, 403)
    assert response.status_code == expected


def test_another_clinics_admin_sees_only_their_own_clinic(
    clinic: Any, other_clinic: Any, as_actor: Callable[[str], Client]
) -> None:
    ChairFactory(clinic=clinic, name="Brooklyn chair")
    MembershipFactory(clinic=clinic, user__first_name="Brooklynite", role=Role.TECHNICIAN)
    client = as_actor("outsider")
    assert "Brooklyn chair" not in _text(client.get("/setup/chairs/"))
    assert "Brooklynite" not in _text(client.get("/setup/staff/"))
    assert 'value="Queens"' in _text(client.get("/setup/"))


# --- actions (POST), every actor --------------------------------------------------------


def _hours_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"day-TOTAL_FORMS": "7", "day-INITIAL_FORMS": "7"}
    for day in range(7):
        data[f"day-{day}-weekday"] = str(day)
        if day < 5:
            data[f"day-{day}-open"] = "on"
            data[f"day-{day}-opens"] = "08:00"
            data[f"day-{day}-closes"] = "18:00"
    data.update(changes)
    return data


def _settings_data(clinic: Any, **changes: Any) -> dict[str, Any]:
    data = {
        "name": clinic.name,
        "display_name": clinic.display_name,
        "phone": "(718) 555-0111",
        "timezone": clinic.timezone,
        "required_failed_trials": "2",
        "course_window_grace_weeks": "2",
        "missed_grace_minutes": "15",
        "auto_makeup": "on",
        "patient_cancel_hours": "24",
        "book_beyond_authorization": "pending",
        "escalation_minutes": "120",
        "check_in_early_minutes": "60",
        "motor_threshold_valid_days": "90",
        "relapse_watch": "on",
        "relapse_watch_weeks": "2, 4, 8, 12",
        "relapse_watch_months": "12",
        "relapse_remitter_score": "10",
        "relapse_rise": "5",
        **_hours_data(),
    }
    data.update(changes)
    return data


ACTIONS: dict[str, tuple[set[str], Callable[[Any], tuple[str, dict[str, Any]]], bool, int]] = {
    "save settings": (
        ADMIN_ONLY,
        lambda c: ("/setup/", _settings_data(c)),
        False,
        302,
    ),
    "add chair": (
        ADMIN_ONLY,
        lambda c: ("/setup/chairs/", {"name": "Chair Z", "coils": ["H1"], "active": "on"}),
        False,
        302,
    ),
    "edit chair": (
        ADMIN_ONLY,
        lambda c: (
            f"/setup/chairs/{ChairFactory(clinic=c).pk}/",
            {"name": "Renamed", "coils": ["figure-8"]},
        ),
        True,
        302,
    ),
    "block chair": (
        BLOCKERS,
        lambda c: (
            f"/setup/chairs/{ChairFactory(clinic=c).pk}/blocks/",
            {"day": "2027-06-08", "starts": "09:00", "ends": "11:00", "reason": "Service"},
        ),
        True,
        302,
    ),
    "change block": (
        BLOCKERS,
        lambda c: (
            _block_url(c, "edit"),
            {"day": "2027-06-09", "starts": "13:00", "ends": "15:00", "reason": "Moved"},
        ),
        True,
        302,
    ),
    "lift block": (
        BLOCKERS,
        lambda c: (_block_url(c), {}),
        True,
        302,
    ),
    "add staff": (
        ADMIN_ONLY,
        lambda c: (
            "/setup/staff/",
            {
                "username": "newtech",
                "first_name": "Nia",
                "last_name": "Tech",
                "email": "nia@clinic.test",
                "role": "technician",
            },
        ),
        False,
        302,
    ),
    "change role": (
        ADMIN_ONLY,
        lambda c: (
            f"/setup/staff/{MembershipFactory(clinic=c).pk}/role/",
            {f"m{StaffMembership.objects.latest('pk').pk}-role": "technician"},
        ),
        True,
        302,
    ),
    "remove staff": (
        ADMIN_ONLY,
        lambda c: (f"/setup/staff/{MembershipFactory(clinic=c).pk}/remove/", {}),
        True,
        302,
    ),
    "save reminder policy": (
        ADMIN_ONLY,
        lambda c: ("/setup/reminders/", _policy_data()),
        False,
        302,
    ),
    "change closure": (
        ADMIN_ONLY,
        lambda c: (
            f"/closures/{ClosureFactory(clinic=c).pk}/edit/",
            {"date": "2027-01-04", "reason": "Inventory"},
        ),
        True,
        302,
    ),
    "remove closure": (
        ADMIN_ONLY,
        lambda c: (f"/closures/{ClosureFactory(clinic=c).pk}/delete/", {}),
        True,
        302,
    ),
}


def _block_url(clinic: Any, action: str = "delete") -> str:
    block = ChairBlockFactory(chair=ChairFactory(clinic=clinic))
    return f"/setup/chairs/{block.chair_id}/blocks/{block.pk}/{action}/"


def _policy_data(**changes: Any) -> dict[str, Any]:
    data = {
        "course_booked": "on",
        "first_session": "on",
        "day_before": "on",
        "same_day": "on",
        "session_moved": "on",
        "makeup_booked": "on",
        "session_cancelled": "on",
        "missed_followup": "on",
        "day_before_at": "18:00",
        "same_day_minutes_before": "90",
        "window_start": "08:00",
        "window_end": "21:00",
        "sms_per_day": "2",
        "sms_per_week": "10",
        "email_per_day": "3",
        "email_per_week": "10",
    }
    data.update(changes)
    return data


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("name", list(ACTIONS))
def test_who_may_change_the_set_up(
    name: str, actor: str, clinic: Any, as_actor: Callable[[str], Client]
) -> None:
    roles, make, of_clinic, success = ACTIONS[name]
    # The acting admin is not the clinic's only one: removing or demoting is allowed.
    MembershipFactory(clinic=clinic, role=Role.CLINIC_ADMIN)
    url, data = make(clinic)
    response = as_actor(actor).post(url, data)
    expected = _expected(actor, roles, of_clinic=of_clinic, success=success)
    assert response.status_code == expected, _text(response)[-2000:]


@pytest.mark.parametrize("actor", ACTORS)
def test_who_may_create_a_clinic(actor: str, as_actor: Callable[[str], Client]) -> None:
    response = as_actor(actor).post("/setup/clinics/new/", _new_clinic_data())
    assert response.status_code == {"anonymous": 302, "superuser": 302}.get(actor, 403)
    assert Clinic.objects.filter(slug="elm").exists() == (actor == "superuser")


def _new_clinic_data(**changes: Any) -> dict[str, str]:
    data = {
        "name": "Elm Street Clinic",
        "slug": "elm",
        "display_name": "Elm Care",
        "phone": "718 555 0123",
        "timezone": "America/Chicago",
        "admin_username": "erin",
        "admin_first_name": "Erin",
        "admin_last_name": "Admin",
        "admin_email": "erin@elm.test",
    }
    data.update(changes)
    return data


# --- what the pages do --------------------------------------------------------------------


def test_settings_save_the_hours_per_weekday(
    clinic: Any, as_actor: Callable[[str], Client]
) -> None:
    data = _settings_data(clinic, display_name="Park Care", **{"day-5-open": "on"})
    data.update({"day-5-opens": "09:00", "day-5-closes": "13:00", "day-0-open": ""})
    response = as_actor(Role.CLINIC_ADMIN).post("/setup/", data)
    assert response.status_code == 302
    clinic.refresh_from_db()
    assert clinic.display_name == "Park Care" and clinic.phone == "+17185550111"
    hours = {h.weekday: (h.opens, h.closes) for h in OpeningHours.objects.filter(clinic=clinic)}
    assert 0 not in hours  # Monday now closed
    assert hours[5] == (dt.time(9), dt.time(13))
    assert hours[1] == (dt.time(8), dt.time(18))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"day-2-opens": "18:00", "day-2-closes": "08:00"}, "The clinic closes after it opens."),
        ({"day-2-opens": ""}, "An open day needs the time it opens and closes."),
        ({"timezone": "Mars/Olympus"}, "Select a valid choice."),
        ({"display_name": "Brooklyn TMS"}, "TMS"),
        ({"phone": "12"}, "Enter a valid phone number."),
    ],
)
def test_settings_refuse_bad_input_with_a_message(
    clinic: Any, as_actor: Callable[[str], Client], changes: dict[str, str], message: str
) -> None:
    before = list(OpeningHours.objects.filter(clinic=clinic).values_list("weekday", "opens"))
    response = as_actor(Role.CLINIC_ADMIN).post("/setup/", _settings_data(clinic, **changes))
    assert response.status_code == 400
    assert message in _text(response)
    assert list(OpeningHours.objects.filter(clinic=clinic).values_list("weekday", "opens")) == (
        before
    )


def test_chair_added_with_its_coils_and_deactivated(
    clinic: Any, as_actor: Callable[[str], Client]
) -> None:
    client = as_actor(Role.CLINIC_ADMIN)
    response = client.post(
        "/setup/chairs/", {"name": "Deep", "device": "BrainsWay", "coils": ["H1", "H7"]}
    )
    assert response.status_code == 302
    chair = Chair.objects.get(clinic=clinic, name="Deep")
    assert chair.coils == ["H1", "H7"] and chair.active is False  # box left unticked
    again = client.post("/setup/chairs/", {"name": "Deep", "coils": ["H1"], "active": "on"})
    assert again.status_code == 400
    assert "already" in _text(again).lower()
    none = client.post("/setup/chairs/", {"name": "Empty", "active": "on"})
    assert none.status_code == 400 and not Chair.objects.filter(name="Empty").exists()


def test_a_chair_block_over_booked_sessions_is_refused_listing_them(
    clinic: Any, as_actor: Callable[[str], Client]
) -> None:
    chair = ChairFactory(clinic=clinic)
    session = SessionFactory(chair=chair, starts_at=dt.datetime(2027, 6, 8, 10, tzinfo=clinic.tz))
    response = as_actor(Role.TECHNICIAN).post(
        f"/setup/chairs/{chair.pk}/blocks/",
        {"day": "2027-06-08", "starts": "09:00", "ends": "12:00", "reason": "Service"},
    )
    assert response.status_code == 409
    html = _text(response)
    assert "1 session(s) are booked on this chair" in html
    assert f"{session.patient.first_name} {session.patient.last_name[0]}." in html
    assert not ChairBlock.objects.filter(chair=chair).exists()


def _local(clinic: Any, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=clinic.tz)


def test_a_chair_block_is_changed_on_its_page(
    clinic: Any, as_actor: Callable[[str], Client]
) -> None:
    chair = ChairFactory(clinic=clinic)
    block = ChairBlockFactory(
        chair=chair,
        starts_at=_local(clinic, FUTURE_DAY, 9),
        ends_at=_local(clinic, FUTURE_DAY, 11),
        reason="Coil service",
    )
    client = as_actor(Role.CLINIC_ADMIN)
    listing = _text(client.get(f"/setup/chairs/{chair.pk}/blocks/"))
    url = f"/setup/chairs/{chair.pk}/blocks/{block.pk}/edit/"
    assert f'href="{url}"' in listing
    page = _text(client.get(url))
    assert 'name="day" value="2027-06-08"' in page
    assert 'name="starts" value="09:00"' in page and 'name="ends" value="11:00"' in page
    assert 'value="Coil service"' in page
    response = client.post(
        url, {"day": "2027-06-09", "starts": "13:30", "ends": "16:00", "reason": "Calibration"}
    )
    assert (
        response.status_code == 302 and response["Location"] == f"/setup/chairs/{chair.pk}/blocks/"
    )
    block.refresh_from_db()
    assert block.starts_at == _local(clinic, FUTURE_DAY + dt.timedelta(days=1), 13, 30)
    assert block.ends_at == _local(clinic, FUTURE_DAY + dt.timedelta(days=1), 16)
    assert block.reason == "Calibration"
    # Over two days (a block the API made may span days; the page keeps it so).
    client.post(
        url,
        {"day": "2027-06-09", "starts": "18:00", "until_day": "2027-06-11", "ends": "08:00"},
    )
    block.refresh_from_db()
    assert block.ends_at == _local(clinic, dt.date(2027, 6, 11), 8)
    assert 'name="until_day" value="2027-06-11"' in _text(client.get(url))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"day": "2027-06-08", "starts": "11:00", "ends": "10:00"},
            "A block ends after it starts.",
        ),
        (
            {"day": "2027-06-08", "starts": "11:00", "until_day": "2027-06-07", "ends": "12:00"},
            "A block ends after it starts.",
        ),
        ({"day": "9999-12-31", "starts": "09:00", "ends": "10:00"}, "day"),
        ({"day": "2027-06-08", "starts": "9 am", "ends": "10:00"}, "Enter a valid time."),
    ],
)
def test_a_chair_block_change_is_refused_like_an_addition(
    clinic: Any, as_actor: Callable[[str], Client], data: dict[str, str], message: str
) -> None:
    block = ChairBlockFactory(
        chair=ChairFactory(clinic=clinic),
        starts_at=_local(clinic, FUTURE_DAY, 9),
        ends_at=_local(clinic, FUTURE_DAY, 11),
    )
    response = as_actor(Role.TECHNICIAN).post(
        f"/setup/chairs/{block.chair_id}/blocks/{block.pk}/edit/", data
    )
    assert response.status_code == 400
    html = _text(response)
    assert message in html if message != "day" else 'id="id_day_error"' in html
    assert ChairBlock.objects.get(pk=block.pk).starts_at == _local(clinic, FUTURE_DAY, 9)


def test_a_chair_block_moved_over_booked_sessions_is_refused_listing_them(
    clinic: Any, as_actor: Callable[[str], Client]
) -> None:
    chair = ChairFactory(clinic=clinic)
    block = ChairBlockFactory(
        chair=chair, starts_at=_local(clinic, FUTURE_DAY, 7), ends_at=_local(clinic, FUTURE_DAY, 8)
    )
    session = SessionFactory(chair=chair, starts_at=_local(clinic, FUTURE_DAY, 10))
    response = as_actor(Role.CLINIC_ADMIN).post(
        f"/setup/chairs/{chair.pk}/blocks/{block.pk}/edit/",
        {"day": "2027-06-08", "starts": "07:00", "ends": "12:00", "reason": "Longer"},
    )
    assert response.status_code == 409
    html = _text(response)
    assert "1 session(s) are booked on this chair" in html
    assert f"{session.patient.first_name} {session.patient.last_name[0]}." in html
    assert "Now from Tue 8 Jun 2027 07:00 until Tue 8 Jun 2027 08:00" in html
    block.refresh_from_db()
    assert block.ends_at == _local(clinic, FUTURE_DAY, 8) and block.reason == "Coil service"


def test_a_block_is_changed_only_under_its_own_chair(
    clinic: Any, as_actor: Callable[[str], Client]
) -> None:
    block = ChairBlockFactory(chair=ChairFactory(clinic=clinic))
    other_chair = ChairFactory(clinic=clinic)
    client = as_actor(Role.CLINIC_ADMIN)
    assert client.get(f"/setup/chairs/{other_chair.pk}/blocks/{block.pk}/edit/").status_code == 404


def test_staff_added_on_the_page_is_emailed_their_link(
    clinic: Any,
    as_actor: Callable[[str], Client],
    invitations_run_now: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = as_actor(Role.CLINIC_ADMIN).post(
            "/setup/staff/",
            {
                "username": "nia",
                "first_name": "Nia",
                "last_name": "Tech",
                "email": "nia@clinic.test",
                "role": "technician",
            },
        )
    assert response.status_code == 302
    person = User.objects.get(username="nia")
    assert not person.has_usable_password()
    assert StaffMembership.objects.get(user=person).role == Role.TECHNICIAN
    assert [m.to for m in mail.outbox] == [["nia@clinic.test"]]
    assert "/accounts/reset/" in mail.outbox[0].body


def test_the_staff_page_has_no_password_field(as_actor: Callable[[str], Client]) -> None:
    html = _text(as_actor(Role.CLINIC_ADMIN).get("/setup/staff/"))
    assert 'type="password"' not in html and "password" not in html.split("Add a staff")[1][:50]


def test_the_last_clinic_admin_is_neither_demoted_nor_removed(
    clinic: Any, staff: Any, client: Client, api: Any
) -> None:
    me = staff(Role.CLINIC_ADMIN)
    other_admin = staff(Role.CLINIC_ADMIN)
    client.force_login(me)
    membership = StaffMembership.objects.get(user=other_admin, clinic=clinic)
    # Two admins: the other one may become a technician.
    ok = client.post(
        f"/setup/staff/{membership.pk}/role/", {f"m{membership.pk}-role": "technician"}
    )
    assert ok.status_code == 302
    mine = StaffMembership.objects.get(user=me, clinic=clinic)
    refused = client.post(f"/setup/staff/{mine.pk}/role/", {f"m{mine.pk}-role": "front_desk"})
    assert refused.status_code == 409
    assert "last admin" in _text(refused)
    assert StaffMembership.objects.get(pk=mine.pk).role == Role.CLINIC_ADMIN


def test_the_api_refuses_to_demote_the_last_admin(
    clinic: Any, staff: Any, superuser: Any, api: Any
) -> None:
    only = staff(Role.CLINIC_ADMIN)
    response = api(superuser).patch(
        f"/api/v1/staff/{only.pk}/", {"role": "technician", "clinics": [clinic.pk]}, format="json"
    )
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "last_clinic_admin"
    assert StaffMembership.objects.get(user=only).role == Role.CLINIC_ADMIN


def test_the_api_refuses_to_remove_the_last_admin(
    clinic: Any, staff: Any, superuser: Any, api: Any
) -> None:
    only = staff(Role.CLINIC_ADMIN)
    response = api(superuser).delete(f"/api/v1/staff/{only.pk}/")
    assert response.status_code == 409
    assert response.json()["code"] == "last_clinic_admin"
    assert StaffMembership.objects.filter(user=only, clinic=clinic).exists()


def test_nobody_removes_themselves(clinic: Any, staff: Any, client: Client, api: Any) -> None:
    me = staff(Role.CLINIC_ADMIN)
    staff(Role.CLINIC_ADMIN)
    client.force_login(me)
    mine = StaffMembership.objects.get(user=me)
    response = client.post(f"/setup/staff/{mine.pk}/remove/")
    assert response.status_code == 409 and "cannot remove yourself" in _text(response)
    api_response = api(me).delete(f"/api/v1/staff/{me.pk}/")
    assert api_response.status_code == 409 and api_response.json()["code"] == "remove_self"
    assert StaffMembership.objects.filter(user=me).exists()


def test_removal_ends_this_clinic_only_and_deactivates_the_clinicless(
    clinic: Any, other_clinic: Any, staff: Any, client: Client
) -> None:
    client.force_login(staff(Role.CLINIC_ADMIN))
    both = staff(Role.TECHNICIAN)
    MembershipFactory(user=both, clinic=other_clinic, role=Role.PSYCHIATRIST)
    only_here = staff(Role.FRONT_DESK)
    for person in (both, only_here):
        membership = StaffMembership.objects.get(user=person, clinic=clinic)
        assert client.post(f"/setup/staff/{membership.pk}/remove/").status_code == 302
    both.refresh_from_db()
    only_here.refresh_from_db()
    assert both.is_active and StaffMembership.objects.get(user=both).clinic == other_clinic
    assert not only_here.is_active and not StaffMembership.objects.filter(user=only_here).exists()


def test_a_superuser_creates_a_clinic_and_its_admin(
    superuser: Any,
    client: Client,
    invitations_run_now: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client.force_login(superuser)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/setup/clinics/new/", _new_clinic_data())
    assert response.status_code == 302 and response["Location"] == "/setup/"
    clinic = Clinic.objects.get(slug="elm")
    assert clinic.phone == "+17185550123" and clinic.timezone == "America/Chicago"
    admin = User.objects.get(username="erin")
    assert StaffMembership.objects.get(user=admin).role == Role.CLINIC_ADMIN
    assert not admin.has_usable_password()
    assert [m.to for m in mail.outbox] == [["erin@elm.test"]]


def test_a_refused_new_clinic_leaves_nothing_behind(
    superuser: Any, staff: Any, client: Client
) -> None:
    staff(Role.FRONT_DESK, username="erin")
    client.force_login(superuser)
    response = client.post("/setup/clinics/new/", _new_clinic_data())
    assert response.status_code == 400
    html = _text(response)
    assert "That username is taken." in html.split('id="id_admin_username"')[1][:600]
    assert not Clinic.objects.filter(slug="elm").exists()


def test_closure_change_shows_the_sessions_hit_before_saving(
    clinic: Any, as_actor: Callable[[str], Client]
) -> None:
    closure = ClosureFactory(clinic=clinic, date=dt.date(2027, 6, 1))
    session = SessionFactory(
        chair=ChairFactory(clinic=clinic),
        starts_at=dt.datetime(2027, 6, 8, 10, tzinfo=clinic.tz),
    )
    client = as_actor(Role.CLINIC_ADMIN)
    url = f"/closures/{closure.pk}/edit/"
    first = client.post(url, {"date": "2027-06-08", "reason": "Power work"})
    assert first.status_code == 400
    html = _text(first)
    assert "has 1 session booked" in html
    assert f"{session.patient.first_name} {session.patient.last_name[0]}." in html
    closure.refresh_from_db()
    assert closure.date == dt.date(2027, 6, 1)
    confirmed = client.post(
        url, {"date": "2027-06-08", "reason": "Power work", "confirm_hits": "2027-06-08"}
    )
    assert confirmed.status_code == 302
    closure.refresh_from_db()
    assert closure.date == dt.date(2027, 6, 8) and closure.reason == "Power work"


def test_adding_a_closure_on_a_booked_day_asks_first(
    clinic: Any, as_actor: Callable[[str], Client]
) -> None:
    SessionFactory(
        chair=ChairFactory(clinic=clinic),
        starts_at=dt.datetime(2027, 6, 8, 10, tzinfo=clinic.tz),
    )
    client = as_actor(Role.CLINIC_ADMIN)
    first = client.post("/closures/", {"date": "2027-06-08"})
    assert first.status_code == 400 and "has 1 session booked" in _text(first)
    assert not Closure.objects.filter(clinic=clinic).exists()
    again = client.post("/closures/", {"date": "2027-06-08", "confirm_hits": "2027-06-08"})
    assert again.status_code == 302
    assert Closure.objects.filter(clinic=clinic, date=FUTURE_DAY).exists()


def test_closure_removal_lists_the_day_and_keeps_past_ones(
    clinic: Any, as_actor: Callable[[str], Client], api: Any, staff: Any
) -> None:
    coming = ClosureFactory(clinic=clinic, date=FUTURE_DAY)
    SessionFactory(
        chair=ChairFactory(clinic=clinic), starts_at=dt.datetime(2027, 6, 8, 10, tzinfo=clinic.tz)
    )
    client = as_actor(Role.CLINIC_ADMIN)
    assert "Sessions booked that day, which then take place as booked (1)" in _text(
        client.get(f"/closures/{coming.pk}/delete/")
    )
    assert client.post(f"/closures/{coming.pk}/delete/").status_code == 302
    assert not Closure.objects.filter(pk=coming.pk).exists()
    past = ClosureFactory(clinic=clinic, date=dt.date(2026, 1, 5))
    refused = client.post(f"/closures/{past.pk}/delete/")
    assert refused.status_code == 409 and "has passed" in _text(refused)
    api_refused = api(staff(Role.CLINIC_ADMIN)).delete(f"/api/v1/closures/{past.pk}/")
    assert api_refused.status_code == 409 and api_refused.json()["code"] == "closure_past"
    assert Closure.objects.filter(pk=past.pk).exists()


def test_reminder_policy_saved_from_the_page(
    clinic: Any, as_actor: Callable[[str], Client]
) -> None:
    client = as_actor(Role.CLINIC_ADMIN)
    response = client.post("/setup/reminders/", _policy_data(every_day="on", same_day=""))
    assert response.status_code == 302
    policy = ReminderPolicy.objects.get(clinic=clinic)
    assert policy.every_day and not policy.same_day and policy.day_before_at == dt.time(18)
    bad = client.post("/setup/reminders/", _policy_data(window_end="07:00"))
    assert bad.status_code == 400 and "must end after it starts" in _text(bad)


def _preview_rows(html: str, caption: str) -> list[str]:
    table = html.split(caption, 1)[1].split("</table>", 1)[0]
    return [
        " | ".join(" ".join(cell.split()) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S))
        for row in table.split("<tr>")[2:]
    ]


SENT, HELD = "SMS | Sent", "SMS | Held back: frequency cap reached"


@time_machine.travel(dt.datetime(2026, 12, 2, 15, tzinfo=dt.UTC), tick=False)
def test_the_preview_lists_a_typical_weeks_messages(
    clinic: Any, as_actor: Callable[[str], Client]
) -> None:
    html = _text(as_actor(Role.CLINIC_ADMIN).get("/setup/reminders/"))
    assert "week of Monday 14 December 2026" in html
    # The first visit of the week and the moved one are reminded; the move is told.
    assert _preview_rows(html, "A patient with the usual reminders") == [
        f"Sun 13 Dec 17:00 | Day-before reminder | Mon 14 Dec 10:00 | {SENT}",
        f"Mon 14 Dec 08:00 | Same-day reminder | Mon 14 Dec 10:00 | {SENT}",
        f"Tue 15 Dec 12:00 | Session moved | Wed 16 Dec 15:00 | {SENT}",
        f"Tue 15 Dec 17:00 | Day-before reminder | Wed 16 Dec 15:00 | {SENT}",
        f"Wed 16 Dec 13:00 | Same-day reminder | Wed 16 Dec 15:00 | {SENT}",
    ]
    daily = _preview_rows(html, "A patient who asked to be reminded every day")
    assert len(daily) == 11 and all(row.endswith(SENT) for row in daily)  # within the caps


@time_machine.travel(dt.datetime(2026, 12, 2, 15, tzinfo=dt.UTC), tick=False)
def test_the_preview_shows_what_caps_hold_back(
    clinic: Any, as_actor: Callable[[str], Client]
) -> None:
    response = as_actor(Role.CLINIC_ADMIN).post(
        "/setup/reminders/", _policy_data(sms_per_day="1", sms_per_week="4", preview="1")
    )
    assert response.status_code == 200
    html = _text(response)
    assert "with the settings above (not saved)" in html
    daily = _preview_rows(html, "A patient who asked to be reminded every day")
    # Sunday's text belongs to the week before, whose four were spent by Thursday.
    # (The posted policy: day-before at 18:00, same-day 90 minutes before.)
    assert daily[0] == f"Sun 13 Dec 18:00 | Day-before reminder | Mon 14 Dec 10:00 | {HELD}"
    assert daily[1] == f"Mon 14 Dec 08:30 | Same-day reminder | Mon 14 Dec 10:00 | {SENT}"
    assert daily[2] == f"Mon 14 Dec 18:00 | Day-before reminder | Tue 15 Dec 10:00 | {HELD}"
    assert f"Tue 15 Dec 12:00 | Session moved | Wed 16 Dec 15:00 | {SENT}" in daily
    assert daily[-1] == f"Fri 18 Dec 08:30 | Same-day reminder | Fri 18 Dec 10:00 | {HELD}"
    assert sum(row.endswith(SENT) for row in daily) == 5  # four routine texts and the move
    assert not ReminderPolicy.objects.filter(clinic=clinic).exists()  # a preview saves nothing


# --- query counts -----------------------------------------------------------------------


def _count(client: Client, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize(
    ("path", "add"),
    [
        ("/setup/staff/", lambda c: MembershipFactory(clinic=c)),
        ("/setup/chairs/", lambda c: ChairFactory(clinic=c)),
        ("/setup/reminders/", lambda c: None),
        ("/setup/", lambda c: None),
    ],
)
def test_set_up_pages_query_counts_are_fixed(
    path: str, add: Callable[[Any], Any], clinic: Any, as_actor: Callable[[str], Client]
) -> None:
    client = as_actor(Role.CLINIC_ADMIN)
    add(clinic)
    few = _count(client, path)
    for _ in range(5):
        add(clinic)
    assert _count(client, path) == few
    # The request's, the second factor's device (django-otp), the navigation's and the page's own.
    assert few == 10


def test_chair_blocks_page_query_count_is_fixed(
    clinic: Any, as_actor: Callable[[str], Client]
) -> None:
    client = as_actor(Role.TECHNICIAN)
    chair = ChairFactory(clinic=clinic)
    starts = dt.datetime(2027, 6, 8, 9, tzinfo=dt.UTC)

    def block(day: int) -> None:
        at = starts + dt.timedelta(days=day)
        ChairBlockFactory(chair=chair, starts_at=at, ends_at=at + dt.timedelta(hours=1))

    block(0)
    few = _count(client, f"/setup/chairs/{chair.pk}/blocks/")
    for day in range(1, 6):
        block(day)
    assert _count(client, f"/setup/chairs/{chair.pk}/blocks/") == few
