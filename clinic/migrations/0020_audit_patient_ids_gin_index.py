"""On PostgreSQL an audit event's patients are found by a GIN index on its
``patient_ids`` (``patient_ids @> '[id]'``) instead of one link row per patient: a list
read of 500 patients was an event and 500 link rows, each with its index entries and its
foreign key check, which cost the patient list more than the 10% issue 15 allows
(docs/security.md, "The audit trail of patient data"). The link rows written before stay
(append-only) and their events carry the same ids in ``patient_ids``; SQLite keeps its
link rows (migration 0016: a JSON list cannot be searched by an index there)."""

from django.db import migrations

CREATE = (
    "CREATE INDEX IF NOT EXISTS audit_patient_ids "
    "ON clinic_auditevent USING gin (patient_ids jsonb_path_ops)"
)


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS audit_patient_ids", params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0019_mfa_clinic_setting_and_audit_actions"),
    ]

    operations = [migrations.RunPython(create_index, drop_index)]
