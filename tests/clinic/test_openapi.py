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


def _schema(client: Any) -> dict[str, Any]:
    return dict(client.get("/api/schema/?format=json").json())


def test_request_schemas_say_what_the_api_validates(client: Any, db: None) -> None:
    components = _schema(client)["components"]["schemas"]
    session = components["SessionRequest"]["properties"]
    # Dates within clinic.dates' range, ids positive bigints (issue 18).
    assert session["starts_at"]["pattern"].startswith("^((19|20)[0-9]{2}-")
    assert session["course"] == {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
    assert components["PatientRequest"]["properties"]["date_of_birth"]["pattern"]
    # Lists that may not be empty, and the protocol's bounds the database holds.
    protocol = components["ProtocolRequest"]["properties"]
    assert (protocol["phases"]["minItems"], protocol["phases"]["maxItems"]) == (1, 8)
    assert (protocol["intensity_pct_mt"]["minimum"], protocol["intensity_pct_mt"]["maximum"]) == (
        1,
        200,
    )
    assert components["StaffRequest"]["properties"]["clinics"]["minItems"] == 1
    assert components["ChairRequest"]["properties"]["coils"]["minItems"] == 1
    # A written consent names its form and day; answers carry null for other consents.
    assert {"document", "given_on"} <= set(components["ConsentEventRequest"]["required"])
    assert components["ConsentEvent"]["properties"]["given_on"]["nullable"] is True
    # Answers carry no request-only pattern.
    assert "pattern" not in components["Session"]["properties"]["starts_at"]


def test_a_date_query_parameter_carries_the_range(client: Any, db: None) -> None:
    parameters = _schema(client)["paths"]["/api/v1/closures/"]["get"]["parameters"]
    date_from = next(p for p in parameters if p["name"] == "date_from")
    assert date_from["schema"]["pattern"].startswith("^((19|20)")


def test_detail_actions_answering_a_list_are_not_paginated(client: Any, db: None) -> None:
    paths = _schema(client)["paths"]
    for path, method in [
        ("/api/v1/courses/{id}/adverse-events/", "get"),
        ("/api/v1/courses/{id}/authorizations/", "get"),
        ("/api/v1/closures/{id}/affected-sessions/", "get"),
        ("/api/v1/closures/{id}/rebook/", "post"),
    ]:
        body = paths[path][method]["responses"]["200"]["content"]["application/json"]
        assert body["schema"]["type"] == "array", path


def test_links_hand_ids_to_the_next_request(client: Any, db: None) -> None:
    paths = _schema(client)["paths"]
    created = paths["/api/v1/patients/"]["post"]["responses"]["201"]["links"]
    assert created["v1_patients_retrieve"]["parameters"] == {"id": "$response.body#/id"}
    assert created["v1_courses_create"]["requestBody"] == {"patient": "$response.body#/id"}
    listed = paths["/api/v1/clinics/"]["get"]["responses"]["200"]["links"]
    assert listed["v1_patients_create"]["requestBody"] == {"clinic": "$response.body#/results/0/id"}
    assert listed["v1_staff_create"]["requestBody"] == {"clinics": ["$response.body#/results/0/id"]}
    protocols = paths["/api/v1/protocols/"]["post"]["responses"]["201"]["links"]
    assert protocols["v1_courses_create"]["requestBody"] == {"protocol": "$response.body#/code"}
