"""Database helpers shared by the apps."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import BigIntegerField, Func

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class EpochMicroseconds(Func):
    """An instant as integer microseconds since the Unix epoch.

    Reads that return tens of thousands of timestamps (risk facts, the calendar) ask for
    this instead of the timestamp: psycopg turns an integer into Python in C, while
    Django's time-zone-aware timestamp loader parses each value in Python, several
    times slower. ``instant()`` turns the number back into an aware datetime, exactly.
    """

    arity = 1
    output_field = BigIntegerField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, Any]:
        sql, params = compiler.compile(self.source_expressions[0])
        return f"(EXTRACT(EPOCH FROM {sql}) * 1000000)::bigint", params

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, Any]:
        # Django stores an instant as 'YYYY-MM-DD HH:MM:SS[.ffffff]' text in UTC.
        sql, params = compiler.compile(self.source_expressions[0])
        return (
            f"(CAST(strftime('%%s', substr({sql}, 1, 19)) AS INTEGER) * 1000000"
            f" + CAST(COALESCE(NULLIF(substr({sql}, 21, 6), ''), '0') AS INTEGER))",
            [*params, *params],
        )


def instant(microseconds: int) -> dt.datetime:
    """The aware UTC datetime of an ``EpochMicroseconds`` value."""
    return EPOCH + dt.timedelta(microseconds=microseconds)
