"""SQLite rebuilds a table to change one of its constraints, and a rebuilt table loses
its triggers: migration 0019 recreated the audit events' action check, and with it
dropped the trigger of migration 0016 that writes an event's patient links. Without it
an audit event on SQLite names no patient to the ``?patient=`` filter. It is created
again here; any later migration that alters ``AuditEvent`` on SQLite must do the same
(the model says so)."""

import importlib

from django.db import migrations

links = importlib.import_module("clinic.migrations.0016_sqlite_audit_patient_links")


def recreate_trigger(apps, schema_editor):
    links.drop_trigger(apps, schema_editor)
    links.create_trigger(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0020_audit_patient_ids_gin_index"),
    ]

    operations = [migrations.RunPython(recreate_trigger, migrations.RunPython.noop)]
