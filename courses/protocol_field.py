"""A protocol named by its code (or id) in the API, among those the user may see."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from courses import selectors
from courses.models import Protocol


@extend_schema_field(
    {
        "type": "string",
        # A protocol's code (a SlugField of 40); an empty one is "no protocol" (400).
        "minLength": 1,
        "maxLength": 40,
        "pattern": "^[-a-zA-Z0-9_]+$",
        "description": "Protocol code; an integer id is accepted on write.",
    }
)
class ProtocolField(serializers.RelatedField):
    """Accepts a protocol's code (or id) visible to the user; returns the code."""

    default_error_messages = {
        "does_not_exist": "No protocol with code {value} is available.",
    }

    def get_queryset(self) -> QuerySet[Protocol]:
        return selectors.protocols_visible(self.context["request"].user)

    def to_representation(self, value: Any) -> str:
        return str(value.code)

    def to_internal_value(self, data: Any) -> Protocol:
        queryset = self.get_queryset()
        if isinstance(data, int) and not isinstance(data, bool):
            match = queryset.filter(pk=data)
        elif isinstance(data, str):
            match = queryset.filter(code=data)
        else:
            self.fail("does_not_exist", value=data)
        protocol = match.first()
        if protocol is None:
            self.fail("does_not_exist", value=data)
        return protocol
