"""The one range every date and time a request carries must fall in (issue 15, item 6).

Python's calendar ends at 9999-12-31 and begins at 0001-01-01: a closure dated on the
last day made every page that asks for "the day after" (its affected sessions, the
rebook, the closures list) fail with a 500, and so did a board, an availability or a
course asked for on such a day. Every date field of the API (serializers, query
parameters, filters) and of the pages (forms) is one of the fields below, so a date
outside the range is a 400 naming the field, before any arithmetic runs.

The range is wide on purpose: 1900 takes every living patient's date of birth, 2099
any schedule, authorization or report. Each use keeps its own clinical rule on top,
in its service (a course starts within a year of today, a score is dated on a day that
has been, a closure is not in the past): this range only keeps the calendar's ends out.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django_filters import rest_framework as rest_filters
from rest_framework import serializers

EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2099, 12, 31)
OUT_OF_RANGE = f"Choose a date between {EARLIEST_DATE:%d %B %Y} and {LATEST_DATE:%d %B %Y}."


def validate_date_in_range(value: dt.date | dt.datetime) -> None:
    day = value.date() if isinstance(value, dt.datetime) else value
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise ValidationError(OUT_OF_RANGE, code="out_of_range")


class _Bounded:
    """Adds the range check to a field's validators (DRF and Django forms alike)."""

    validators: list[Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if validate_date_in_range not in self.validators:  # a model field's may carry it
            self.validators = [*self.validators, validate_date_in_range]


class DateField(_Bounded, serializers.DateField):
    pass


class DateTimeField(_Bounded, serializers.DateTimeField):
    pass


class _InCurrentZone:
    """An aware time read by a form field in the current time zone, as DRF's fields
    read one: a form keeps the offset it was given, and PostgreSQL refuses offsets
    beyond ±15:59 (a 500 for ``+23:42``, which ISO 8601 and Python allow). A time
    without an offset is already in the current zone; this leaves it as it is."""

    def to_python(self, value: Any) -> Any:
        result = super().to_python(value)  # type: ignore[misc]
        if isinstance(result, dt.datetime) and result.utcoffset() is not None:
            result = result.astimezone(timezone.get_current_timezone())
        return result


class DateFormField(_Bounded, forms.DateField):
    pass


class DateTimeFormField(_InCurrentZone, _Bounded, forms.DateTimeField):
    pass


class IsoDateTimeFormField(_InCurrentZone, _Bounded, django_filters.fields.IsoDateTimeField):
    pass


class DateFilter(django_filters.DateFilter):
    field_class = DateFormField


class DateTimeFilter(django_filters.DateTimeFilter):
    field_class = DateTimeFormField


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = IsoDateTimeFormField


# What a ModelSerializer or a FilterSet builds for a model's date columns.
SERIALIZER_FIELDS: dict[type[models.Field[Any, Any]], type[serializers.Field]] = {
    models.DateField: DateField,
    models.DateTimeField: DateTimeField,
}


class BoundedModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        **SERIALIZER_FIELDS,
    }


class BoundedFilterSet(rest_filters.FilterSet):
    FILTER_DEFAULTS = {
        **rest_filters.FilterSet.FILTER_DEFAULTS,
        models.DateField: {"filter_class": DateFilter},
        models.DateTimeField: {"filter_class": DateTimeFilter},
    }
