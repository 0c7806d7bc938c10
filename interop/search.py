"""Search parameters and searchset Bundles.

Only the parameters a resource type lists (interop/types.py, and the CapabilityStatement
written from it) are accepted; any other is refused with 400 rather than ignored, so a
client never mistakes an unfiltered answer for a filtered one. ``date`` takes the
prefixes eq (the default), ge, le, gt and lt, and either a day (YYYY-MM-DD: the day on
the clinic's own wall clock) or an instant with its offset; each value is checked
against the bounds of clinic/dates.py.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q
from rest_framework import serializers

from clinic import dates
from clinic.models import Clinic
from interop.errors import bad_parameter

DEFAULT_COUNT = 50
MAX_COUNT = 500
RESULT_PARAMETERS = ("_count", "page", "_format")
JSON_FORMATS = ("json", "application/json", "application/fhir+json")
PREFIXES = ("eq", "ge", "le", "gt", "lt")
_OFFSET = re.compile(r"(Z|[+-]\d\d:\d\d)$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class DateBound:
    prefix: str
    day: dt.date | None = None  # a whole day on the clinic's wall clock
    at: dt.datetime | None = None  # an instant


def _positive_int(params: Mapping[str, list[str]], name: str, default: int, most: int) -> int:
    values = params.get(name)
    if not values:
        return default
    try:
        number = int(values[-1])
    except ValueError:
        raise bad_parameter("invalid_parameter", f"{name} must be a whole number.") from None
    if not 1 <= number <= most:
        raise bad_parameter("invalid_parameter", f"{name} must be between 1 and {most}.")
    return number


@dataclass(frozen=True)
class Paging:
    count: int
    page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.count


def parse(params: Mapping[str, list[str]], accepted: Iterable[str]) -> Paging:
    """Refuse unknown parameters; the paging asked for."""
    allowed = set(accepted) | set(RESULT_PARAMETERS)
    unknown = sorted(name for name in params if name not in allowed)
    if unknown:
        raise bad_parameter(
            "unknown_parameter",
            f"Not a supported search parameter here: {', '.join(unknown)}. "
            "GET /fhir/R4/metadata lists them.",
        )
    for value in params.get("_format", []):
        if value not in JSON_FORMATS:
            raise bad_parameter("unsupported_format", "Only JSON is served (_format=json).")
    count = _positive_int(params, "_count", DEFAULT_COUNT, MAX_COUNT)
    # A page past the last is empty; a page past what any search can have is refused.
    page = _positive_int(params, "page", 1, 10_000_000)
    return Paging(count, page)


def parse_everything(params: Mapping[str, list[str]]) -> None:
    """$everything answers the whole record in one Bundle: no paging, no filters."""
    parse({name: values for name, values in params.items() if name == "_format"}, ())
    extra = sorted(name for name in params if name != "_format")
    if extra:
        raise bad_parameter(
            "unknown_parameter",
            f"$everything takes no parameters but _format; got {', '.join(extra)}.",
        )


def reference_id(value: str, resource_type: str) -> int:
    """``123`` or ``Patient/123`` -> 123."""
    raw = value.removeprefix(f"{resource_type}/")
    if not raw.isdigit() or len(raw) > 18:
        raise bad_parameter("invalid_reference", f"Expected {resource_type}/<id>; got {value!r}.")
    return int(raw)


def date_bound(value: str) -> DateBound:
    prefix = value[:2] if value[:2] in PREFIXES else "eq"
    raw = value[2:] if value[:2] in PREFIXES else value
    try:
        if _DAY.match(raw):
            return DateBound(prefix, day=dates.DateField().run_validation(raw))
        if "T" in raw and _OFFSET.search(raw):
            return DateBound(prefix, at=dates.DateTimeField().run_validation(raw))
    except serializers.ValidationError as error:
        found = error.get_codes()
        code = "out_of_range" if isinstance(found, list) and "out_of_range" in found else ""
        detail = error.detail
        message = detail[0] if isinstance(detail, list) and detail else "Not a date."
        raise bad_parameter(code or "invalid_date", f"date={value}: {message}") from None
    raise bad_parameter(
        "invalid_date",
        f"date={value}: use [eq|ge|le|gt|lt]YYYY-MM-DD, or a date and time with its offset.",
    )


def _midnight(day: dt.date, tz: Any) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=tz)


def _instant_condition(field: str, bound: DateBound, clinic: Clinic | None) -> Q:
    if bound.at is not None:
        at = bound.at
        ops = {
            "eq": Q(**{f"{field}__gte": at, f"{field}__lt": at + dt.timedelta(seconds=1)}),
            "ge": Q(**{f"{field}__gte": at}),
            "gt": Q(**{f"{field}__gt": at}),
            "le": Q(**{f"{field}__lte": at}),
            "lt": Q(**{f"{field}__lt": at}),
        }
        return ops[bound.prefix]
    if bound.day is None or clinic is None:
        raise ValueError("A day is read on a clinic's wall clock.")
    start = _midnight(bound.day, clinic.tz)
    # The next day's midnight in the clinic's zone: 23 or 25 hours later across DST.
    end = _midnight(bound.day + dt.timedelta(days=1), clinic.tz)
    ops = {
        "eq": Q(**{f"{field}__gte": start, f"{field}__lt": end}),
        "ge": Q(**{f"{field}__gte": start}),
        "gt": Q(**{f"{field}__gte": end}),
        "le": Q(**{f"{field}__lt": end}),
        "lt": Q(**{f"{field}__lt": start}),
    }
    return ops[bound.prefix]


def instant_filter(
    field: str, clinic_field: str, bounds: list[DateBound], clinics: list[Clinic]
) -> Q:
    """Rows whose ``field`` (a datetime) meets every bound; a day is read on the wall
    clock of the row's own clinic."""
    condition = Q()
    for bound in bounds:
        if bound.at is not None:
            condition &= _instant_condition(field, bound, None)
        else:
            per_clinic = Q(pk__in=[])
            for clinic in clinics:
                per_clinic |= Q(**{clinic_field: clinic.pk}) & _instant_condition(
                    field, bound, clinic
                )
            condition &= per_clinic
    return condition


