from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "scheduling"

    def ready(self) -> None:
        from scheduling.audit import register_audited_models

        register_audited_models()
        from clinic import signals as clinic_signals
        from clinic.errors import ConstraintError, register_constraint
        from courses import signals as course_signals
        from courses.models import Authorization
        from scheduling import receivers
        from scheduling import signals as scheduling_signals

        register_constraint(
            "session_chair_no_overlap",
            ConstraintError("slot_conflict", "That chair was just booked by someone else."),
        )
        register_constraint(
            "session_patient_no_overlap",
            ConstraintError("patient_conflict", "The patient already has a session at that time."),
        )
        register_constraint(
            "record_deviation_has_reason",
            ConstraintError(
                "deviation_reason_required",
                "Give a reason for the deviation from the prescription.",
                "deviation_reason",
            ),
        )
        register_constraint(
            "session_initial_code_once_per_course",
            ConstraintError("initial_code_billed", "The course's 90867 is already billed."),
        )
        register_constraint(
            "session_threshold_code_once_per_day",
            ConstraintError(
                "remap_same_day_as_mapping",
                "A motor threshold (90867 or 90869) was already billed that day.",
            ),
        )
        # Before the risk receiver: risk is computed after the sessions are released.
        course_signals.course_status_changed.connect(
            receivers.release_sessions_if_ended, dispatch_uid="scheduling.release_sessions"
        )
        # Before the risk receiver, which is then computed on the marks as they stand.
        course_signals.risk_inputs_changed.connect(
            receivers.refresh_pending_authorization,
            sender=Authorization,
            dispatch_uid="scheduling.refresh_pending_authorization",
        )
        course_signals.risk_inputs_changed.connect(
            receivers.recompute_risk, dispatch_uid="scheduling.recompute_risk"
        )
        # The waitlist's earliest starts are fitted again after a change of capacity.
        course_signals.course_status_changed.connect(
            receivers.waitlist_after_status_change, dispatch_uid="scheduling.waitlist_status"
        )
        clinic_signals.capacity_changed.connect(
            receivers.waitlist_after_capacity_change, dispatch_uid="scheduling.waitlist_capacity"
        )
        scheduling_signals.session_changed.connect(
            receivers.waitlist_after_session_change, dispatch_uid="scheduling.waitlist_session"
        )
        register_constraint(
            "waitlist_one_waiting_entry_per_course",
            ConstraintError("already_waiting", "This course is already on the waitlist."),
        )
