from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import time_machine

from clinic.models import Role
from tests.factories import (
    ChairFactory,
    ClinicFactory,
    CourseFactory,
    MembershipFactory,
    PatientFactory,
    catalog_protocol,
    cleared_screening,
)

# Wednesday 25 November 2026, 12:00 in New York.
NOW = dt.datetime(2026, 11, 25, 17, 0, tzinfo=dt.UTC)


@pytest.fixture
def frozen_now() -> Any:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def chairs(clinic: Any) -> list[Any]:
    return [ChairFactory(clinic=clinic, name=f"Chair {n}") for n in range(1, 5)]


@pytest.fixture
def h1_chair(clinic: Any) -> Any:
    """A deep TMS chair: the only kind an H1 protocol may be booked on."""
    return ChairFactory(
        clinic=clinic, name="Deep TMS", device="BrainsWay Deep TMS 104", coils=["H1", "H7"]
    )


@pytest.fixture
def psychiatrist(clinic: Any) -> Any:
    return MembershipFactory(clinic=clinic, role=Role.PSYCHIATRIST).user


@pytest.fixture
def make_course(clinic: Any, psychiatrist: Any) -> Callable[..., Any]:
    """A cleared patient's course in ``clinic`` (10hz-standard by default)."""

    def make(
        protocol: str = "10hz-standard",
        start: dt.date = dt.date(2026, 11, 30),
        at: dt.time = dt.time(9, 30),
        in_clinic: Any = None,
        **fields: Any,
    ) -> Any:
        patient = PatientFactory(clinic=in_clinic or clinic)
        cleared_screening(patient, by=psychiatrist)
        return CourseFactory(
            patient=patient,
            psychiatrist=psychiatrist,
            protocol=catalog_protocol(protocol),
            start_date=start,
            preferred_time=at,
            **fields,
        )

    return make


@pytest.fixture
def no_dst_clinic(db: None) -> Any:
    return ClinicFactory(name="Phoenix", slug="phoenix", timezone="America/Phoenix")
