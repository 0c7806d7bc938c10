"""API tokens of our own (clinic.ApiToken: one per login, named, stored as a SHA-256
digest) replace DRF's authtoken, which kept one token per person in clear text.

The old tokens are not carried over (their digests could be, but every one of them
was readable in the database and backups): DRF's table is dropped, so every client
logs in once more. authtoken is no longer installed; its rows in django_migrations go
too, so installing it again would create its table afresh."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0016_sqlite_audit_patient_links"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunSQL(
            [
                "DROP TABLE IF EXISTS authtoken_token",
                "DELETE FROM django_migrations WHERE app = 'authtoken'",
            ],
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.CreateModel(
            name="ApiToken",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100)),
                ("digest", models.CharField(editable=False, max_length=64, unique=True)),
                ("created", models.DateTimeField(default=django.utils.timezone.now)),
                ("last_used", models.DateTimeField(default=django.utils.timezone.now)),
                ("expires", models.DateTimeField(db_index=True)),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="api_tokens",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-created", "-id"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("expires__gt", models.F("created"))),
                        name="api_token_expires_after_created",
                    )
                ],
            },
        ),
    ]
