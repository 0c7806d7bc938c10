from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import Role
from notifications.models import Notification
from tests.factories import PatientFactory


def _message(clinic: Any, body: str = "Hi Ana, see you today at 9:30 AM.") -> Notification:
    return Notification.objects.create(
        clinic=clinic,
        patient=PatientFactory(clinic=clinic, first_name="Ana", last_name="Lopez"),
        channel="sms",
        kind="same_day",
        status="sent",
        idempotency_key=f"page:{Notification.objects.count()}",
        scheduled_for=dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC),
        sent_at=dt.datetime(2026, 11, 25, 12, 1, tzinfo=dt.UTC),
        body=body,
    )


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.FRONT_DESK, 200),
        (Role.PSYCHIATRIST, 200),
        (Role.CLINIC_ADMIN, 200),
        (Role.TECHNICIAN, 403),
    ],
)
def test_outbox_page_roles(role: str, status: int, clinic: Any, staff: Any, client: Any) -> None:
    _message(clinic)
    client.force_login(staff(role))
    response = client.get("/outbox/")
    assert response.status_code == status
    if status == 200:
        text = response.content.decode()
        assert "Hi Ana, see you today at 9:30 AM." in text
        assert "Ana L." in text and "Lopez" not in text


def test_outbox_page_needs_login(client: Any, db: None) -> None:
    response = client.get("/outbox/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_other_clinics_messages_are_not_shown(
    clinic: Any, other_clinic: Any, staff: Any, client: Any
) -> None:
    _message(other_clinic, body="Theirs")
    client.force_login(staff(Role.FRONT_DESK))
    assert "Theirs" not in client.get("/outbox/").content.decode()


def test_outbox_page_query_count_is_fixed(clinic: Any, staff: Any, client: Any) -> None:
    client.force_login(staff(Role.FRONT_DESK))
    _message(clinic)

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/outbox/").status_code == 200
        return len(captured)

    few = count()
    for _ in range(10):
        _message(clinic)
    assert count() == few


def test_outbox_times_are_the_clinics_with_its_zone(
    clinic: Any, other_clinic: Any, staff: Any, client: Any, superuser: Any
) -> None:
    """12:01 UTC is 07:01 in New York (EST), and 04:01 in Los Angeles (PST): each row at
    its own clinic's clock, whatever the server's zone."""
    other_clinic.timezone = "America/Los_Angeles"
    other_clinic.save(update_fields=["timezone"])
    _message(clinic, body="East")
    _message(other_clinic, body="West")
    client.force_login(superuser)
    text = client.get("/outbox/").content.decode()
    assert "Wed 25 Nov, 07:01 EST" in text
    assert "Wed 25 Nov, 04:01 PST" in text
