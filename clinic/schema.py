"""OpenAPI generation: every operation documents the errors it can answer with."""

from __future__ import annotations

import zoneinfo
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

from clinic.api_common import ConflictSerializer, ErrorSerializer, ValidationErrorSerializer
from clinic.serializers import ID_MAXIMUM

E164_PATTERN = r"^\+[1-9][0-9]{6,14}$"
TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"
# A calendar day of clinic.dates' range (1900-01-01 to 2099-12-31), 29 February only in
# the leap years (1900 is none, 2000 is one).
_YEAR = "(19|20)[0-9]{2}"
_DAY = (
    f"({_YEAR}-((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)"
    "|(0[13578]|1[02])-31)"
    "|(19(0[48]|[2468][048]|[13579][26])|20([02468][048]|[13579][26]))-02-29)"
)
DATE_PATTERN = f"^{_DAY}$"
# A day of that range, a time and an offset (RFC 3339, which the API reads).
DATETIME_PATTERN = (
    f"^{_DAY}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{{1,6}})?"
    "(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)


class CadenceAutoSchema(AutoSchema):
    write_methods = {"POST", "PUT", "PATCH", "DELETE"}

    def get_tags(self) -> list[str]:
        # /api/v1/<resource>/... -> "<resource>", so docs group by resource.
        parts = [part for part in self.path.split("/") if part and not part.startswith("{")]
        return [parts[2] if len(parts) > 2 and parts[:2] == ["api", "v1"] else parts[-1]]

    def _map_serializer_field(
        self, field: Any, direction: Any, bypass_extensions: bool = False
    ) -> dict[str, Any]:
        schema: dict[str, Any] = super()._map_serializer_field(field, direction, bypass_extensions)
        # A list that may not be empty (ListField or a nested many=True serializer), and
        # a nested list's bounds, which drf-spectacular leaves out.
        if direction == "request" and schema.get("type") == "array":
            if getattr(field, "allow_empty", True) is False:
                schema.setdefault("minItems", 1)
            if isinstance(field, serializers.ListSerializer):
                # Attributes the stubs do not know (DRF 3.15 added them).
                min_length = getattr(field, "min_length", None)
                max_length = getattr(field, "max_length", None)
                if min_length is not None:
                    schema["minItems"] = max(min_length, schema.get("minItems", 0))
                if max_length is not None:
                    schema.setdefault("maxItems", max_length)
        return schema

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)

        def add(code: str, body: Any, description: str) -> None:
            if code not in responses:
                response = self._get_response_for_code(body, code, direction=direction)
                response["description"] = description
                responses[code] = response

        paginated = self._is_list_view() and self._get_paginator() is not None
        takes_query = any(parameter["in"] == "query" for parameter in self._get_parameters())
        if self.method in self.write_methods or self.get_filter_backends() or takes_query:
            add("400", ValidationErrorSerializer, "Invalid request: see `errors`.")
        if self.get_auth():
            add("401", ErrorSerializer, "Missing, invalid or expired credentials.")
            add("403", ErrorSerializer, "Your role may not do this.")
        if "{" in self.path:
            add("404", ErrorSerializer, "Not found, or not in your clinics.")
        elif paginated:
            add("404", ErrorSerializer, "A page past the last one (`not_found`).")
        if self.method in self.write_methods and getattr(self.view, "schema_conflicts", True):
            add("409", ConflictSerializer, "Conflicts with the current state.")
        if self.view.get_throttles():  # per method (the token view throttles POST only)
            add("429", ErrorSerializer, "Too many attempts; retry later.")
        return responses


class StaffRoleFieldExtension(OpenApiSerializerFieldExtension):
    """A staff member's role is null in answers when they have no role in a clinic the
    caller sees (a superuser has none); a request still names one of the roles."""

    target_class = "clinic.serializers.StaffRoleField"

    def map_serializer_field(self, auto_schema: AutoSchema, direction: Any) -> Any:
        field = self.target
        shown = serializers.ChoiceField(
            choices=list(field.choices.items()),
            allow_null=direction == "response",
            help_text=field.help_text,
        )
        shown.field_name = field.field_name
        return auto_schema._map_serializer_field(shown, direction)


class TimezoneFieldExtension(OpenApiSerializerFieldExtension):
    """The IANA zones the field accepts (clinic.models.validate_timezone), as an enum."""

    target_class = "clinic.serializers.TimezoneField"

    def map_serializer_field(self, auto_schema: AutoSchema, direction: Any) -> Any:
        return {"type": "string", "enum": sorted(zoneinfo.available_timezones())}


class PhoneFieldExtension(OpenApiSerializerFieldExtension):
    """E.164 in answers; requests may use any common format, E.164 is the documented one."""

    target_class = "clinic.serializers.PhoneField"

    def map_serializer_field(self, auto_schema: AutoSchema, direction: Any) -> Any:
        e164 = {"type": "string", "pattern": E164_PATTERN, "example": "+12125550123"}
        if self.target.allow_blank:
            return {"oneOf": [e164, {"type": "string", "maxLength": 0}]}
        return e164


class TimeFieldExtension(OpenApiSerializerFieldExtension):
    """A time of day as the API writes it ("08:00") and reads it (seconds optional):
    OpenAPI's `format: time` is RFC 3339's full time, with seconds and a zone offset."""

    target_class = "rest_framework.fields.TimeField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema: AutoSchema, direction: Any) -> Any:
        return {"type": "string", "pattern": TIME_PATTERN, "example": "08:00"}


class BoundedDateFieldExtension(OpenApiSerializerFieldExtension):
    """A date a request carries is within clinic.dates' range (a 400 otherwise): the
    pattern says so, as JSON Schema has no minimum for a date."""

    target_class = "clinic.dates.DateField"
    match_subclasses = True
    pattern = DATE_PATTERN

    def map_serializer_field(self, auto_schema: AutoSchema, direction: Any) -> Any:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if direction == "request":
            schema["pattern"] = self.pattern
        return schema


class BoundedDateTimeFieldExtension(BoundedDateFieldExtension):
    target_class = "clinic.dates.DateTimeField"
    pattern = DATETIME_PATTERN


class PrimaryKeyFieldExtension(OpenApiSerializerFieldExtension):
    """An object named by its id: a positive bigint (the parser refuses longer numbers)."""

    target_class = "rest_framework.relations.PrimaryKeyRelatedField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema: AutoSchema, direction: Any) -> Any:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if direction == "request" and schema.get("type") == "integer":
            schema.update(minimum=1, maximum=ID_MAXIMUM)
        return schema


def bound_query_dates(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """The date and date-time query parameters (clinic.dates' filters, the only kind the
    API has) carry the range's pattern too (a drf-spectacular postprocessing hook)."""
    patterns = {"date": DATE_PATTERN, "date-time": DATETIME_PATTERN}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if parameter.get("in") == "query" and schema.get("format") in patterns:
                    schema.setdefault("pattern", patterns[schema["format"]])
    return result
