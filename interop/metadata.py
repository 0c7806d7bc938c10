"""The CapabilityStatement: written from interop/types.py, so it lists exactly the
resource types, interactions, search parameters and the one operation served."""

from __future__ import annotations

from typing import Any

from interop.types import TYPES

FHIR_VERSION = "4.0.1"
# The date this statement last changed (a CapabilityStatement's date is required).
STATEMENT_DATE = "2026-12-03"
EVERYTHING = "http://hl7.org/fhir/OperationDefinition/Patient-everything"


def capability_statement(base_url: str) -> dict[str, Any]:
    described = []
    for spec in TYPES.values():
        entry: dict[str, Any] = {
            "type": spec.name,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "versioning": "no-version",
            "readHistory": False,
            "updateCreate": False,
        }
        if spec.params:
            entry["searchParam"] = [
                {"name": param.name, "type": param.type, "documentation": param.documentation}
                for param, _ in spec.params.values()
            ]
        if spec.name == "Patient":
            entry["operation"] = [{"name": "everything", "definition": EVERYTHING}]
        described.append(entry)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": STATEMENT_DATE,
        "publisher": "Cadence",
        "kind": "instance",
        "software": {"name": "Cadence"},
        "implementation": {
            "description": "Cadence FHIR R4 (read-only): rTMS scheduling and course records",
            "url": base_url,
        },
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    "Read-only. Every request but this statement carries "
                    "'Authorization: Bearer <token>' (a token from POST /api/v1/auth/token/); "
                    "the token's owner sees what their role in each clinic lets them see. "
                    "Searches page with _count (1-500, default 50) and follow the Bundle's "
                    "next and previous links; any other parameter than those listed is "
                    "refused with 400."
                ),
                "security": {
                    "cors": False,
                    "description": "Bearer tokens of Cadence's API (docs/security.md).",
                },
                "resource": described,
            }
        ],
    }
