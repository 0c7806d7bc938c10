"""The booking invariants, held by PostgreSQL itself:
- a chair holds at most one occupying session at any instant;
- a patient is never in two occupying sessions at once.
Occupying: scheduled, checked_in, completed. Intervals are half-open [starts_at, ends_at).

SQLite (the embedded default) has no exclusion constraints; there the services' checks
run under IMMEDIATE transactions, which serialize writers.
"""

from __future__ import annotations

from django.db import migrations

CONSTRAINTS = {
    "session_chair_no_overlap": "chair_id",
    "session_patient_no_overlap": "patient_id",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    for name, column in CONSTRAINTS.items():
        schema_editor.execute(
            f"ALTER TABLE scheduling_session ADD CONSTRAINT {name} EXCLUDE USING gist "
            f"({column} WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&) "
            "WHERE (status IN ('scheduled', 'checked_in', 'completed'))"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in CONSTRAINTS:
        schema_editor.execute(f"ALTER TABLE scheduling_session DROP CONSTRAINT IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
