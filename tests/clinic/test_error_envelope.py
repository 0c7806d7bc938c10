"""One envelope for every 400 (issue 18, part 1): ``code`` is always a string, the
fields' messages are under ``errors``, and the OpenAPI schema documents exactly that,
the pages' 400 and 404 answers included (docs/api-errors.md)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.db import IntegrityError

from clinic.api_common import exception_handler, summary
from clinic.models import Role
from tests.factories import PatientFactory


@pytest.fixture
def admin_client(staff: Any, api: Any) -> Any:
    return api(staff(Role.CLINIC_ADMIN))


def test_a_field_called_code_stays_inside_errors(admin_client: Any, clinic: Any) -> None:
    response = admin_client.post("/api/v1/protocols/", {"clinic": clinic.pk}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "detail", "errors"}
    assert body["code"] == "invalid"
    assert body["errors"]["code"] == ["This field is required."]
    assert "code: This field is required." in body["detail"]


def test_nested_errors_keep_their_nesting(admin_client: Any, clinic: Any) -> None:
    phases = [{"sessions": 20, "per_week": 5}, {"sessions": 5}]
    response = admin_client.post(
        "/api/v1/protocols/", {"clinic": clinic.pk, "phases": phases}, format="json"
    )
    assert response.json()["errors"]["phases"] == {"1": {"per_week": ["This field is required."]}}


def test_a_unique_constraint_keeps_its_code_and_names_the_field() -> None:
    """A concurrent writer won the race past the service's check: the database's
    constraint refuses, and the answer names the field with the constraint's code."""
    cause = Exception("the driver's error")
    cause.diag = SimpleNamespace(constraint_name="patient_mrn_unique_in_clinic")  # type: ignore[attr-defined]
    refused = IntegrityError("duplicate key value violates unique constraint")
    refused.__cause__ = cause
    response = exception_handler(refused, {})
    assert response is not None and response.status_code == 400
    message = "A patient with this MRN already exists in this clinic."
    assert response.data == {
        "code": "duplicate_mrn",
        "detail": f"mrn: {message}",
        "errors": {"mrn": [message]},
    }


def test_a_malformed_body_has_the_envelope_with_no_field_errors(admin_client: Any) -> None:
    response = admin_client.generic(
        "POST", "/api/v1/chairs/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "code": "parse_error",
        "detail": response.json()["detail"],
        "errors": {},
    }


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1.5", "٣"])
def test_a_page_that_is_not_a_positive_number_is_a_400(admin_client: Any, page: str) -> None:
    response = admin_client.get("/api/v1/chairs/", {"page": page})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_page"
    assert list(response.json()["errors"]) == ["page"]


def test_a_page_past_the_last_is_a_404(admin_client: Any, clinic: Any) -> None:
    PatientFactory(clinic=clinic)
    assert admin_client.get("/api/v1/patients/", {"page": "1"}).status_code == 200
    assert admin_client.get("/api/v1/patients/", {"page": "last"}).status_code == 200
    response = admin_client.get("/api/v1/patients/", {"page": "2"})
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "Invalid page."}


def test_the_summary_names_the_fields_and_counts_the_rest() -> None:
    errors = {
        "name": ["Required."],
        "phases": {"0": {"per_week": ["Required."]}},
        "non_field_errors": ["Send starts_at, chair or both."],
        "a": ["One."],
        "b": ["Two."],
    }
    assert summary(errors) == (
        "name: Required. phases.0.per_week: Required. Send starts_at, chair or both. (and 2 more)"
    )
    assert summary({}) == "Invalid input."


def test_the_schema_documents_the_envelope_and_the_pages(client: Any, db: None) -> None:
    schema = client.get("/api/schema/?format=json").json()
    envelope = schema["components"]["schemas"]["ValidationError"]
    assert envelope["required"] == ["code", "detail", "errors"]
    assert envelope["properties"]["code"]["type"] == "string"
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if "400" in responses:
                body = responses["400"]["content"]["application/json"]["schema"]
                assert body == {"$ref": "#/components/schemas/ValidationError"}, (method, path)
            if method == "get" and any(
                p["name"] == "page" for p in operation.get("parameters", [])
            ):
                assert {"400", "404"} <= set(responses), path
    for path in ("/api/v1/availability/", "/api/v1/board/"):
        assert "400" in schema["paths"][path]["get"]["responses"]


def test_the_schema_says_a_staff_role_may_be_null_in_answers(client: Any, db: None) -> None:
    components = client.get("/api/schema/?format=json").json()["components"]["schemas"]
    assert components["Staff"]["properties"]["role"]["nullable"] is True
    assert "nullable" not in components["StaffRequest"]["properties"]["role"]


def test_the_schema_links_a_create_to_the_operations_on_what_it_made(client: Any, db: None) -> None:
    paths = client.get("/api/schema/?format=json").json()["paths"]
    created = paths["/api/v1/chairs/"]["post"]["responses"]["201"]["links"]
    assert created["v1_chairs_retrieve"] == {
        "operationId": "v1_chairs_retrieve",
        "parameters": {"id": "$response.body#/id"},
    }
    assert {"v1_chairs_partial_update", "v1_chairs_destroy"} <= set(created)
    clinic_links = paths["/api/v1/clinics/"]["post"]["responses"]["201"]["links"]
    assert clinic_links["v1_chairs_create"]["requestBody"] == {"clinic": "$response.body#/id"}
    assert clinic_links["v1_reminder_policies_retrieve"]["parameters"] == {
        "clinic": "$response.body#/id"
    }
    listed = paths["/api/v1/sessions/"]["get"]["responses"]["200"]["links"]
    assert listed["v1_sessions_check_in_create"]["parameters"] == {
        "id": "$response.body#/results/0/id"
    }
