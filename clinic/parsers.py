"""The API's JSON parser: a malformed body is a 400 ``parse_error``, never a 500.

Python's decoder recurses once per nested ``[`` or ``{`` (100,000 of them raise
RecursionError, which DRF's parser lets through) and turns ``1e400`` into infinity,
which later overflows wherever a number is converted. So the nesting is measured
first, without recursion, and numbers must be finite and of a size a database column
can hold.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from typing import Any

from django.conf import settings
from rest_framework import renderers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

# Cadence's deepest body is a protocol's phases or a screening's trials: a few levels.
MAX_DEPTH = 32
# A bigint has 19 digits; anything longer is no count, id or dose.
MAX_INTEGER_DIGITS = 19

# A string (possessive, and its closing quote optional, so an unterminated one ends the
# scan instead of being retried from every later quote) or a bracket: one linear pass.
_TOKEN = re.compile(r'"(?:[^"\\]++|\\.)*+"?|[\[\]{}]', re.DOTALL)


class BodyRefused(ValueError):
    pass


def nesting_depth(text: str) -> int:
    """How deep brackets nest outside strings, counted without recursion."""
    depth = deepest = 0
    for match in _TOKEN.finditer(text):
        found = match.group()
        if found.startswith('"'):
            continue
        if found in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BodyRefused(f"the number {text[:20]} is too large")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise BodyRefused(f"an integer has more than {MAX_INTEGER_DIGITS} digits")
    return int(text)


def _no_constant(name: str) -> Any:
    raise BodyRefused(f"{name} is not a number JSON allows")


def _carries_nul(data: Any) -> bool:
    """A NUL in any key or string (PostgreSQL's text and jsonb refuse it), found
    without recursion."""
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, str) and "\x00" in item:
            return True
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def loads(text: str) -> Any:
    if nesting_depth(text) > MAX_DEPTH:
        raise BodyRefused(f"the body nests deeper than {MAX_DEPTH} levels")
    data = json.loads(
        text, parse_float=_finite_float, parse_int=_bounded_int, parse_constant=_no_constant
    )
    # A raw NUL is not valid JSON, so only the escape can bring one in.
    if "\\u0000" in text.lower() and _carries_nul(data):
        raise BodyRefused("a string carries a NUL character")
    return data


class SafeJSONParser(BaseParser):
    media_type = "application/json"
    renderer_class = renderers.JSONRenderer

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            # Django caps form bodies at DATA_UPLOAD_MAX_MEMORY_SIZE, but not a stream
            # read as this one is.
            raw = stream.read() if limit is None else stream.read(limit + 1)
            if limit is not None and len(raw) > limit:
                raise BodyRefused(f"the body is larger than {limit} bytes")
            return loads(codecs.decode(raw, encoding))
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            raise ParseError(f"JSON parse error - {exc}") from None
