"""The data migrations of the continuation phase kind (courses 0007, scheduling 0006)
and of the pending-authorization mark (scheduling 0007), run on rows written before."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [
    ("clinic", "0007_display_name_neutral"),
    ("courses", "0006_alert_settled_reason"),
    ("scheduling", "0005_treatment_record_limits"),
]
NY = dt.timezone(dt.timedelta(hours=-5))


@pytest.fixture
def before() -> Iterator[Any]:
    """The apps as they were before these migrations; the database is migrated back to
    the latest state afterwards."""
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(BEFORE)
    executor.loader.build_graph()
    yield executor
    executor.loader.build_graph()
    executor.migrate(latest)


@pytest.mark.django_db(transaction=True)
def test_deep_tms_continuation_and_sessions_beyond_authorization_are_marked(
    before: MigrationExecutor,
) -> None:
    old = before.loader.project_state(BEFORE).apps
    clinic = old.get_model("clinic", "Clinic").objects.create(
        name="Old", slug="old", timezone="America/New_York", display_name="Old", phone="+1"
    )
    chair = old.get_model("clinic", "Chair").objects.create(clinic=clinic, name="C1")
    patient = old.get_model("clinic", "Patient").objects.create(
        clinic=clinic, mrn="1", first_name="A", last_name="B", date_of_birth=dt.date(1980, 1, 1)
    )
    user = old.get_model("auth", "User").objects.create(username="doc")
    protocol = old.get_model("courses", "Protocol").objects.get(clinic=None, code="deep-tms-h1")
    course = old.get_model("courses", "TreatmentCourse").objects.create(
        patient=patient,
        psychiatrist=user,
        protocol=protocol,
        indication="mdd",
        start_date=dt.date(2027, 1, 4),
        preferred_time=dt.time(9),
    )
    old.get_model("courses", "Authorization").objects.create(
        course=course,
        payer="P",
        number="1",
        sessions_authorized=2,
        valid_from=dt.date(2027, 1, 1),
        valid_until=dt.date(2027, 12, 31),
    )
    session = old.get_model("scheduling", "Session")
    for day, kind, phase in [(4, "mapping", 1), (5, "treatment", 1), (7, "taper", 2)]:
        start = dt.datetime(2027, 1, day, 9, tzinfo=NY)
        session.objects.create(
            course=course,
            patient=patient,
            chair=chair,
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=25),
            kind=kind,
            phase=phase,
        )

    before.loader.build_graph()
    before.migrate(before.loader.graph.leaf_nodes())
    new = before.loader.project_state(before.loader.graph.leaf_nodes()).apps
    phases = new.get_model("courses", "ProtocolPhase").objects.filter(protocol_id=protocol.pk)
    assert list(phases.order_by("order").values_list("kind", flat=True)) == [
        "treatment",
        "continuation",
    ]
    rows = new.get_model("scheduling", "Session").objects.filter(course_id=course.pk)
    assert list(rows.order_by("starts_at").values_list("kind", "pending_authorization")) == [
        ("mapping", False),
        ("treatment", False),
        ("continuation", True),  # the third on a two-session authorization
    ]
