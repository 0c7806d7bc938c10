"""scripts/backup and scripts/restore (issue 15, item 12): a round trip on PostgreSQL.

The test database is filled (a clinic, staff, patients, a course with its sessions,
audit events) and committed, scripts/backup dumps it (pg_dump -Fc) as an operator would,
scripts/restore puts the dump into a database that does not exist yet, and every table
must hold the same number of rows there, the same values, and the audit trail's
append-only triggers. The restored database is dropped afterwards.

pg_dump, pg_restore and psql must be installed (Debian: postgresql-client) and pg_dump
at least the server's major version: without them this test fails, never skips.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from django.db import connection
from psycopg import sql

from clinic.models import AuditEvent, Patient, Role
from scheduling.models import Session
from scheduling.services import course_schedule

ROOT = Path(__file__).resolve().parents[2]
BASH = shutil.which("bash") or "/bin/bash"


def _url(name: str) -> str:
    """A postgres:// URL for database ``name`` on the test database's server."""
    db = connection.settings_dict
    user = quote(db.get("USER") or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{quote(name, safe='')}"


def _require_client_programs() -> None:
    missing = [tool for tool in ("pg_dump", "pg_restore", "psql") if shutil.which(tool) is None]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not found: scripts/backup and scripts/restore need "
            "PostgreSQL's client programs of the server's major version (Debian: "
            "postgresql-client)."
        )
    version = subprocess.run(
        ["pg_dump", "--version"],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    client_major = int(re.search(r"(\d+)", version).group(1))  # type: ignore[union-attr]
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        server_major = int(cursor.fetchone()[0]) // 10000
    if client_major < server_major:
        pytest.fail(f"pg_dump {client_major} cannot dump a PostgreSQL {server_major} server.")


def _script(name: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own scripts
        [BASH, str(ROOT / "scripts" / name), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _drop(name: str) -> None:
    with psycopg.connect(_url("postgres"), autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def restored_name() -> Iterator[str]:
    name = f"{connection.settings_dict['NAME']}_restored"
    _drop(name)  # left over by an interrupted run
    yield name
    _drop(name)


def _row_counts(cursor: Any, tables: list[str]) -> dict[str, int]:
    counts = {}
    for table in tables:
        cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        counts[table] = cursor.fetchone()[0]
    return counts


def _triggers(cursor: Any) -> set[str]:
    cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
    return {row[0] for row in cursor.fetchall()}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # committed: pg_dump is another session
@pytest.mark.usefixtures("frozen_now")
def test_a_backup_restores_into_a_fresh_database_with_every_row(
    make_course: Any,
    chairs: list[Any],
    staff: Callable[..., Any],
    api: Callable[[Any], Any],
    restored_name: str,
    tmp_path: Path,
) -> None:
    _require_client_programs()
    course = make_course()
    course_schedule(course)
    make_course()  # a second patient, not yet booked
    assert api(staff(Role.FRONT_DESK)).get("/api/v1/patients/").status_code == 200
    assert Session.objects.count() > 0 and AuditEvent.objects.exists()

    backup = _script(
        "backup", str(tmp_path / "backups"), DATABASE_URL=_url(connection.settings_dict["NAME"])
    )
    assert backup.returncode == 0, backup.stderr
    dump = Path(backup.stdout.strip().splitlines()[-1])
    assert dump.parent == tmp_path / "backups" and dump.suffix == ".dump"
    assert re.fullmatch(r"cadence-.+-\d{8}T\d{6}Z\.dump", dump.name)
    assert dump.stat().st_mode & 0o077 == 0  # patient data: the owner's only
    assert dump.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format

    restore = _script("restore", str(dump), _url(restored_name))
    assert restore.returncode == 0, restore.stderr
    assert f"created database {restored_name}" in restore.stderr

    tables = sorted(connection.introspection.table_names())
    assert {"clinic_patient", "scheduling_session", "clinic_auditevent"} <= set(tables)
    with connection.cursor() as cursor:
        source_counts = _row_counts(cursor, tables)
        source_triggers = _triggers(cursor)
    patient = Patient.objects.get(pk=course.patient_id)
    first = Session.objects.filter(course=course).order_by("starts_at").first()
    assert first is not None
    with psycopg.connect(_url(restored_name)) as restored, restored.cursor() as cursor:
        assert _row_counts(cursor, tables) == source_counts
        cursor.execute(
            "SELECT last_name, mrn, date_of_birth FROM clinic_patient WHERE id = %s", [patient.pk]
        )
        assert cursor.fetchone() == (patient.last_name, patient.mrn, patient.date_of_birth)
        cursor.execute("SELECT starts_at, status FROM scheduling_session WHERE id = %s", [first.pk])
        assert cursor.fetchone() == (first.starts_at, first.status)
        # The audit trail is still append-only in the copy.
        assert {"clinic_auditevent_append_only"} <= _triggers(cursor) == source_triggers
    assert source_counts["scheduling_session"] > 0 and source_counts["clinic_auditevent"] > 0

    # Restoring again over the now full database is refused without --force ...
    again = _script("restore", str(dump), _url(restored_name))
    assert again.returncode != 0 and "--force" in again.stderr
    # ... and with it replaces what is there by the backup's content.
    forced = _script("restore", "--force", str(dump), _url(restored_name))
    assert forced.returncode == 0, forced.stderr
    with psycopg.connect(_url(restored_name)) as restored, restored.cursor() as cursor:
        assert _row_counts(cursor, tables) == source_counts


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # committed: pg_dump is another session
def test_restore_refuses_what_is_not_a_backup(tmp_path: Path, restored_name: str) -> None:
    _require_client_programs()
    bogus = tmp_path / "notes.dump"
    bogus.write_text("not a dump")
    result = _script("restore", str(bogus), _url(restored_name))
    assert result.returncode != 0 and "neither a pg_dump" in result.stderr
    assert _script("restore", str(bogus)).returncode != 0  # no target: the usage line


def test_the_embedded_default_is_copied_with_sqlites_backup_api(tmp_path: Path) -> None:
    """DATABASE_URL unset: var/cadence.sqlite3, copied while open (WAL mode, a write
    not yet checkpointed: a plain cp of the file would miss it), restored to a new file."""
    var = tmp_path / "var"
    var.mkdir()
    live = sqlite3.connect(var / "cadence.sqlite3")
    live.execute("PRAGMA journal_mode=WAL")
    live.execute("CREATE TABLE clinic_patient (id integer PRIMARY KEY, last_name text)")
    with live:
        live.executemany("INSERT INTO clinic_patient VALUES (?, ?)", [(1, "Ng"), (2, "Ruiz")])
    env = {name: value for name, value in os.environ.items() if name != "DATABASE_URL"}
    backup = subprocess.run(  # noqa: S603 - our own script
        [BASH, str(ROOT / "scripts" / "backup")],
        env={**env, "CADENCE_VAR_DIR": str(var)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    live.close()
    assert backup.returncode == 0, backup.stderr
    copy = Path(backup.stdout.strip().splitlines()[-1])
    assert copy.parent == var / "backups" and re.fullmatch(
        r"cadence-\d{8}T\d{6}Z\.sqlite3", copy.name
    )

    target = tmp_path / "restored" / "cadence.sqlite3"
    assert _script("restore", str(copy), str(target)).returncode == 0
    with sqlite3.connect(target) as restored:
        rows = restored.execute("SELECT id, last_name FROM clinic_patient ORDER BY id").fetchall()
    assert rows == [(1, "Ng"), (2, "Ruiz")]
    refused = _script("restore", str(copy), str(target))
    assert refused.returncode != 0 and "--force" in refused.stderr
    assert _script("restore", "--force", str(copy), str(target)).returncode == 0
