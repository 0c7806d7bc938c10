from django.db import migrations, models

# The suicide item of each scale (1-based), as in courses/instruments.py at this
# migration: frozen here so the migration does not change if that module does.
SUICIDE_ITEMS = {"phq9": 9, "hamd17": 3, "madrs": 10, "bdi2": 9}


def copy_from_items(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Scores recorded with their items keep the suicide item's answer on its own."""
    Assessment = apps.get_model("courses", "Assessment")
    for instrument, number in SUICIDE_ITEMS.items():
        rows = Assessment.objects.filter(instrument=instrument, items__isnull=False)
        for assessment in rows.only("id", "items").iterator():
            if isinstance(assessment.items, list) and len(assessment.items) >= number:
                Assessment.objects.filter(pk=assessment.pk).update(
                    suicide_item=assessment.items[number - 1]
                )


class Migration(migrations.Migration):
    dependencies = [
        ("courses", "0004_staff_alerts"),
    ]

    operations = [
        migrations.AddField(
            model_name="assessment",
            name="suicide_item",
            field=models.PositiveSmallIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(copy_from_items, migrations.RunPython.noop),
    ]
