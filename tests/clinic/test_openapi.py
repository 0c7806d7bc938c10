from __future__ import annotations

from typing import Any

from django.core.management import call_command


def test_schema_is_valid_without_warnings(db: None, tmp_path: Any) -> None:
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))


def test_schema_documents_auth_and_errors(client: Any, db: None) -> None:
    schema = client.get("/api/schema/?format=json").json()
    assert schema["components"]["securitySchemes"]["tokenAuth"] == {
        "type": "http",
        "scheme": "bearer",
    }
    patient = schema["paths"]["/api/v1/patients/{id}/"]
    assert {"200", "400", "401", "403", "404", "409"} <= set(patient["patch"]["responses"])
    assert {"200", "401", "403", "404"} <= set(patient["get"]["responses"])
    token = schema["paths"]["/api/v1/auth/token/"]["post"]
    assert {"200", "400", "401", "403", "429"} == set(token["responses"])
    # Nobody sets another person's password (issue 15, item 1).
    staff = schema["components"]["schemas"]["StaffRequest"]
    assert "password" not in staff["properties"]
    assert "password" not in schema["components"]["schemas"]["Staff"]["properties"]


def test_docs_page_loads(client: Any, db: None) -> None:
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
    # Assets come from the app, never a CDN (staff machines may be offline).
    assert b"cdn." not in response.content and b"/static/" in response.content
