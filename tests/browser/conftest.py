"""Browser tests: Playwright for Python driving Debian's Chromium against pytest-django's
live server on loopback. Never a browser download: the binary is /usr/bin/chromium (the
`chromium` package; .ci/run installs it when missing) or CADENCE_CHROMIUM.

axe-core comes from the npm registry (tests/browser/package.json; scripts/test runs
`npm ci` there) and is injected into the page under test only. Screenshots go to
test-artifacts/ (ignored by git).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from clinic import mfa
from clinic.models import Role

# Chairs, a psychiatrist and cleared courses come from the scheduling tests' fixtures.
from tests.scheduling.conftest import chairs, make_course, psychiatrist  # noqa: F401
from tests.second_factor import authenticator_of, recovery_code_of

HERE = Path(__file__).resolve().parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = HERE.parent.parent / "test-artifacts"
# As scripts/ensure-chromium finds it: CADENCE_CHROMIUM, else `chromium` on PATH.
CHROMIUM = os.environ.get("CADENCE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "browser-test-pass-1"

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# to arrange data are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium is not at {CHROMIUM}: install Debian's `chromium` package "
            "(scripts/ensure-chromium does, when it can) or set CADENCE_CHROMIUM."
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, live_server: Any, settings: Any) -> Iterator[Page]:
    settings.ALLOWED_HOSTS = ["*"]
    context = browser.new_context(base_url=live_server.url, locale="en-US")
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def log_in_through_the_pages(page: Page, user: Any) -> Page:
    """Log ``user`` in through the login form (their password is set to PASSWORD), with
    the second factor when they need one."""
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    # Whoever needs a second factor gives one of their recovery codes (a TOTP code
    # works once per 30 seconds: a test logging in twice would wait).
    code = ""
    if mfa.needed(user):
        authenticator_of(user)
        code = recovery_code_of(user)
    page.context.clear_cookies()
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    if code:
        page.get_by_label("Code", exact=True).fill(code)
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url(lambda url: "/accounts/mfa/" not in url)
    return page


@pytest.fixture
def login(page: Page) -> Callable[[Any], Page]:
    """Log a user in through the login form: ``login(user)``."""

    def log_in(user: Any) -> Page:
        return log_in_through_the_pages(page, user)

    return log_in


def axe_violations(page: Page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[Any]:
    """Run axe-core in the page; the violations of the given impact levels."""
    if not AXE.exists():
        pytest.fail(f"axe-core is missing at {AXE}: run `npm ci --prefix {HERE}`.")
    # Evaluated through the browser's debugging protocol: a <script> tag (add_script_tag)
    # is inline code the site's Content-Security-Policy rightly refuses.
    page.evaluate(AXE.read_text())
    result = page.evaluate("async () => await axe.run(document)")
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "targets": [node["target"] for node in violation["nodes"]][:5],
        }
        for violation in result["violations"]
        if violation["impact"] in impacts
    ]


def screenshot(page: Page, name: str) -> Path:
    """A full-page PNG at test-artifacts/<name>.png (``name`` may name a subfolder)."""
    path = ARTIFACTS / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def front_desk(staff: Callable[..., Any]) -> Any:
    return staff(Role.FRONT_DESK)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)
