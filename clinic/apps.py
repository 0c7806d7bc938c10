from django.apps import AppConfig


class ClinicConfig(AppConfig):
    name = "clinic"
    verbose_name = "Clinic"

    def ready(self) -> None:
        from clinic.audit_trail import register
        from clinic.models import PATIENT_DETAILS, Patient

        register(
            Patient,
            patient="pk",
            clinic="clinic_id",
            non_clinical={*PATIENT_DETAILS, "contact_problem"},
        )
        from django.contrib.auth.signals import user_logged_in, user_login_failed

        from clinic import audit, mfa

        user_logged_in.connect(audit.record_login, dispatch_uid="clinic.audit.login")
        # After django-otp's own receiver (connected when django_otp was imported).
        user_logged_in.connect(mfa.on_login, dispatch_uid="clinic.mfa.login")
        user_login_failed.connect(
            audit.record_login_failure, dispatch_uid="clinic.audit.login_failed"
        )
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_save

        from clinic import tokens

        post_save.connect(
            tokens.revoke_on_credentials_change,
            sender=get_user_model(),
            dispatch_uid="clinic.tokens.revoke_on_credentials_change",
        )
