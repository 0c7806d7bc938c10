"""OpenAPI generation: every operation documents the errors it can answer with."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema

from clinic.api_common import VALIDATION_ERROR_SCHEMA, ConflictSerializer, ErrorSerializer


class CadenceAutoSchema(AutoSchema):
    write_methods = {"POST", "PUT", "PATCH", "DELETE"}

    def get_tags(self) -> list[str]:
        # /api/v1/<resource>/... -> "<resource>", so docs group by resource.
        parts = [part for part in self.path.split("/") if part and not part.startswith("{")]
        return [parts[2] if len(parts) > 2 and parts[:2] == ["api", "v1"] else parts[-1]]

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)

        def add(code: str, body: Any, description: str) -> None:
            if code not in responses:
                response = self._get_response_for_code(body, code, direction=direction)
                response["description"] = description
                responses[code] = response

        if self.method in self.write_methods or self.get_filter_backends():
            add("400", VALIDATION_ERROR_SCHEMA, "Invalid request.")
        if self.get_auth():
            add("401", ErrorSerializer, "Missing, invalid or expired credentials.")
            add("403", ErrorSerializer, "Your role may not do this.")
        if "{" in self.path:
            add("404", ErrorSerializer, "Not found, or not in your clinics.")
        if self.method in self.write_methods and getattr(self.view, "schema_conflicts", True):
            add("409", ConflictSerializer, "Conflicts with the current state.")
        if self.view.get_throttles():  # per method (the token view throttles POST only)
            add("429", ErrorSerializer, "Too many attempts; retry later.")
        return responses
