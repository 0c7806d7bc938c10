"""EpochMicroseconds: instants as exact integers, on PostgreSQL and on SQLite."""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinic.db import EpochMicroseconds, instant
from clinic.models import ChairBlock
from tests.factories import ChairFactory

# hypothesis takes naive bounds and makes the values aware with ``timezones``.
INSTANTS = st.datetimes(
    min_value=dt.datetime(1990, 1, 1),  # noqa: DTZ001
    max_value=dt.datetime(2090, 1, 1),  # noqa: DTZ001
    timezones=st.just(dt.UTC),
)


@pytest.mark.django_db
@settings(max_examples=30, deadline=None)
@given(moment=INSTANTS)
def test_postgresql_round_trip(moment: dt.datetime) -> None:
    chair = ChairFactory()
    block = ChairBlock.objects.create(
        chair=chair, starts_at=moment, ends_at=moment + dt.timedelta(hours=1), reason="x"
    )
    (value,) = ChairBlock.objects.filter(pk=block.pk).values_list(
        EpochMicroseconds("starts_at"), flat=True
    )
    assert instant(value) == moment


class _Compiler:
    """Stands in for Django's compiler: the column is a bound parameter."""

    def compile(self, node: Any) -> tuple[str, list[Any]]:
        return "?", []


@given(moment=INSTANTS)
def test_sqlite_formula_reads_djangos_stored_text(moment: dt.datetime) -> None:
    sql, _ = EpochMicroseconds("starts_at").as_sqlite(_Compiler(), None)
    # Django's SQLite backend stores an aware instant as naive UTC isoformat text.
    stored = moment.replace(tzinfo=None).isoformat(sep=" ")
    with sqlite3.connect(":memory:") as db:
        (value,) = db.execute(f"SELECT {sql.replace('%%', '%')}", [stored, stored]).fetchone()
    assert instant(value) == moment
