from collections.abc import Callable

from django.apps import AppConfig
from django.dispatch import Signal


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self) -> None:
        from notifications.audit import register_audited_models

        register_audited_models()
        from clinic import signals as clinic_signals
        from clinic.web import register_nav_badge
        from courses import signals as course_signals
        from notifications import inbox_views, receivers, webhook_events
        from scheduling import signals as scheduling_signals

        connections = (
            (clinic_signals.patient_consent_changed, receivers.consent_changed),
            (clinic_signals.patient_channels_changed, receivers.channels_changed),
            (scheduling_signals.sessions_booked, receivers.sessions_booked),
            (scheduling_signals.session_changed, receivers.session_changed),
            (scheduling_signals.sessions_missed, receivers.sessions_missed),
            (scheduling_signals.sessions_released, receivers.sessions_released),
            (scheduling_signals.sessions_withdrawn, receivers.sessions_withdrawn),
            (scheduling_signals.makeups_booked, receivers.makeups_booked),
            (scheduling_signals.session_reinstated, receivers.session_reinstated),
            (scheduling_signals.waitlist_offers_made, receivers.waitlist_offers_made),
        )
        for signal, receiver in connections:
            signal.connect(receiver, dispatch_uid=f"notifications.{receiver.__name__}")
        # The same news, and some more, as signed webhook events (docs/webhooks.md).
        events: tuple[tuple[Signal, Callable[..., None]], ...] = (
            (scheduling_signals.sessions_booked, webhook_events.sessions_booked),
            (scheduling_signals.session_booked, webhook_events.session_booked),
            (scheduling_signals.makeups_booked, webhook_events.makeups_booked),
            (scheduling_signals.session_changed, webhook_events.session_changed),
            (scheduling_signals.sessions_released, webhook_events.sessions_released),
            (scheduling_signals.sessions_withdrawn, webhook_events.sessions_withdrawn),
            (scheduling_signals.session_completed, webhook_events.session_completed),
            (scheduling_signals.sessions_missed, webhook_events.sessions_missed),
            (scheduling_signals.course_risk_changed, webhook_events.course_risk_changed),
            (course_signals.course_status_changed, webhook_events.course_status_changed),
            (course_signals.assessment_recorded, webhook_events.assessment_recorded),
        )
        for signal, receiver in events:
            signal.connect(receiver, dispatch_uid=f"notifications.webhooks.{receiver.__name__}")
        # The front desk sees in the navigation how many patient texts wait for them.
        register_nav_badge("patient-messages", inbox_views.unhandled_badge)
