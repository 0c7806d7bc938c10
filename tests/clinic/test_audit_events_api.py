"""Reading the audit trail: GET /api/v1/audit-events/, the /audit/ page and its CSV
(clinic admins, their clinics only), and the append-only table with its retention purge."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import Client

from clinic import audit_read, audit_retention
from clinic.audit_trail import write_events
from clinic.models import AuditEvent, AuditEventPatient, Role
from tests.factories import PatientFactory

ROLES = [role.value for role in Role]


def _event(clinic: Any, **fields: Any) -> AuditEvent:
    values: dict[str, Any] = {
        "action": "view",
        "outcome": "ok",
        "channel": "api",
        "clinic_id": clinic.pk,
        "object_type": "clinic.patient",
        "patient_ids": [],
        "at": dt.datetime(2026, 11, 20, 15, tzinfo=dt.UTC),
    }
    values.update(fields)
    if values.get("actor") is not None:
        values["username"] = values["actor"].username
    event = AuditEvent(**values)
    write_events([event])
    return AuditEvent.objects.filter(clinic_id=clinic.pk).order_by("-id").first() or event


# --- who may read it ------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_api_roles(role: str, clinic: Any, api_as: Any) -> None:
    _event(clinic, patient_ids=[1])
    response = api_as(role).get("/api/v1/audit-events/")
    if role == Role.CLINIC_ADMIN:
        assert response.status_code == 200
        assert response.json()["count"] >= 1
    else:
        assert response.status_code == 403


def test_api_anonymous(clinic: Any, api: Any) -> None:
    assert api(None).get("/api/v1/audit-events/").status_code == 401


def test_api_another_clinics_admin_sees_none_of_ours(
    clinic: Any, other_clinic: Any, staff: Any, api: Any
) -> None:
    ours = _event(clinic, patient_ids=[7])
    theirs = api(staff(Role.CLINIC_ADMIN, in_clinic=other_clinic))
    ids = [row["id"] for row in theirs.get("/api/v1/audit-events/").json()["results"]]
    assert ours.pk not in ids


def test_admin_elsewhere_technician_here_sees_only_the_clinic_they_administer(
    clinic: Any, other_clinic: Any, staff: Any, api: Any
) -> None:
    from tests.factories import MembershipFactory

    user = staff(Role.CLINIC_ADMIN, in_clinic=other_clinic)
    MembershipFactory(user=user, clinic=clinic, role=Role.TECHNICIAN)
    here = _event(clinic, patient_ids=[3])
    ids = [row["id"] for row in api(user).get("/api/v1/audit-events/").json()["results"]]
    assert here.pk not in ids


@pytest.mark.parametrize("role", ROLES)
def test_page_roles(role: str, clinic: Any, page_as: Any) -> None:
    _event(clinic, patient_ids=[1])
    client = page_as(role)
    for path in ("/audit/", "/audit/events.csv"):
        assert client.get(path).status_code == (200 if role == Role.CLINIC_ADMIN else 403)


def test_page_anonymous(db: None, client: Client) -> None:
    for path in ("/audit/", "/audit/events.csv"):
        response = client.get(path)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_page_shows_only_the_current_clinics_events(
    clinic: Any, other_clinic: Any, staff: Any, client: Client
) -> None:
    _event(other_clinic, object_type="theirs.row")
    _event(clinic, object_type="ours.row")
    client.force_login(staff(Role.CLINIC_ADMIN))
    html = client.get("/audit/").content.decode()
    assert "ours.row" in html and "theirs.row" not in html


# --- filters --------------------------------------------------------------------------


def test_filters(clinic: Any, staff: Any, api: Any) -> None:
    admin = staff(Role.CLINIC_ADMIN)
    desk = staff(Role.FRONT_DESK)
    patient = PatientFactory(clinic=clinic)
    wanted = _event(clinic, actor=desk, patient_ids=[patient.pk, 99])
    _event(clinic, actor=desk, patient_ids=[98])
    _event(clinic, actor=admin, patient_ids=[patient.pk], action="update")
    _event(clinic, actor=desk, patient_ids=[patient.pk], at=dt.datetime(2026, 10, 1, tzinfo=dt.UTC))
    client = api(admin)
    response = client.get(
        "/api/v1/audit-events/",
        {
            "patient": patient.pk,
            "actor": desk.pk,
            "action": "view",
            "from": "2026-11-20",
            "to": "2026-11-20",
        },
    )
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [row["id"] for row in rows] == [wanted.pk]
    row = rows[0]
    assert row["actor"] == {"id": desk.pk, "username": desk.username, "role": ""}
    assert row["patient"] is None and row["patients"] == [patient.pk, 99]
    assert set(row) >= {
        "at",
        "clinic",
        "object_type",
        "object_id",
        "fields",
        "client_address",
        "request_id",
    }


@pytest.mark.parametrize(
    "query",
    [
        {"patient": "abc"},
        {"actor": "-1"},
        {"action": "peek"},
        {"from": "9999-12-31"},
        {"to": "0001-01-01"},
        {"from": "2026-11-21", "to": "2026-11-20"},
        {"from": "yesterday"},
    ],
)
def test_bad_filters_are_a_400_with_a_code(query: dict[str, str], clinic: Any, api_as: Any) -> None:
    response = api_as(Role.CLINIC_ADMIN).get("/api/v1/audit-events/", query)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_filter"


def test_page_bad_filter_is_a_400(clinic: Any, page_as: Any) -> None:
    client = page_as(Role.CLINIC_ADMIN)
    assert client.get("/audit/", {"from": "9999-12-31"}).status_code == 400
    assert client.get("/audit/events.csv", {"action": "peek"}).status_code == 400


def test_csv_export_is_filtered_and_itself_audited(clinic: Any, staff: Any, client: Client) -> None:
    admin = staff(Role.CLINIC_ADMIN)
    _event(clinic, patient_ids=[41], object_type="clinic.patient")
    _event(clinic, patient_ids=[42], object_type="clinic.patient", action="update")
    client.force_login(admin)
    response = client.get("/audit/events.csv", {"action": "update"})
    assert response.status_code == 200
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("id,at,actor_id")
    assert len(lines) == 2 and ",42," in lines[1]
    export = AuditEvent.objects.filter(action="export").get()
    assert export.actor == admin and export.object_type == "page:audit-csv"


def test_the_list_runs_a_fixed_number_of_queries(
    clinic: Any, staff: Any, api: Any, django_assert_num_queries: Any
) -> None:
    client = api(staff(Role.CLINIC_ADMIN))
    for n in range(3):
        _event(clinic, patient_ids=[n + 1])
    # token+user, memberships, the zone's clinic, count, page
    with django_assert_num_queries(5):
        client.get("/api/v1/audit-events/")
    for n in range(10):
        _event(clinic, patient_ids=[n + 1])
    with django_assert_num_queries(5):
        client.get("/api/v1/audit-events/")


def test_schema_documents_the_endpoint(api_as: Any) -> None:
    schema = api_as(Role.CLINIC_ADMIN).get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/audit-events/"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"patient", "actor", "action", "from", "to", "page", "page_size"} <= names


# --- append-only ----------------------------------------------------------------------

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigger is PostgreSQL's"
)


@postgres_only
def test_the_database_refuses_update_and_delete(clinic: Any) -> None:
    event = _event(clinic, patient_ids=[5])
    # Link rows are SQLite's now (migration 0017); those written before stay unchangeable.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO clinic_auditeventpatient (event_id, patient_id) VALUES (%s, 5)",
            [event.pk],
        )
    for sql in (
        "UPDATE clinic_auditevent SET username = 'someone' WHERE id = %s",
        "DELETE FROM clinic_auditevent WHERE id = %s",
        "UPDATE clinic_auditeventpatient SET patient_id = 6 WHERE event_id = %s",
        "DELETE FROM clinic_auditeventpatient WHERE event_id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk])
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(username="someone")
    assert AuditEvent.objects.get(pk=event.pk).username == ""


@postgres_only
def test_purge_setting_does_not_unlock_recent_rows(clinic: Any) -> None:
    event = _event(clinic, at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT set_config('cadence.audit_purge', 'on', true)")
        cursor.execute("SELECT set_config('cadence.audit_retention_years', '1', true)")
        cursor.execute("DELETE FROM clinic_auditevent WHERE id = %s", [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_the_model_refuses_changes(clinic: Any) -> None:
    event = _event(clinic)
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()


def test_retention_purge_deletes_only_expired_events(clinic: Any, settings: Any) -> None:
    settings.AUDIT_RETENTION_YEARS = 6
    now = dt.datetime.now(dt.UTC)
    old = _event(clinic, patient_ids=[1, 2], at=now - dt.timedelta(days=6 * 366 + 2))
    kept = _event(clinic, patient_ids=[3], at=now - dt.timedelta(days=6 * 365 - 30))
    if connection.vendor == "postgresql":  # link rows written there before migration 0017
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO clinic_auditeventpatient (event_id, patient_id) VALUES (%s, 1)",
                [old.pk],
            )
    assert audit_retention.purge_expired_audit_events() == 1
    assert not AuditEvent.objects.filter(pk=old.pk).exists()
    assert not AuditEventPatient.objects.filter(event_id=old.pk).exists()
    assert list(audit_read.naming_patient(AuditEvent.objects.all(), 3)) == [kept]
    assert not audit_read.naming_patient(AuditEvent.objects.all(), 1).exists()


def test_retention_is_at_least_six_years() -> None:
    """The setting's own line in clinic/settings.py: fewer than six years do not start."""
    from pathlib import Path

    from django.core.exceptions import ImproperlyConfigured

    from clinic import settings as project_settings
    from clinic.env import Env

    line = next(
        text
        for text in Path(project_settings.__file__).read_text().splitlines()
        if text.startswith("AUDIT_RETENTION_YEARS")
    )
    assert 'env.int("AUDIT_RETENTION_YEARS", 6, minimum=6)' in line
    with pytest.raises(ImproperlyConfigured, match="AUDIT_RETENTION_YEARS"):
        Env({"AUDIT_RETENTION_YEARS": "2"}).int("AUDIT_RETENTION_YEARS", 6, minimum=6)
