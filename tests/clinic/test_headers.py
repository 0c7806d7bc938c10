"""Response headers (issue 15, item 9): the Content-Security-Policy on every page,
``Cache-Control: no-store`` on every answer that may carry patient data, and the API
schema and docs behind a login when API_DOCS_REQUIRE_LOGIN says so. The patient link
pages' headers are tested with them (tests/notifications/test_patient_links.py); that
the pages really run under the policy, in Chromium
(tests/browser/test_content_security_policy.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from clinic.models import Role
from tests.factories import PatientFactory

ROOT = Path(__file__).resolve().parent.parent.parent
APPS = ("clinic", "courses", "scheduling", "notifications")


def _policy(response: Any) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {
        name: value.strip()
        for name, _, value in (part.strip().partition(" ") for part in header.split(";"))
    }


def _no_store(response: Any) -> bool:
    cache_control = {part.strip() for part in response.get("Cache-Control", "").split(",")}
    return {"no-store", "private"} <= cache_control


# --- Content-Security-Policy ----------------------------------------------------------


def test_every_page_has_the_policy(client: Client, staff: Callable[..., Any]) -> None:
    expected = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    assert _policy(client.get("/accounts/login/")) == expected
    client.force_login(staff(Role.FRONT_DESK))
    for path in ("/board/", "/patients/", "/no-such-page/"):
        assert _policy(client.get(path)) == expected, path


def test_only_the_api_docs_relax_styles_and_images(client: Client, db: None) -> None:
    """Swagger UI: drf-spectacular's template has a <style> block and Swagger UI's
    stylesheet data: images. Scripts stay 'self' (its start-up script is a file)."""
    docs = client.get("/api/docs/")
    policy = _policy(docs)
    assert policy["style-src"] == "'self' 'unsafe-inline'"
    assert policy["img-src"] == "'self' data:"
    assert policy["script-src"] == "'self'"
    assert b"<script>" not in docs.content and b"/api/docs/?script=" in docs.content
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and script["Content-Type"] == "application/javascript"


_INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|hx-on|javascript:",
    re.IGNORECASE,
)

_MARKUP_STRING = re.compile(r"""["'][^"']*(<[a-z]|\sstyle=|\son[a-z]+=)""", re.IGNORECASE)
_TEMPLATE_COMMENT = re.compile(r"{#.*?#}")


def test_no_template_or_module_writes_inline_script_or_style() -> None:
    """What the policy would refuse, found before a browser does: inline <script> and
    <style>, style="" attributes, on...= handlers, hx-on, javascript: links."""
    found = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*")):
            if path.suffix not in {".html", ".py"} or "migrations" in path.parts:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if path.suffix == ".py":
                    if line.lstrip().startswith("#"):
                        continue
                    # Python: markup in a string ('<svg ... style="..."'), not prose.
                    if not _MARKUP_STRING.search(line):
                        continue
                else:
                    line = _TEMPLATE_COMMENT.sub("", line)
                if _INLINE.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == []


def test_the_scan_finds_what_it_looks_for() -> None:
    for markup in (
        "<script>alert(1)</script>",
        '<div style="color: red">',
        "<style>p {}</style>",
        '<button onclick="go()">',
        '<a href="javascript:go()">',
        '<div hx-on:click="go()">',
    ):
        assert _INLINE.search(markup), markup
    assert not _INLINE.search('<script src="/static/x.js" defer></script>')
    assert _MARKUP_STRING.search("""        ' style="max-width:100%">'""")
    assert not _MARKUP_STRING.search("rather than an inline ``<script>``, so")


# --- Cache-Control: no-store -------------------------------------------------------------


def test_api_answers_are_not_stored(
    api: Callable[[Any], APIClient], staff: Callable[..., Any], clinic: Any
) -> None:
    patient = PatientFactory(clinic=clinic)
    client = api(staff(Role.FRONT_DESK))
    for path in ("/api/v1/patients/", f"/api/v1/patients/{patient.pk}/", "/api/v1/sessions/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert _no_store(response), path
    # A refusal to a request with a token is no different.
    refused = api(staff(Role.FRONT_DESK)).get("/api/v1/audit-events/")
    assert refused.status_code == 403 and _no_store(refused)


def test_pages_and_exports_are_not_stored(
    client: Client, staff: Callable[..., Any], clinic: Any
) -> None:
    patient = PatientFactory(clinic=clinic)
    client.force_login(staff(Role.CLINIC_ADMIN))
    for path in (
        "/board/",
        "/patients/",
        f"/patients/{patient.pk}/",
        "/reports/outcomes/",
        "/reports/outcomes.csv",
        "/audit/events.csv",
        "/api/v1/patients/",  # the API with the session, as the browsable API would
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert _no_store(response), path
        assert "max-age=0" in response["Cache-Control"], path


def test_the_rule_is_the_credentials_not_the_view(client: Client, db: None) -> None:
    """Anything asked with a session cookie or a token is no-store, whatever it is;
    an anonymous request for a public page may be cached, and static files never get
    the header (WhiteNoise serves them above the middleware; the prefix is skipped too)."""
    assert not _no_store(client.get("/healthz/"))
    client.cookies["sessionid"] = "whatever"
    assert _no_store(client.get("/healthz/"))
    assert not _no_store(client.get("/static/clinic/cadence.css"))
    assert _no_store(Client(HTTP_AUTHORIZATION="Bearer nonsense").get("/healthz/"))


# --- /api/schema/ and /api/docs/ behind a login ----------------------------------------


def test_schema_and_docs_are_open_by_default(client: Client, db: None) -> None:
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200


@pytest.fixture
def docs_need_login(settings: Any) -> None:
    settings.API_DOCS_REQUIRE_LOGIN = True


@pytest.mark.usefixtures("docs_need_login")
def test_with_the_setting_anonymous_visitors_get_neither(client: Client, db: None) -> None:
    schema = client.get("/api/schema/")
    assert schema.status_code == 401
    assert b"not_authenticated" in schema.content
    for path in ("/api/docs/", "/api/docs/?script="):
        docs = client.get(path)
        assert docs.status_code == 302, path
        assert docs["Location"].startswith("/accounts/login/?next=/api/docs/"), path


@pytest.mark.usefixtures("docs_need_login")
def test_with_the_setting_a_logged_in_person_gets_both(
    client: Client, api: Callable[[Any], APIClient], staff: Callable[..., Any]
) -> None:
    person = staff(Role.TECHNICIAN)
    assert api(person).get("/api/schema/").status_code == 200  # a token is a login too
    client.force_login(person)
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200
    assert client.get("/api/docs/?script=").status_code == 200


def test_the_docker_example_keeps_the_docs_behind_a_login() -> None:
    lines = (ROOT / "docker" / "cadence.env.example").read_text().splitlines()
    assert "API_DOCS_REQUIRE_LOGIN=true" in lines
