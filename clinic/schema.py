"""OpenAPI generation: every operation documents the errors it can answer with."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema

from clinic.api_common import VALIDATION_ERROR_SCHEMA, ConflictSerializer, ErrorSerializer


class CadenceAutoSchema(AutoSchema):
    """Adds the error responses every endpoint can give to the generated schema."""

    conflict_methods = {"POST", "PUT", "PATCH", "DELETE"}

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)

        def add(code: str, body: Any, description: str) -> None:
            if code not in responses:
                response = self._get_response_for_code(body, code, direction=direction)
                response["description"] = description
                responses[code] = response

        add("400", VALIDATION_ERROR_SCHEMA, "Invalid request.")
        if self.view.get_authenticators() and self.get_auth():
            add("401", ErrorSerializer, "Missing, invalid or expired credentials.")
            add("403", ErrorSerializer, "Your role may not do this.")
        if "{" in self.path or self.method in self.conflict_methods:
            add("404", ErrorSerializer, "Not found, or not in your clinics.")
        if self.method in self.conflict_methods:
            add("409", ConflictSerializer, "Conflicts with the current state.")
        return responses
