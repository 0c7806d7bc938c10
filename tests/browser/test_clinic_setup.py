"""A clinic set up from nothing in Chromium (issue 13, clinic set-up): a superuser
creates the clinic and its admin; the admin chooses a password from the emailed link,
then sets the hours, chairs, a closure, staff and the reminder policy. No API call, no
Django admin. Each set-up page passes axe-core at 1440 and 390 px wide; a screenshot of
each step goes to test-artifacts/."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.core import mail
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page, expect

from clinic import tasks
from clinic.models import Chair, ChairBlock, Clinic, Closure, OpeningHours, StaffMembership
from notifications.models import ReminderPolicy
from tests.browser.conftest import axe_violations, screenshot
from tests.second_factor import code_of

WIDTHS = (1440, 390)


UNTIL_TIME = re.compile(r"^Until:?$")  # a chair block's end time, not its "Until date"


def _axe_at_both_widths(page: Page, name: str) -> dict[str, Any]:
    found = {}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        violations = axe_violations(page)
        if violations:
            found[f"{name}@{width}"] = violations
        screenshot(page, f"setup-{name}-{width}")
    page.set_viewport_size({"width": 1440, "height": 900})
    return found


def _link_in(body: str) -> str:
    match = re.search(r"https?://\S+/accounts/reset/\S+/", body)
    assert match, body
    return match.group(0)


def test_a_superuser_creates_a_clinic_and_its_admin_sets_it_up(
    page: Page, login: Any, superuser: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(
        tasks.send_staff_invitation, "delay", lambda *args: tasks.send_staff_invitation(*args)
    )
    violations: dict[str, Any] = {}
    login(superuser)
    page.goto("/")
    page.get_by_role("link", name="Create a clinic and its first clinic admin").click()
    violations |= _axe_at_both_widths(page, "new-clinic")
    page.get_by_label("Name", exact=True).fill("Elm Street Clinic")
    page.get_by_label("Slug").fill("elm")
    page.get_by_label("Name in patient messages").fill("Elm Care")
    page.get_by_label("Phone").fill("718 555 0123")
    page.get_by_label("Time zone").select_option("America/Chicago")
    page.get_by_label("Admin's username").fill("erin")
    page.get_by_label("Admin's first name").fill("Erin")
    page.get_by_label("Admin's last name").fill("Admin")
    page.get_by_label("Admin's email").fill("erin@elm.test")
    page.get_by_role("button", name="Create the clinic").click()
    expect(page.get_by_role("status")).to_contain_text("Elm Street Clinic is created")
    clinic = Clinic.objects.get(slug="elm")

    # The admin chooses a password from the emailed link, then logs in.
    page.get_by_role("button", name=re.compile("Log out")).click()
    link = _link_in(mail.outbox[-1].body)
    assert mail.outbox[-1].to == ["erin@elm.test"]
    page.goto(link)
    page.get_by_label("New password", exact=True).fill("elm street pass 42")
    page.get_by_label("New password confirmation").fill("elm street pass 42")
    page.get_by_role("button", name="Set my password").click()
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("erin")
    page.get_by_label("Password").fill("elm street pass 42")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    # A clinic admin's first login sets up the second factor.
    assert "/accounts/mfa/setup/" in page.url
    device = TOTPDevice.objects.get(user__username="erin", confirmed=False)
    page.get_by_label("Code", exact=True).fill(code_of(device))
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("link", name="I have kept them: continue").click()

    # Hours: Monday to Friday 8 to 18, Saturday morning.
    page.get_by_role("link", name="Set-up").click()
    violations |= _axe_at_both_widths(page, "clinic")
    for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"):
        page.get_by_label(f"{day}: open").check()
        page.get_by_label(f"{day} opens").fill("08:00")
        page.get_by_label(f"{day} closes").fill("13:00" if day == "Saturday" else "18:00")
    page.get_by_role("button", name="Save settings and hours").click()
    expect(page.get_by_role("status")).to_contain_text("settings and hours are saved")
    assert OpeningHours.objects.filter(clinic=clinic).count() == 6

    # Chairs: a figure-8 chair and a deep TMS chair.
    page.get_by_role("link", name="Chairs").click()
    violations |= _axe_at_both_widths(page, "chairs")
    for name, coil in (("Chair A", "Figure-8"), ("Chair H", "H1 (deep TMS, depression)")):
        page.get_by_label("Name").fill(name)
        page.get_by_label("Device").fill("MagVenture")
        page.get_by_label("Figure-8").set_checked(coil == "Figure-8")
        page.get_by_label(coil).check()
        page.get_by_label("Active").check()
        page.get_by_role("button", name="Add chair").click()
        expect(page.get_by_role("status")).to_contain_text(f"{name} is saved")
    assert sorted(Chair.objects.filter(clinic=clinic).values_list("name", flat=True)) == [
        "Chair A",
        "Chair H",
    ]
    page.get_by_role("link", name="Edit Chair A").click()
    violations |= _axe_at_both_widths(page, "chair-edit")
    page.get_by_role("link", name="Back to the chairs").click()
    page.get_by_role("link", name="Blocks of Chair A").click()
    violations |= _axe_at_both_widths(page, "chair-blocks")
    # A block for servicing, then its time changed on its own page.
    service_day = clinic.today() + dt.timedelta(days=20)
    page.get_by_label("Date").fill(service_day.isoformat())
    page.get_by_label("From").fill("12:00")
    page.get_by_label(UNTIL_TIME).fill("13:00")
    page.get_by_label("Reason").fill("Coil service")
    page.get_by_role("button", name="Block the chair").click()
    page.get_by_role("link", name=re.compile("^Change the block")).click()
    violations |= _axe_at_both_widths(page, "chair-block-edit")
    page.get_by_label(UNTIL_TIME).fill("14:30")
    page.get_by_role("button", name="Save the block").click()
    expect(page.get_by_role("cell", name=re.compile("14:30"))).to_be_visible()
    (block,) = ChairBlock.objects.filter(chair__clinic=clinic)
    assert block.ends_at.astimezone(clinic.tz).strftime("%H:%M") == "14:30"

    # A closure, then its change page.
    page.get_by_role("navigation", name="Set-up").get_by_role("link", name="Closures").click()
    closed = clinic.today() + dt.timedelta(days=30)
    page.get_by_label("Date").fill(closed.isoformat())
    page.get_by_label("Reason").fill("Staff training")
    page.get_by_role("button", name="Add closure").click()
    expect(page.get_by_role("status")).to_contain_text("The clinic is now closed")
    assert Closure.objects.filter(clinic=clinic, date=closed).exists()
    page.get_by_role("link", name=re.compile("^Change the closure")).click()
    violations |= _axe_at_both_widths(page, "closure-edit")
    page.get_by_role("link", name="Cancel").click()
    page.get_by_role("link", name=re.compile("^Remove the closure")).click()
    violations |= _axe_at_both_widths(page, "closure-delete")
    page.get_by_role("link", name="Keep it").click()

    # Staff: a front desk member, invited by email.
    page.goto("/setup/staff/")
    page.get_by_label("Username").fill("fran")
    page.get_by_label("First name").fill("Fran")
    page.get_by_label("Last name").fill("Desk")
    page.get_by_label("Email").fill("fran@elm.test")
    page.get_by_label("Role", exact=True).select_option("front_desk")
    page.get_by_role("button", name="Add and send the invitation").click()
    expect(page.get_by_role("status")).to_contain_text("Fran Desk is added")
    assert mail.outbox[-1].to == ["fran@elm.test"]
    assert StaffMembership.objects.get(clinic=clinic, user__username="fran").role == "front_desk"
    violations |= _axe_at_both_widths(page, "staff")

    # Reminder policy: day-before at 18:00, previewed, then saved.
    page.get_by_role("link", name="Reminders").click()
    violations |= _axe_at_both_widths(page, "reminders")
    page.get_by_label("Day-before reminder at").fill("18:00")
    page.get_by_role("button", name="Preview these settings").click()
    expect(page.get_by_role("heading", name=re.compile("not saved"))).to_be_visible()
    expect(page.locator("table").first).to_contain_text("18:00")
    page.get_by_role("button", name="Save the policy").click()
    expect(page.get_by_role("status")).to_contain_text("reminder policy is saved")
    assert ReminderPolicy.objects.get(clinic=clinic).day_before_at == dt.time(18)

    assert violations == {}
