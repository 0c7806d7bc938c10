"""Clinic.has_webhooks for the clinics that already have an active endpoint (the
webhook services keep it from now on)."""

from typing import Any

from django.db import migrations


def mark_clinics(apps: Any, schema_editor: Any) -> None:
    endpoint = apps.get_model("notifications", "WebhookEndpoint")
    clinic = apps.get_model("clinic", "Clinic")
    with_endpoints = endpoint.objects.filter(active=True).values("clinic_id")
    clinic.objects.filter(pk__in=with_endpoints).update(has_webhooks=True)


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0025_clinic_has_webhooks"),
        ("notifications", "0012_waitlist_offer_text"),
    ]

    operations = [migrations.RunPython(mark_clinics, migrations.RunPython.noop)]
