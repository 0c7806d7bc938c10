"""The shape docs/architecture.md describes: every signal a lower app sends has its
receiver in a higher app, and no module of the apps grows past about 500 lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.dispatch import Signal

from clinic import signals as clinic_signals
from clinic.models import Clinic, Patient
from courses import signals as course_signals
from courses.models import Assessment, TreatmentCourse
from scheduling import signals as scheduling_signals
from scheduling.models import Session

ROOT = Path(__file__).resolve().parents[2]
APPS = ("clinic", "courses", "scheduling", "notifications", "interop")
LONGEST_MODULE = 500

SIGNALS = [
    (clinic_signals.patient_consent_changed, Patient),
    (clinic_signals.patient_channels_changed, Patient),
    (clinic_signals.capacity_changed, Clinic),
    (course_signals.risk_inputs_changed, TreatmentCourse),
    (course_signals.course_status_changed, TreatmentCourse),
    (course_signals.assessment_recorded, Assessment),
    (scheduling_signals.sessions_booked, Session),
    (scheduling_signals.session_changed, Session),
    (scheduling_signals.sessions_missed, Session),
    (scheduling_signals.sessions_released, Session),
    (scheduling_signals.sessions_withdrawn, Session),
    (scheduling_signals.makeups_booked, Session),
    (scheduling_signals.session_reinstated, Session),
    (scheduling_signals.session_booked, Session),
    (scheduling_signals.session_completed, Session),
    (scheduling_signals.course_risk_changed, TreatmentCourse),
    (scheduling_signals.waitlist_offers_made, Session),
]


@pytest.mark.parametrize(("signal", "sender"), SIGNALS)
def test_every_signal_is_answered(signal: Signal, sender: type) -> None:
    """A signal nobody answers would drop outbox rows or risk updates without an error."""
    assert signal.has_listeners(sender)


def test_every_signal_module_is_listed_here() -> None:
    declared = {
        name
        for module in (clinic_signals, course_signals, scheduling_signals)
        for name, value in vars(module).items()
        if isinstance(value, Signal)
    }
    listed = {
        name
        for signal, _ in SIGNALS
        for module in (clinic_signals, course_signals, scheduling_signals)
        for name, value in vars(module).items()
        if value is signal
    }
    assert declared == listed


def test_no_module_of_the_apps_is_over_500_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts
        and (lines := len(path.read_text().splitlines())) > LONGEST_MODULE
    }
    assert long == {}
