from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "scheduling"

    def ready(self) -> None:
        from clinic.errors import ConstraintError, register_constraint

        register_constraint(
            "session_chair_no_overlap",
            ConstraintError("slot_conflict", "That chair was just booked by someone else."),
        )
        register_constraint(
            "session_patient_no_overlap",
            ConstraintError("patient_conflict", "The patient already has a session at that time."),
        )
