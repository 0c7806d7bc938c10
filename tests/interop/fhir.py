"""Helpers of the FHIR tests: every resource an answer holds is parsed and validated by
fhir.resources (its R4 4.0.1 models: 6.4.0 is that package's last R4 release; 6.5.0 on
moved to R4B and 7.0.0 to R5), not by a schema of ours.

The models check types, cardinality, required elements, choice types and unknown
elements, but only record the codes of a required binding (``enum_values``) without
checking them; :func:`validated` checks those too, from the models' own metadata."""

from __future__ import annotations

from typing import Any

import fhir.resources
from fhir.resources import construct_fhir_element
from fhir.resources.core.fhirabstractmodel import FHIRAbstractModel

FHIR_JSON = "application/fhir+json"
assert fhir.resources.__fhir_version__ == "4.0.1"


# Where the models' enum_values are not a value set: CapabilityStatement.format is bound
# to every MIME type (BCP 13), and the models list the words of its definition instead.
NOT_A_VALUE_SET = {("CapabilityStatement", "format")}


def _codes_bound(model: FHIRAbstractModel, path: str) -> list[str]:
    """Every code of ``model`` outside its required binding's value set."""
    wrong = []
    for name, field in model.__fields__.items():
        value = getattr(model, name)
        allowed = field.field_info.extra.get("enum_values")
        if (type(model).__name__, name) in NOT_A_VALUE_SET:
            allowed = None
        values = value if isinstance(value, list) else [value]
        for item in values:
            if allowed and item is not None and item not in allowed:
                wrong.append(f"{path}.{name}={item!r} (not in {allowed})")
            if isinstance(item, FHIRAbstractModel):
                wrong += _codes_bound(item, f"{path}.{name}")
    return wrong


def validated(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` after fhir.resources parsed it (and every resource of a Bundle) as R4 and
    its required bindings were checked; any error fails the test."""
    model = construct_fhir_element(body["resourceType"], body)
    assert _codes_bound(model, body["resourceType"]) == []
    return body


def fhir_json(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(FHIR_JSON)
    return validated(response.json())


def outcome_code(response: Any, status: int) -> str:
    body = fhir_json(response, status)
    assert body["resourceType"] == "OperationOutcome"
    (issue,) = body["issue"]
    return str(issue["details"]["coding"][0]["code"])


def resources_of(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [
        entry["resource"]
        for entry in bundle.get("entry", [])
        if entry["resource"]["resourceType"] == resource_type
    ]
