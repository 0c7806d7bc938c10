"""Lengthening a course and switching its protocol mid-course: the remaining sessions
re-planned all or nothing (a conflict leaves everything as it was), the taper kept at
the end, no second mapping session, and the change on the course's timeline."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from clinic.errors import Conflict
from courses.course_plan import course_phases, extended_phase
from courses.models import CourseChange, CourseStatus, TreatmentCourse
from scheduling.models import Session, SessionStatus
from scheduling.services import course_lengthen, course_schedule, course_switch_protocol
from tests.factories import ChairBlockFactory, ChairFactory, catalog_protocol

pytestmark = pytest.mark.usefixtures("frozen_now")

REPLAN_FROM = dt.date(2026, 12, 14)  # a Monday: sessions 1-10 (30 Nov - 11 Dec) are held


def _occupying(course: Any) -> list[Session]:
    return list(
        Session.objects.filter(
            course=course, status__in=["scheduled", "checked_in", "completed"]
        ).order_by("starts_at")
    )


def _state(course: Any) -> list[tuple[int, str, dt.datetime]]:
    return list(
        Session.objects.filter(course=course)
        .order_by("id")
        .values_list("id", "status", "starts_at")
    )


@pytest.fixture
def booked(make_course: Any, chairs: list[Any]) -> Any:
    course = make_course()  # 10hz-standard: 30 treatments, then taper 3, 2, 1 a week
    course_schedule(course)
    return course


def test_lengthen_adds_treatments_before_the_taper(booked: Any, psychiatrist: Any) -> None:
    before = _occupying(booked)
    held = [s.pk for s in before if s.starts_at.date() < REPLAN_FROM]
    result = course_lengthen(
        booked, by=psychiatrist, sessions=6, reason="Late response", from_date=REPLAN_FROM
    )
    sessions = _occupying(booked)
    assert len(sessions) == 42
    assert [s.pk for s in sessions[:10]] == held  # the held sessions are untouched
    assert Counter(s.kind for s in sessions) == {"mapping": 1, "treatment": 35, "taper": 6}
    # The taper stays at the end, after the added treatments.
    assert [s.kind for s in sessions[-6:]] == ["taper"] * 6
    assert sessions[10].kind == "treatment"  # no second mapping session
    assert sessions[10].starts_at.astimezone(booked.patient.clinic.tz).date() == REPLAN_FROM
    assert len(result.released) == 26 and len(result.booked) == 32
    released = Session.objects.filter(pk__in=[s.pk for s in result.released])
    assert set(released.values_list("status", flat=True)) == {SessionStatus.CANCELLED}
    booked.refresh_from_db()
    assert booked.added_sessions == 6
    change = CourseChange.objects.get(course=booked)
    assert (change.kind, change.sessions_added, change.sessions_replanned) == (
        "lengthened",
        6,
        32,
    )
    assert change.reason == "Late response" and change.by == psychiatrist
    assert change.in_words == "6 sessions added; 32 remaining re-planned from Mon 14 Dec 2026"


def test_lengthen_dry_run_changes_nothing(booked: Any, psychiatrist: Any) -> None:
    before = _state(booked)
    result = course_lengthen(
        booked, by=psychiatrist, sessions=6, reason="Late response", dry_run=True
    )
    assert len(result.booked) == 32 + 10  # from today (25 Nov): nothing held yet
    assert _state(booked) == before
    assert not CourseChange.objects.exists()
    assert TreatmentCourse.objects.get(pk=booked.pk).added_sessions == 0


def test_a_conflict_leaves_everything_unchanged(
    booked: Any, psychiatrist: Any, clinic: Any
) -> None:
    # Every chair is blocked on the first re-planned day.
    last = _occupying(booked)[-1].starts_at
    before = _state(booked)
    for chair in clinic.chairs.all():
        ChairBlockFactory(
            chair=chair,
            starts_at=dt.datetime(2026, 12, 14, 7, tzinfo=clinic.tz),
            ends_at=dt.datetime(2026, 12, 14, 19, tzinfo=clinic.tz),
        )
    with pytest.raises(Conflict) as refused:
        course_lengthen(booked, by=psychiatrist, sessions=2, reason="Late", from_date=REPLAN_FROM)
    assert refused.value.code == "slot_conflict"
    assert refused.value.conflicts[0]["date"] == "2026-12-14"
    assert _state(booked) == before
    assert _occupying(booked)[-1].starts_at == last
    assert TreatmentCourse.objects.get(pk=booked.pk).added_sessions == 0
    assert not CourseChange.objects.exists()


def test_switch_protocol_replans_on_the_new_one(booked: Any, psychiatrist: Any) -> None:
    booked.prescribed_pulses = 3000
    booked.save()
    result = course_switch_protocol(
        booked,
        by=psychiatrist,
        protocol=catalog_protocol("itbs"),
        reason="Shorter visits",
        from_date=REPLAN_FROM,
    )
    sessions = _occupying(booked)
    assert len(sessions) == 36  # iTBS: 30 and the same taper; 10 already held
    replanned = sessions[10:]
    assert [s.pk for s in replanned] == [s.pk for s in result.booked]
    assert all(s.ends_at - s.starts_at == dt.timedelta(minutes=10) for s in replanned)
    assert Counter(s.kind for s in replanned) == {"treatment": 20, "taper": 6}
    booked.refresh_from_db()
    assert booked.protocol.code == "itbs"
    assert booked.prescribed_pulses is None  # the new protocol's 600, not 10 Hz's 3000
    change = CourseChange.objects.get(course=booked)
    assert (change.from_protocol.code, change.to_protocol.code) == ("10hz-standard", "itbs")


def test_switch_to_a_coil_no_chair_has_is_refused_whole(booked: Any, psychiatrist: Any) -> None:
    before = _state(booked)
    with pytest.raises(Conflict):
        course_switch_protocol(
            booked,
            by=psychiatrist,
            protocol=catalog_protocol("deep-tms-h1"),
            reason="Try deep TMS",
            from_date=REPLAN_FROM,
        )
    assert _state(booked) == before
    assert TreatmentCourse.objects.get(pk=booked.pk).protocol.code == "10hz-standard"


def test_switch_drops_a_preferred_chair_without_the_coil(
    booked: Any, psychiatrist: Any, clinic: Any
) -> None:
    deep = ChairFactory(clinic=clinic, name="Deep", coils=["H1"])
    booked.preferred_chair = clinic.chairs.order_by("id").first()
    booked.save()
    course_switch_protocol(
        booked,
        by=psychiatrist,
        protocol=catalog_protocol("deep-tms-h1"),
        reason="Try deep TMS",
        from_date=REPLAN_FROM,
    )
    booked.refresh_from_db()
    assert booked.preferred_chair is None
    assert {s.chair_id for s in _occupying(booked)[10:]} == {deep.pk}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"sessions": 0, "reason": "x"}, "sessions"),
        ({"sessions": 65, "reason": "x"}, "sessions"),  # 36 + 65 is over 100
        ({"sessions": 2, "reason": "  "}, "reason"),
        ({"sessions": 2, "reason": "x", "from_date": dt.date(2026, 11, 24)}, "from_date"),
    ],
)
def test_lengthening_is_checked(booked: Any, psychiatrist: Any, change: Any, field: str) -> None:
    before = _state(booked)
    with pytest.raises(ValidationError) as refused:
        course_lengthen(booked, by=psychiatrist, **change)
    assert list(refused.value.error_dict) == [field]
    assert _state(booked) == before


def test_a_paused_or_ended_course_is_not_replanned(booked: Any, psychiatrist: Any) -> None:
    for status, code in ((CourseStatus.PAUSED, "course_paused"), ("completed", "course_closed")):
        TreatmentCourse.objects.filter(pk=booked.pk).update(status=status)
        with pytest.raises(Conflict) as refused:
            course_lengthen(booked, by=psychiatrist, sessions=2, reason="x")
        assert refused.value.code == code


def test_added_sessions_extend_the_last_phase_that_is_not_a_taper(make_course: Any) -> None:
    standard = make_course(added_sessions=4)
    phases = course_phases(standard)
    assert [(p.kind, p.sessions) for p in phases] == [
        ("treatment", 34),
        ("taper", 3),
        ("taper", 2),
        ("taper", 1),
    ]
    assert [p.sessions for p in standard.protocol.phases.all()] == [30, 3, 2, 1]  # unchanged
    deep = make_course(protocol="deep-tms-h1")
    assert extended_phase(list(deep.protocol.phases.all())).kind == "continuation"
    maintenance = make_course(protocol="maintenance-10hz")
    assert extended_phase(list(maintenance.protocol.phases.all())).every_weeks == 4
