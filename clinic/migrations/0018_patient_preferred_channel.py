"""A patient's preferred channel (texts, email or both): it decides where a message goes
when the patient agreed to both (notifications.services.policy.message_channels)."""

from django.db import migrations, models
from django.db.models import Q


def keep_what_they_get(apps, schema_editor):
    """Until now a message went on every channel the patient agreed to. Patients
    registered before keep that (both, or email when email is their only consent);
    the rest start on texts, the new patients' default. Staff change it on the patient."""
    Patient = apps.get_model("clinic", "Patient")
    Patient.objects.filter(sms_consent=True, email_consent=True).update(preferred_channel="both")
    Patient.objects.filter(sms_consent=False, email_consent=True).update(preferred_channel="email")


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0017_api_tokens_stored_as_digests"),
    ]

    operations = [
        migrations.AddField(
            model_name="patient",
            name="preferred_channel",
            field=models.CharField(
                choices=[
                    ("sms", "Text message"),
                    ("email", "Email"),
                    ("both", "Both: text and email"),
                ],
                default="sms",
                help_text="Where messages go when the patient agreed to both texts and emails; "
                "with one consent only, they go there whatever this says.",
                max_length=10,
            ),
        ),
        migrations.RunPython(keep_what_they_get, migrations.RunPython.noop, elidable=True),
        migrations.AddConstraint(
            model_name="patient",
            constraint=models.CheckConstraint(
                condition=Q(preferred_channel__in=["sms", "email", "both"]),
                name="patient_preferred_channel_valid",
            ),
        ),
    ]