DAY_LOOKUPS = {"eq": "", "ge": "__gte", "gt": "__gt", "le": "__lte", "lt": "__lt"}


def day_filter(field: str, bounds: list[DateBound]) -> Q:
    """Rows whose ``field`` (a date) meets every bound; an instant counts by its UTC day."""
    condition = Q()
    for bound in bounds:
        day = bound.at.date() if bound.at is not None else bound.day
        condition &= Q(**{f"{field}{DAY_LOOKUPS[bound.prefix]}": day})
    return condition


def link(base_url: str, params: Mapping[str, list[str]], **changes: int) -> str:
    query = {name: values for name, values in params.items() if name not in changes}
    query.update({name: [str(value)] for name, value in changes.items()})
    encoded = urlencode(query, doseq=True)
    return f"{base_url}?{encoded}" if encoded else base_url


def searchset(
    entries: list[dict[str, Any]],
    *,
    total: int,
    base_url: str,
    params: Mapping[str, list[str]],
    paging: Paging | None,
) -> dict[str, Any]:
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "total": total}
    if paging is not None:
        links = [
            {
                "relation": "self",
                "url": link(base_url, params, _count=paging.count, page=paging.page),
            }
        ]
        if paging.offset + paging.count < total:
            links.append(
                {
                    "relation": "next",
                    "url": link(base_url, params, _count=paging.count, page=paging.page + 1),
                }
            )
        if paging.page > 1:
            links.append(
                {
                    "relation": "previous",
                    "url": link(base_url, params, _count=paging.count, page=paging.page - 1),
                }
            )
        bundle["link"] = links
    else:
        bundle["link"] = [{"relation": "self", "url": link(base_url, params)}]
    if entries:
        bundle["entry"] = entries
    return bundle
