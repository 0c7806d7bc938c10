"""Role matrix of the notification endpoints (docs/roles.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from clinic.models import Role
from notifications.models import Notification
from tests.factories import PatientFactory
from tests.permissions import ACTORS, make_actor

OUTBOX_READERS = {Role.FRONT_DESK, Role.CLINIC_ADMIN, Role.PSYCHIATRIST}


def _notification(clinic: Any) -> Notification:
    return Notification.objects.create(
        clinic=clinic,
        patient=PatientFactory(clinic=clinic),
        channel="sms",
        kind="course_booked",
        idempotency_key=f"test:{clinic.pk}:{Notification.objects.count()}",
        scheduled_for=dt.datetime(2026, 11, 25, 17, tzinfo=dt.UTC),
    )


@pytest.mark.parametrize("actor", ACTORS)
def test_outbox_is_read_only_for_its_readers(
    actor: str, clinic: Any, other_clinic: Any, staff: Any, superuser: Any, api: Any
) -> None:
    row = _notification(clinic)
    client = api(make_actor(actor, other_clinic, staff, superuser))
    listed = client.get("/api/v1/notifications/")
    detail = client.get(f"/api/v1/notifications/{row.pk}/")
    write = client.post("/api/v1/notifications/", {}, format="json")
    if actor == "anonymous":
        assert (listed.status_code, detail.status_code, write.status_code) == (401, 401, 401)
        return
    if actor == "outsider":
        assert listed.status_code == 200 and listed.json()["count"] == 0
        assert detail.status_code == 404
        return
    allowed = actor == "superuser" or actor in OUTBOX_READERS
    assert listed.status_code == (200 if allowed else 403)
    assert detail.status_code == (200 if allowed else 403)
    assert write.status_code in (403, 405)
    if allowed:
        body = detail.json()
        assert "body" not in body  # message texts are not listed
        assert body["status"] == "pending"


@pytest.mark.parametrize("actor", ACTORS)
def test_reminder_policy_roles(
    actor: str, clinic: Any, other_clinic: Any, staff: Any, superuser: Any, api: Any
) -> None:
    client = api(make_actor(actor, other_clinic, staff, superuser))
    path = f"/api/v1/reminder-policies/{clinic.pk}/"
    read = client.get(path)
    write = client.patch(path, {"window_start": "09:00", "sms_per_day": 2}, format="json")
    expected_read = {"anonymous": 401, "outsider": 404}.get(actor, 200)
    assert read.status_code == expected_read
    if actor == "anonymous":
        assert write.status_code == 401
    elif actor == "outsider":
        assert write.status_code == 404
    elif actor in ("superuser", Role.CLINIC_ADMIN):
        assert write.status_code == 200, write.content
        assert write.json()["window_start"] == "09:00"
        assert write.json()["sms_per_day"] == 2
    else:
        assert write.status_code == 403


def test_policy_defaults_and_validation(clinic: Any, staff: Any, api: Any) -> None:
    client = api(staff(Role.CLINIC_ADMIN))
    body = client.get(f"/api/v1/reminder-policies/{clinic.pk}/").json()
    assert (body["window_start"], body["window_end"]) == ("08:00", "21:00")
    assert (body["sms_per_day"], body["sms_per_week"], body["every_day"]) == (2, 10, False)
    bad = client.patch(
        f"/api/v1/reminder-policies/{clinic.pk}/",
        {"window_start": "22:00", "window_end": "07:00"},
        format="json",
    )
    assert bad.status_code == 400
    assert "window_end" in bad.json()["errors"]
    listed = client.get("/api/v1/reminder-policies/").json()
    assert [row["clinic"] for row in listed] == [clinic.pk]
