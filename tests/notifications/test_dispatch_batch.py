"""Sending in batches: one claim and one read for a batch, one stored result per message,
rows another worker holds left alone, and a batch that runs out of time giving the rest
back to the queue. The fault tests (test_faults.py) run batches on real workers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic.models import Role
from notifications import services
from notifications.models import Notification, Status
from notifications.services import dispatch
from notifications.transports import LocmemTransport, Outgoing, reset_transports
from scheduling.models import Session, SessionStatus
from tests.factories import ChairFactory, ClinicFactory, MembershipFactory
from tests.sms_fakes import create_due_sms, midday_timezone

pytestmark = pytest.mark.django_db

LOCMEM = "notifications.transports.LocmemTransport"


@pytest.fixture(autouse=True)
def outbox(settings: Any) -> Iterator[list[Outgoing]]:
    settings.NOTIFICATION_TRANSPORTS = {"sms": LOCMEM, "email": LOCMEM}
    LocmemTransport.outbox.clear()
    reset_transports()
    yield LocmemTransport.outbox
    LocmemTransport.outbox.clear()
    reset_transports()


def _due(count: int) -> list[Notification]:
    """``count`` due missed-visit texts (they go whatever the caps), oldest id first."""
    clinic = ClinicFactory(timezone=midday_timezone(timezone.now()))
    rows = create_due_sms(
        count,
        clinic=clinic,
        chair=ChairFactory(clinic=clinic),
        psychiatrist=MembershipFactory(clinic=clinic, role=Role.PSYCHIATRIST).user,
    )
    return sorted(rows, key=lambda n: n.pk)


def _statuses(rows: list[Notification]) -> list[str]:
    found = dict(
        Notification.objects.filter(pk__in=[n.pk for n in rows]).values_list("pk", "status")
    )
    return [found[n.pk] for n in rows]


def _queries(rows: list[Notification]) -> int:
    with CaptureQueriesContext(connection) as captured:
        result = services.send_batch([n.pk for n in rows])
    assert set(result.statuses.values()) == {Status.SENT}
    return len(captured)


def test_a_batch_costs_a_few_queries_and_one_more_a_message(outbox: list[Outgoing]) -> None:
    rows = _due(15)
    five, ten = _queries(rows[:5]), _queries(rows[5:])
    # The claim, the read of the rows with their patient, clinic, policy and session,
    # and the make-ups of the missed visits are the batch's; storing the result (one
    # UPDATE) is each message's.
    assert ten - five == 5
    assert five <= 5 + 5
    assert [m.idempotency_key for m in outbox] == [n.idempotency_key for n in rows]
    assert _statuses(rows) == [Status.SENT] * 15


def test_only_the_missed_visit_made_up_since_says_so(outbox: list[Outgoing]) -> None:
    made_up, plain = _due(2)
    missed = Session.objects.get(pk=made_up.session_id)
    starts_at = timezone.now() + dt.timedelta(days=1)
    Session.objects.create(
        course=missed.course,
        patient=missed.patient,
        chair=missed.chair,
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(minutes=40),
        status=SessionStatus.SCHEDULED,
        kind="treatment",
        phase=1,
        makeup_for=missed,
    )
    services.send_batch([made_up.pk, plain.pk])
    bodies = {m.idempotency_key: m.body for m in outbox}
    assert "We booked a visit to make up for it." in bodies[made_up.idempotency_key]
    assert "to rebook" in bodies[plain.idempotency_key]
    assert "make up" not in bodies[plain.idempotency_key]


def test_rows_another_worker_holds_are_left_alone(outbox: list[Outgoing]) -> None:
    rows = _due(6)
    other = services.claim_batch([n.pk for n in rows[:3]])  # another worker's batch
    result = services.send_batch([n.pk for n in rows])
    assert [result.statuses[n.pk] for n in rows] == ["not_claimed"] * 3 + [Status.SENT] * 3
    assert _statuses(rows) == [Status.SENDING] * 3 + [Status.SENT] * 3
    assert set(
        Notification.objects.filter(pk__in=[n.pk for n in rows[:3]]).values_list(
            "claim_token", flat=True
        )
    ) == {other}
    assert len(outbox) == 3
    # A second delivery of the same batch (two dispatchers) sends nothing.
    again = services.send_batch([n.pk for n in rows[3:]])
    assert set(again.statuses.values()) == {"not_claimed"}
    assert len(outbox) == 3


def test_a_batch_out_of_time_gives_the_rest_back(
    outbox: list[Outgoing], monkeypatch: Any, settings: Any
) -> None:
    rows = _due(5)
    settings.NOTIFICATION_LEASE_SECONDS = 30
    clock = [timezone.now()]
    monkeypatch.setattr(dispatch.timezone, "now", lambda: clock[0])
    sent: list[str] = []

    class SlowProvider:
        """Each message takes 6 s: the batch starts no new one after half its lease
        (15 s), while its claim surely holds, so three go."""

        def send(self, message: Outgoing) -> str:
            sent.append(message.idempotency_key)
            clock[0] += dt.timedelta(seconds=6)
            return f"slow-{len(sent)}"

    monkeypatch.setattr(dispatch, "transport_for", lambda channel: SlowProvider())
    result = services.send_batch([n.pk for n in rows])
    assert sent == [n.idempotency_key for n in rows[:3]]
    assert result.released == [n.pk for n in rows[3:]]
    assert [result.statuses[n.pk] for n in rows] == [Status.SENT] * 3 + [Status.PENDING] * 2
    back = Notification.objects.filter(pk__in=result.released)
    assert {(n.status, n.claim_token, n.lease_expires_at) for n in back} == {
        (Status.PENDING, None, None)
    }
    # Due still: the next dispatcher tick queues them, and they go once each.
    assert set(result.released) <= set(services.due_ids(now=clock[0]))
    monkeypatch.setattr(dispatch, "transport_for", lambda channel: LocmemTransport())
    assert set(services.send_batch(result.released).statuses.values()) == {Status.SENT}
    assert [m.idempotency_key for m in outbox] == [n.idempotency_key for n in rows[3:]]
    assert _statuses(rows) == [Status.SENT] * 5
