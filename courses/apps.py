from django.apps import AppConfig


class CoursesConfig(AppConfig):
    name = "courses"

    def ready(self) -> None:
        from courses.audit import register_audited_models

        register_audited_models()
        from clinic.errors import ConstraintError, register_constraint

        register_constraint(
            "course_one_open_per_patient",
            ConstraintError(
                "course_exists",
                "This patient already has an open course; complete or discontinue it first.",
            ),
        )
        register_constraint(
            "protocol_code_unique_in_clinic",
            ConstraintError("duplicate_code", "A protocol with this code already exists.", "code"),
        )
        register_constraint(
            "protocol_code_unique_in_catalog",
            ConstraintError("duplicate_code", "A protocol with this code already exists.", "code"),
        )
