"""On SQLite (the embedded default) an audit event's patient links are written by a
trigger from its ``patient_ids``, so an event costs one INSERT there as on PostgreSQL
(where clinic.audit_trail.write_events inserts both in one statement)."""

from django.db import migrations

TRIGGER = """
CREATE TRIGGER clinic_auditevent_patient_links
AFTER INSERT ON clinic_auditevent
FOR EACH ROW WHEN json_array_length(NEW.patient_ids) > 0
BEGIN
    INSERT INTO clinic_auditeventpatient (event_id, patient_id)
    SELECT NEW.id, value FROM json_each(NEW.patient_ids);
END
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(TRIGGER)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS clinic_auditevent_patient_links")


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0015_audit_trail_of_patient_data"),
    ]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]
