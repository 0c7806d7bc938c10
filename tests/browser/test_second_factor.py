"""The second factor in Chromium: a psychiatrist's first login sets it up (the QR code,
the code, the recovery codes), the next asks for the code; axe-core on each page."""

from __future__ import annotations

from typing import Any

from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page

from clinic.models import Role
from tests.browser.conftest import PASSWORD, axe_violations, screenshot
from tests.second_factor import code_of


def _password(page: Page, user: Any) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def test_first_login_sets_up_the_second_factor_and_the_next_asks_for_it(
    page: Page, staff: Any
) -> None:
    user = staff(Role.PSYCHIATRIST)
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    _password(page, user)
    assert "/accounts/mfa/setup/" in page.url
    assert page.get_by_role("img", name="QR code of the secret key").is_visible()
    assert axe_violations(page) == []
    screenshot(page, "mfa-setup")

    device = TOTPDevice.objects.get(user=user, confirmed=False)
    page.get_by_label("Code", exact=True).fill(code_of(device))
    page.get_by_role("button", name="Confirm").click()
    assert page.locator("h1").inner_text() == "Your recovery codes"
    assert page.locator(".recovery-codes li").count() == 10
    assert axe_violations(page) == []
    page.get_by_role("link", name="I have kept them: continue").click()
    assert "/accounts/mfa/" not in page.url

    page.goto("/accounts/mfa/")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Log out").click()

    _password(page, user)
    assert "/accounts/mfa/verify/" in page.url
    assert axe_violations(page) == []
    page.get_by_label("Code", exact=True).fill("00000000")
    page.get_by_role("button", name="Continue").click()
    assert page.get_by_role("alert").inner_text().startswith("That code is not right")
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=None, last_t=-1)
    page.get_by_label("Code", exact=True).fill(code_of(device))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(lambda url: "/accounts/mfa/" not in url)
    assert page.get_by_role("link", name="My courses").is_visible()
