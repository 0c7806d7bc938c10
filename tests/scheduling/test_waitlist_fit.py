"""The waitlist's earliest start (scheduling.waitlist) against a brute force: on
generated small calendars (chairs with and without the protocol's coil, opening hours,
closures, chair blocks, other patients' sessions, a course shape, the entry's times,
weekdays and first day), the earliest start is the first open day, on the entry's
weekdays, from which the booking service itself (a dry run, one fresh calendar read
per day) books every session. The clock sits three weeks before New York's spring
DST change, so generated courses cross it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.db import connection, transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from clinic.errors import Conflict
from clinic.models import ChairBlock, Closure, OpeningHours, Role
from courses.models import CourseStatus, CourseType, TreatmentCourse
from scheduling import services
from scheduling.calendar import local_datetime
from scheduling.models import Session, SessionStatus, WaitlistEntry
from scheduling.services.booking import FAILURE_MESSAGES
from scheduling.services.waitlist import waiting_entries
from scheduling.waitlist import earliest_starts
from tests.factories import (
    ChairFactory,
    ClinicFactory,
    CourseFactory,
    MembershipFactory,
    MotorThresholdFactory,
    PatientFactory,
    ProtocolFactory,
    cleared_screening,
)

# Wednesday 24 February 2027, noon in New York; clocks spring forward on 14 March.
NOW = dt.datetime(2027, 2, 24, 17, 0, tzinfo=dt.UTC)
TODAY = dt.date(2027, 2, 24)

phases = st.lists(
    st.tuples(st.integers(1, 5), st.sampled_from([1, 2, 3, 5]), st.sampled_from([1, 1, 2])),
    min_size=1,
    max_size=2,
)
calendars = st.fixed_dictionaries(
    {
        "chairs_fit": st.lists(st.sampled_from([True, True, False]), min_size=1, max_size=3),
        "opens": st.sampled_from([dt.time(8), dt.time(9)]),
        "closes": st.sampled_from([dt.time(12), dt.time(13, 30)]),
        "saturday": st.booleans(),
        "closures": st.lists(st.integers(0, 30), max_size=4),
        "sessions": st.lists(
            st.tuples(st.integers(0, 2), st.integers(0, 12), st.integers(0, 5)), max_size=100
        ),
        # (day, minutes from the wished time): near it, so the patient's own time matters
        "own_sessions": st.lists(
            st.tuples(st.integers(0, 6), st.sampled_from([-30, 0, 15])), max_size=6
        ),
        "blocks": st.lists(
            st.tuples(st.integers(0, 2), st.integers(0, 30), st.integers(1, 4)), max_size=3
        ),
        "phases": phases,
        "slot_minutes": st.sampled_from([30, 45]),
        "mapping_minutes": st.sampled_from([45, 60]),
        "maintenance_threshold_days_ago": st.none() | st.integers(0, 120),
        "preferred": st.integers(0, 7),  # half hours from 08:00
        "flex": st.sampled_from([0, 15, 30, 60]),
        "direction": st.sampled_from(["around", "before", "after"]),
        "weekdays": st.integers(1, 127),
        "not_before": st.integers(0, 10),
        "horizon_weeks": st.integers(1, 4),
    }
)


def _build(data: dict[str, Any]) -> WaitlistEntry:
    clinic = ClinicFactory(weekday_hours=False)
    weekdays = [*range(5), *([5] if data["saturday"] else [])]
    OpeningHours.objects.bulk_create(
        OpeningHours(clinic=clinic, weekday=day, opens=data["opens"], closes=data["closes"])
        for day in weekdays
    )
    first = TODAY + dt.timedelta(days=1)
    Closure.objects.bulk_create(
        Closure(clinic=clinic, date=first + dt.timedelta(days=offset), reason="closed")
        for offset in set(data["closures"])
    )
    chairs = [
        ChairFactory(clinic=clinic, name=f"Chair {n}", coils=["figure-8"] if fits else ["H1"])
        for n, fits in enumerate(data["chairs_fit"])
    ]
    psychiatrist = MembershipFactory(clinic=clinic, role=Role.PSYCHIATRIST).user
    # Other patients' sessions: one patient a chair, on a grid of 45-minute slots.
    taken = {(c % len(chairs), day, slot) for c, day, slot in data["sessions"]}
    others = {n: CourseFactory(patient__clinic=clinic, psychiatrist=psychiatrist) for n in range(3)}
    Session.objects.bulk_create(
        Session(
            course=others[c],
            patient_id=others[c].patient_id,
            chair=chairs[c],
            starts_at=(start := _at(clinic, first + dt.timedelta(days=day), 8 * 60 + 45 * slot)),
            ends_at=start + dt.timedelta(minutes=40),
            kind="treatment",
            phase=1,
            status=SessionStatus.SCHEDULED,
        )
        for c, day, slot in taken
    )
    for c, day, hours in data["blocks"]:
        start = _at(clinic, first + dt.timedelta(days=day), 9 * 60)
        ChairBlock.objects.create(
            chair=chairs[c % len(chairs)],
            starts_at=start,
            ends_at=start + dt.timedelta(hours=hours),
            reason="service",
        )
    protocol = ProtocolFactory(
        clinic=clinic,
        slot_minutes=data["slot_minutes"],
        mapping_minutes=data["mapping_minutes"],
        phases=[],
    )
    protocol.phases.all().delete()
    for order, (sessions, per_week, every) in enumerate(data["phases"], 1):
        protocol.phases.create(order=order, sessions=sessions, per_week=per_week, every_weeks=every)
    patient = PatientFactory(clinic=clinic)
    cleared_screening(patient, by=psychiatrist)
    fields: dict[str, Any] = {}
    if data["maintenance_threshold_days_ago"] is not None:
        acute = CourseFactory(
            patient=patient, psychiatrist=psychiatrist, status=CourseStatus.COMPLETED
        )
        MotorThresholdFactory(
            course=acute,
            measured_on=TODAY - dt.timedelta(days=data["maintenance_threshold_days_ago"]),
        )
        fields = {"type": CourseType.MAINTENANCE, "follows": acute}
    preferred = dt.time(8 + data["preferred"] // 2, 30 * (data["preferred"] % 2))
    wished = preferred.hour * 60 + preferred.minute
    # The waiting patient's own sessions (of another course), on a chair without the
    # protocol's coil: they keep the patient busy without adding room.
    elsewhere = ChairFactory(clinic=clinic, name="Deep TMS", coils=["H1"])
    earlier = CourseFactory(patient=patient, psychiatrist=psychiatrist, status="completed")
    Session.objects.bulk_create(
        Session(
            course=earlier,
            patient_id=patient.pk,
            chair=elsewhere,
            starts_at=(start := _at(clinic, first + dt.timedelta(days=day), wished + shift)),
            ends_at=start + dt.timedelta(minutes=20),
            kind="treatment",
            phase=1,
        )
        for day, shift in dict(data["own_sessions"]).items()  # one a day
    )
    course = CourseFactory(
        patient=patient,
        psychiatrist=psychiatrist,
        protocol=protocol,
        start_date=TODAY,
        preferred_time=preferred,
        **fields,
    )
    return WaitlistEntry.objects.create(
        clinic=clinic,
        course=course,
        time_preference=data["direction"],
        preferred_time=preferred,
        time_flex_minutes=data["flex"],
        weekdays=data["weekdays"],
        not_before=TODAY + dt.timedelta(days=data["not_before"]),
    )


def _at(clinic: Any, day: dt.date, minutes: int) -> dt.datetime:
    return local_datetime(day, dt.time(minutes // 60, minutes % 60), clinic.tz)


def brute_force(entry: WaitlistEntry, horizon_weeks: int) -> dt.date | None:
    """Every day in order: an open day on the entry's weekdays from which the booking
    service (a dry run, its own calendar read) books the whole course."""
    clinic = entry.clinic
    open_weekdays = set(clinic.opening_hours.values_list("weekday", flat=True))
    closed = set(Closure.objects.filter(clinic=clinic).values_list("date", flat=True))
    first = TODAY + dt.timedelta(days=1)
    day = max(first, entry.not_before)
    while day <= first + dt.timedelta(weeks=horizon_weeks):
        if entry.starts_on(day) and day.weekday() in open_weekdays and day not in closed:
            TreatmentCourse.objects.filter(pk=entry.course_id).update(start_date=day)
            try:
                services.course_schedule_booking(
                    entry.course,
                    time_flex_minutes=entry.time_flex_minutes,
                    flex_direction=entry.time_preference,
                    dry_run=True,
                )
            except Conflict as refused:
                assert refused.code in FAILURE_MESSAGES
            else:
                return day
        day += dt.timedelta(days=1)
    return None


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=calendars)
def test_earliest_start_matches_brute_force(db: None, data: dict[str, Any]) -> None:
    with time_machine.travel(NOW, tick=False), transaction.atomic():
        entry = _build(data)
        clinic = entry.clinic
        entries = list(waiting_entries(clinic.pk))
        found = earliest_starts(clinic, entries, horizon_weeks=data["horizon_weeks"])[entry.pk]
        expected = brute_force(entry, data["horizon_weeks"])
        transaction.set_rollback(True)
    first = max(TODAY + dt.timedelta(days=1), entry.not_before)
    event(
        "no fit"
        if expected is None
        else "fits from the first day"
        if expected <= first + dt.timedelta(days=3)
        else "fits later"
    )
    assert found == expected


@pytest.mark.django_db
def test_the_search_reads_the_calendar_once_for_many_entries(
    django_assert_num_queries: Any,
) -> None:
    """Fitting ten waiting courses costs the queries of fitting one: the entries and
    their phases, the motor thresholds, the chairs, the calendar, the patients' sessions."""
    with time_machine.travel(NOW, tick=False):
        clinic = ClinicFactory()
        ChairFactory(clinic=clinic)
        psychiatrist = MembershipFactory(clinic=clinic, role=Role.PSYCHIATRIST).user
        for _ in range(10):
            patient = PatientFactory(clinic=clinic)
            course = CourseFactory(patient=patient, psychiatrist=psychiatrist)
            WaitlistEntry.objects.create(
                clinic=clinic, course=course, preferred_time=dt.time(9), not_before=TODAY
            )
        clinic = type(clinic).objects.prefetch_related("opening_hours").get(pk=clinic.pk)
        # The calendar is one statement on PostgreSQL, three on SQLite (no patient read).
        with django_assert_num_queries(6 if connection.vendor == "postgresql" else 8):
            entries = list(waiting_entries(clinic.pk))
            fits = earliest_starts(clinic, entries)
    assert len(fits) == 10
    assert all(fit is not None for fit in fits.values())


@pytest.mark.django_db
def test_the_patients_own_sessions_push_the_start() -> None:
    """A session of the patient's at the wished time on the first open day (no flex):
    the course starts the day after."""
    with time_machine.travel(NOW, tick=False):
        data = {
            "chairs_fit": [True],
            "opens": dt.time(8),
            "closes": dt.time(13, 30),
            "saturday": False,
            "closures": [],
            "sessions": [],
            "own_sessions": [(0, 0)],  # Thursday 25 February, 09:30
            "blocks": [],
            "phases": [(1, 1, 1)],
            "slot_minutes": 30,
            "mapping_minutes": 45,
            "maintenance_threshold_days_ago": None,
            "preferred": 3,  # 09:30
            "flex": 0,
            "direction": "around",
            "weekdays": 0b11111,
            "not_before": 0,
            "horizon_weeks": 2,
        }
        entry = _build(data)
        fits = earliest_starts(entry.clinic, list(waiting_entries(entry.clinic_id)))
        assert brute_force(entry, 2) == fits[entry.pk] == dt.date(2027, 2, 26)
