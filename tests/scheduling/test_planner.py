"""Whole-course planning: cadence, closures, weekends, continuity, DST, all-or-nothing."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.errors import Conflict
from scheduling.models import Session
from scheduling.services import course_schedule
from tests.factories import ChairBlockFactory, ChairFactory, ClosureFactory

pytestmark = pytest.mark.usefixtures("frozen_now")


def _local(session: Session) -> dt.datetime:
    return session.starts_at.astimezone(session.chair.clinic.tz)


def _sessions(course: Any) -> list[Session]:
    return list(
        Session.objects.filter(course=course).with_sequence().select_related("chair__clinic")
    )


def test_standard_course_layout(make_course: Any, chairs: list[Any]) -> None:
    course = make_course()
    course_schedule(course)
    sessions = _sessions(course)
    assert len(sessions) == 36
    assert [s.sequence for s in sessions] == list(range(1, 37))
    mapping = sessions[0]
    assert mapping.kind == "mapping"
    assert mapping.ends_at - mapping.starts_at == dt.timedelta(minutes=60)
    assert all(s.ends_at - s.starts_at == dt.timedelta(minutes=40) for s in sessions[1:])
    assert Counter(s.kind for s in sessions) == {"mapping": 1, "treatment": 29, "taper": 6}
    days = [_local(s).date() for s in sessions]
    assert days[0] == dt.date(2026, 11, 30)
    acute, taper3, taper2, taper1 = days[:30], days[30:33], days[33:35], days[35:]
    assert all(day.weekday() < 5 for day in acute)
    assert len(set(acute)) == 30
    assert [d.weekday() for d in taper3] == [0, 2, 4]
    assert [d.weekday() for d in taper2] == [1, 3]
    assert [d.weekday() for d in taper1] == [0]  # the course started on a Monday
    # each taper phase starts in the week after the previous phase ended
    assert taper3[0] == acute[-1] + dt.timedelta(days=3)
    assert all(_local(s).time() == dt.time(9, 30) for s in sessions)
    assert len({s.chair_id for s in sessions}) == 1  # continuity


def test_closures_and_weekends_lose_no_session(
    make_course: Any, chairs: list[Any], clinic: Any
) -> None:
    ClosureFactory(clinic=clinic, date=dt.date(2026, 12, 24))
    ClosureFactory(clinic=clinic, date=dt.date(2026, 12, 25))
    ClosureFactory(clinic=clinic, date=dt.date(2027, 1, 1))
    course = make_course()
    course_schedule(course)
    days = [_local(s).date() for s in _sessions(course)]
    assert len(days) == 36
    assert not {dt.date(2026, 12, 24), dt.date(2026, 12, 25), dt.date(2027, 1, 1)} & set(days)
    assert all(day.weekday() < 5 for day in days)


@pytest.mark.parametrize(
    ("protocol", "total", "per_day"),
    # SNT: its motor-threshold session on a day of its own, then 50 treatments.
    [("10hz-dash", 36, 1), ("itbs", 36, 1), ("deep-tms-h1", 44, 1), ("snt-accelerated", 51, 10)],
)
def test_every_protocol_gets_its_number_of_sessions(
    make_course: Any,
    chairs: list[Any],
    h1_chair: Any,
    protocol: str,
    total: int,
    per_day: int,
) -> None:
    course = make_course(protocol=protocol, at=dt.time(7, 30))
    course_schedule(course)
    sessions = _sessions(course)
    assert len(sessions) == total
    per_date = Counter(_local(s).date() for s in sessions)
    assert max(per_date.values()) == per_day


def test_accelerated_sessions_keep_the_gap(make_course: Any, chairs: list[Any]) -> None:
    course = make_course(protocol="snt-accelerated", at=dt.time(7, 30))
    course_schedule(course)
    sessions = _sessions(course)
    first_day = [s for s in sessions if _local(s).date() == dt.date(2026, 12, 1)]
    assert len(first_day) == 10
    for earlier, later in itertools.pairwise(first_day):
        # 50 minutes from the end of one 10-minute stimulation to the next start
        stimulation_ends = earlier.starts_at + dt.timedelta(minutes=10)
        assert later.starts_at - stimulation_ends >= dt.timedelta(minutes=50)
        assert later.starts_at >= earlier.ends_at
    treatment_days = {_local(s).date() for s in sessions if s.kind != "mapping"}
    assert len(treatment_days) == 5


def test_deep_tms_continuation_is_twice_a_week(make_course: Any, h1_chair: Any) -> None:
    course = make_course(protocol="deep-tms-h1")
    course_schedule(course)
    continuation = [_local(s).date() for s in _sessions(course)][20:]
    assert len(continuation) == 24
    assert {day.weekday() for day in continuation} == {1, 3}
    kinds = [s.kind for s in _sessions(course)]
    assert kinds[20:] == ["continuation"] * 24  # not "taper": it keeps a steady cadence


def test_preferred_chair_then_any_free_chair(make_course: Any, chairs: list[Any]) -> None:
    first = make_course()
    course_schedule(first)
    second = make_course(preferred_chair=chairs[0])
    course_schedule(second)
    taken = {s.chair_id for s in _sessions(first)}
    second_chairs = {s.chair_id for s in _sessions(second)}
    assert (len(second_chairs) == 1 and not taken & second_chairs) or second_chairs == {
        chairs[0].pk
    }


def test_all_or_nothing_with_the_dates_it_could_not_place(make_course: Any, clinic: Any) -> None:
    only = ChairFactory(clinic=clinic)
    ChairBlockFactory(
        chair=only,
        starts_at=dt.datetime(2026, 12, 2, 14, 0, tzinfo=dt.UTC),  # 09:00-11:00 New York
        ends_at=dt.datetime(2026, 12, 2, 16, 0, tzinfo=dt.UTC),
    )
    course = make_course()
    with pytest.raises(Conflict) as raised:
        course_schedule(course)
    assert raised.value.code == "slot_conflict"
    assert raised.value.conflicts[0]["date"] == "2026-12-02"
    assert not Session.objects.filter(course=course).exists()


def test_time_flex_finds_a_nearby_slot(make_course: Any, clinic: Any) -> None:
    only = ChairFactory(clinic=clinic)
    ChairBlockFactory(
        chair=only,
        starts_at=dt.datetime(2026, 12, 2, 14, 0, tzinfo=dt.UTC),
        ends_at=dt.datetime(2026, 12, 2, 15, 0, tzinfo=dt.UTC),  # 09:00-10:00
    )
    course = make_course()
    course_schedule(course, time_flex_minutes=30)
    moved = [s for s in _sessions(course) if _local(s).date() == dt.date(2026, 12, 2)]
    assert _local(moved[0]).time() == dt.time(10, 0)


def test_late_preferred_time_is_outside_hours(make_course: Any, chairs: list[Any]) -> None:
    course = make_course(at=dt.time(18, 45))
    with pytest.raises(Conflict) as raised:
        course_schedule(course)
    assert raised.value.code == "outside_hours"


# PostgreSQL's: on SQLite Django splits bulk_create into statements of at most 999
# parameters (about 45 sessions since the billing fields), so the count grows there.
@pytest.mark.postgres
def test_query_count_does_not_grow_with_course_length(
    make_course: Any, chairs: list[Any], h1_chair: Any
) -> None:
    def queries(protocol: str) -> list[str]:
        course = make_course(protocol=protocol, at=dt.time(7, 30))
        with CaptureQueriesContext(connection) as captured:
            course_schedule(course)
        return [
            query["sql"]
            for query in captured
            if not query["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK"))
        ]

    short = queries("itbs")
    long = queries("deep-tms-h1")
    accelerated = queries("snt-accelerated")
    assert len(short) == len(long) == len(accelerated)
    # The locked course, what planning needs, the chairs, the busy time, the sessions'
    # INSERT, the course-booked notice's INSERT and the risk level's UPDATE (was 12: a
    # new course's assessments, authorizations and their codes are no longer read, nor
    # the webhook endpoints of a clinic that has none, twice).
    assert len(short) == 7
    read = " ".join(short)
    for table in ("notifications_webhookendpoint", "courses_assessment", "courses_authorization"):
        assert f'FROM "{table}"' not in read and f'JOIN "{table}"' not in read


@pytest.mark.parametrize(
    ("start", "label"),
    [
        (dt.date(2027, 3, 1), "spring forward, Sun 14 Mar"),
        (dt.date(2026, 10, 19), "fall back, Sun 1 Nov"),
    ],
)
def test_wall_clock_time_survives_dst(
    make_course: Any, chairs: list[Any], start: dt.date, label: str, frozen_now: Any
) -> None:
    frozen_now.move_to(dt.datetime.combine(start - dt.timedelta(days=3), dt.time(12), dt.UTC))
    course = make_course(start=start)
    course_schedule(course)
    sessions = _sessions(course)
    assert {_local(s).time() for s in sessions} == {dt.time(9, 30)}, label
    offsets = {s.starts_at.astimezone(s.chair.clinic.tz).utcoffset() for s in sessions}
    assert len(offsets) == 2  # both EST and EDT instants were used


def test_clinic_without_dst(make_course: Any, no_dst_clinic: Any, frozen_now: Any) -> None:
    frozen_now.move_to(dt.datetime(2027, 3, 5, 12, tzinfo=dt.UTC))
    ChairFactory(clinic=no_dst_clinic)
    course = make_course(start=dt.date(2027, 3, 8), in_clinic=no_dst_clinic)
    course_schedule(course)
    sessions = _sessions(course)
    assert {_local(s).time() for s in sessions} == {dt.time(9, 30)}
    assert {s.starts_at.astimezone(dt.UTC).time() for s in sessions} == {dt.time(16, 30)}
