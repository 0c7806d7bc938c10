"""A stateful property test of the booking and attendance services.

Hypothesis drives random sequences of book, move, check-in, complete, cancel and
mark-missed over three cleared courses and two chairs. Each call either succeeds or is
refused with a Conflict or a ValidationError; a small model predicts which (and the
refusal code), a refusal must change nothing, and after every step the database must
hold the scheduling invariants. Each example runs inside a savepoint that is rolled
back, on a frozen clock that only a rule moves (forward), so examples start clean and
replay identically.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

import hypothesis
import time_machine
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from clinic.errors import Conflict
from clinic.models import Role
from courses.models import CourseStatus
from scheduling import services
from scheduling.models import (
    OCCUPYING,
    UPCOMING,
    Session,
    SessionKind,
    SessionStatus,
    TreatmentRecord,
)
from tests.factories import (
    ChairFactory,
    ClinicFactory,
    CourseFactory,
    MembershipFactory,
    PatientFactory,
    catalog_protocol,
    cleared_screening,
)
from tests.scheduling.conftest import NOW

NEW_YORK = ZoneInfo("America/New_York")
OPENS, CLOSES = dt.time(7, 30), dt.time(19)
SLOT = dt.timedelta(minutes=40)  # 10hz-standard: 40-minute sessions, a 60-minute mapping
MAPPING = dt.timedelta(minutes=60)
SESSIONS_PER_DAY = 1
# Mon 30 Nov - Wed 2 Dec 2026, after NOW (Wed 25 Nov). 9:30 is the courses' preferred
# time, where make-ups land; 18:30 leaves no room before closing.
DAYS = (dt.date(2026, 11, 30), dt.date(2026, 12, 1), dt.date(2026, 12, 2))
TIMES = (dt.time(9), dt.time(9, 30), dt.time(9, 50), dt.time(18, 30))
GRID = [dt.datetime.combine(day, at, tzinfo=NEW_YORK) for day in DAYS for at in TIMES]
# Instants the clock may move to (from NOW): during and after the sessions of the grid,
# so that booking into the past and marking a started session missed both come up, and
# shortly before one (18:00: the 18:30 session is open for check-in, not yet started).
CLOCK = [
    dt.datetime.combine(day, at, tzinfo=NEW_YORK)
    for day in DAYS
    for at in (dt.time(9, 40), dt.time(12), dt.time(18), dt.time(20))
]
# The one step each attendance action may take.
NEXT_STATUS: dict[str, set[str]] = {
    SessionStatus.SCHEDULED: {
        SessionStatus.CHECKED_IN,
        SessionStatus.MISSED,
        SessionStatus.CANCELLED,
    },
    SessionStatus.CHECKED_IN: {SessionStatus.COMPLETED, SessionStatus.CANCELLED},
    SessionStatus.COMPLETED: set(),
    SessionStatus.MISSED: set(),
    SessionStatus.CANCELLED: set(),
}
STAMP = {
    SessionStatus.CHECKED_IN: "checked_in_at",
    SessionStatus.COMPLETED: "completed_at",
    SessionStatus.MISSED: "missed_at",
    SessionStatus.CANCELLED: "cancelled_at",
}
FIELDS = ("id", "course_id", "patient_id", "chair_id", "starts_at", "ends_at", "status")
FIELDS += ("kind", "phase", "makeup_for_id")

session_index = st.integers(min_value=0, max_value=63)
live_only = st.booleans()
chair_choice = st.sampled_from([0, 1, None])


def _overlap(a_start: Any, a_end: Any, b_start: Any, b_end: Any) -> bool:
    return a_start < b_end and b_start < a_end


class BookingMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.traveller = time_machine.travel(NOW, tick=False)
        self.clock = self.traveller.start()
        self.now = NOW
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        try:
            self._create_clinic()
        except BaseException:
            self.teardown()
            raise
        self.seen: dict[int, str] = {}

    def _create_clinic(self) -> None:
        clinic = ClinicFactory()
        # Fixed names: the services order chairs by name, and factory sequence numbers
        # grow between examples, which would make replays differ.
        self.chairs = [ChairFactory(clinic=clinic, name=name) for name in ("Chair A", "Chair B")]
        psychiatrist = MembershipFactory(clinic=clinic, role=Role.PSYCHIATRIST).user
        self.technician = MembershipFactory(clinic=clinic, role=Role.TECHNICIAN).user
        protocol = catalog_protocol("10hz-standard")
        self.courses = []
        for _ in range(3):
            patient = PatientFactory(clinic=clinic)
            cleared_screening(patient, by=psychiatrist)
            self.courses.append(
                CourseFactory(
                    patient=patient,
                    psychiatrist=psychiatrist,
                    protocol=protocol,
                    start_date=DAYS[0],
                    preferred_time=dt.time(9, 30),
                )
            )

    def teardown(self) -> None:
        try:
            transaction.set_rollback(True)
            self.atomic.__exit__(None, None, None)
        finally:
            self.traveller.stop()

    # --- reading the database -------------------------------------------------------

    def _rows(self) -> list[dict[str, Any]]:
        return list(Session.objects.order_by("id").values(*FIELDS))

    def _pick(self, index: int, live: bool) -> Session | None:
        """A session by position in id order; ``live`` picks among the scheduled and
        checked-in ones only, so refusals do not crowd out the interesting cases."""
        sessions = Session.objects.order_by("id")
        if live:
            sessions = sessions.filter(status__in=UPCOMING)
        ids = list(sessions.values_list("id", flat=True))
        return Session.objects.get(pk=ids[index % len(ids)]) if ids else None

    def _expected_slot(
        self,
        patient_id: int,
        chair_id: int | None,
        start: dt.datetime,
        end: dt.datetime,
        ignore: int | None = None,
    ) -> str | None:
        """The refusal code the services should give for this slot, or None."""
        local_start, local_end = start.astimezone(NEW_YORK), end.astimezone(NEW_YORK)
        if (
            local_start.weekday() >= 5
            or local_start.time() < OPENS
            or local_end.date() != local_start.date()
            or local_end.time() > CLOSES
        ):
            return "outside_hours"
        others = [row for row in self._rows() if row["status"] in OCCUPYING and row["id"] != ignore]
        mine = [row for row in others if row["patient_id"] == patient_id]
        if any(_overlap(start, end, row["starts_at"], row["ends_at"]) for row in mine):
            return "patient_conflict"
        same_day = [
            row
            for row in mine
            if row["starts_at"].astimezone(NEW_YORK).date() == local_start.date()
        ]
        if len(same_day) >= SESSIONS_PER_DAY:
            return "patient_conflict"
        candidates = [chair_id] if chair_id is not None else [c.pk for c in self.chairs]
        for candidate in candidates:
            if not any(
                row["chair_id"] == candidate
                and _overlap(start, end, row["starts_at"], row["ends_at"])
                for row in others
            ):
                return None
        return "slot_conflict"

    def _call(self, name: str, expected: str | None, action: Any) -> Any:
        """Run a service call the model expects to succeed (None) or be refused with
        ``expected``; a refusal must leave the database as it was."""
        event(f"{name}: {expected or 'ok'}")  # see --hypothesis-show-statistics
        before = self._rows()
        try:
            result = action()
        except Conflict as exc:
            assert exc.code == expected, f"refused with {exc.code!r}, expected {expected!r}"
            assert self._rows() == before, "a refused call changed the database"
            return None
        except ValidationError as exc:
            assert expected == "invalid", f"ValidationError {exc}, expected {expected!r}"
            assert self._rows() == before, "a refused call changed the database"
            return None
        assert expected is None, f"succeeded, expected a refusal {expected!r}"
        return result

    # --- rules ----------------------------------------------------------------------

    @rule(
        course_index=st.integers(min_value=0, max_value=2),
        start=st.sampled_from(GRID),
        chair_index=chair_choice,
        kind=st.sampled_from([SessionKind.TREATMENT, SessionKind.MAPPING]),
    )
    def book(
        self, course_index: int, start: dt.datetime, chair_index: int | None, kind: str
    ) -> None:
        course = self.courses[course_index]
        chair = None if chair_index is None else self.chairs[chair_index]
        end = start + (MAPPING if kind == SessionKind.MAPPING else SLOT)
        has_mapping = Session.objects.filter(
            course=course, kind=SessionKind.MAPPING, status__in=OCCUPYING
        ).exists()
        expected = (
            "invalid"
            if start < self.now or (kind == SessionKind.MAPPING and has_mapping)
            else self._expected_slot(course.patient_id, chair and chair.pk, start, end)
        )
        session = self._call(
            "book",
            expected,
            lambda: services.session_book(course, starts_at=start, chair=chair, kind=kind),
        )
        if session is not None:
            assert session.status == SessionStatus.SCHEDULED
            assert (session.starts_at, session.ends_at) == (start, end)
            assert session.kind == kind and session.course_id == course.pk
            assert session.patient_id == course.patient_id
            if chair is not None:
                assert session.chair_id == chair.pk

    @rule(
        index=session_index,
        live=live_only,
        start=st.none() | st.sampled_from(GRID),
        chair_index=chair_choice,
    )
    def move(
        self, index: int, live: bool, start: dt.datetime | None, chair_index: int | None
    ) -> None:
        session = self._pick(index, live)
        if session is None:
            return
        chair = None if chair_index is None else self.chairs[chair_index]
        new_start = start or session.starts_at
        new_end = new_start + (session.ends_at - session.starts_at)
        new_chair_id = chair.pk if chair is not None else session.chair_id
        if session.status != SessionStatus.SCHEDULED:
            expected: str | None = "invalid_transition"
        elif start is not None and start < self.now:
            expected = "invalid"
        else:
            expected = self._expected_slot(
                session.patient_id, new_chair_id, new_start, new_end, ignore=session.pk
            )
        moved = self._call(
            "move", expected, lambda: services.session_move(session, starts_at=start, chair=chair)
        )
        if moved is not None:
            assert (moved.starts_at, moved.ends_at) == (new_start, new_end)
            assert moved.chair_id == new_chair_id
            assert moved.status == SessionStatus.SCHEDULED

    def _transition(
        self, index: int, live: bool, action: Any, sources: set[str], target: str
    ) -> None:
        session = self._pick(index, live)
        if session is None:
            return
        if target == SessionStatus.CHECKED_IN and session.status == SessionStatus.MISSED:
            return  # a late patient's check-in: tests/scheduling/test_undo.py
        allowed = session.status in sources
        if target == SessionStatus.MISSED:  # only once the session has started
            allowed = allowed and session.starts_at <= self.now
        expected = None if allowed else "invalid_transition"
        # The clinic's clock rules: check-in opens an hour before (the default), and a
        # session is completed once it has started.
        opens = session.starts_at - dt.timedelta(minutes=60)
        if allowed and target == SessionStatus.CHECKED_IN and self.now < opens:
            expected = "too_early"
        if allowed and target == SessionStatus.COMPLETED and session.starts_at > self.now:
            expected = "not_started"
        changed = self._call(target, expected, lambda: action(session))
        if changed is None:
            return
        assert changed.status == target
        assert getattr(changed, STAMP[target]) == self.now
        if target == SessionStatus.CHECKED_IN:  # the first check-in starts the course
            assert changed.course.status == CourseStatus.ACTIVE
        if target in (SessionStatus.CANCELLED, SessionStatus.MISSED):
            self._check_makeup_for(changed)

    def _check_makeup_for(self, lost: Session) -> None:
        """The clinic books make-ups (the default), and the course window has plenty of
        room: the lost session gets one, on a later day than every other session of the
        course in the same phase."""
        makeup = Session.objects.filter(makeup_for=lost).first()
        assert makeup is not None, f"no make-up for {lost}"
        assert makeup.kind == SessionKind.MAKEUP and makeup.status == SessionStatus.SCHEDULED
        assert makeup.course_id == lost.course_id and makeup.phase == lost.phase
        assert makeup.ends_at - makeup.starts_at == SLOT
        assert makeup.starts_at.astimezone(NEW_YORK).time() == dt.time(9, 30)
        others = Session.objects.filter(
            course_id=lost.course_id, phase=lost.phase, status__in=OCCUPYING
        ).exclude(pk=makeup.pk)
        makeup_day = makeup.starts_at.astimezone(NEW_YORK).date()
        assert all(s.starts_at.astimezone(NEW_YORK).date() < makeup_day for s in others)

    @rule(index=session_index, live=live_only)
    def check_in(self, index: int, live: bool) -> None:
        self._transition(
            index,
            live,
            services.session_check_in,
            {SessionStatus.SCHEDULED},
            SessionStatus.CHECKED_IN,
        )

    @rule(index=session_index, live=live_only)
    def complete(self, index: int, live: bool) -> None:
        def complete(session: Session) -> Session:
            return services.session_complete(
                session,
                technician=self.technician,
                pulses_delivered=3000,
                intensity_pct_mt=120,
                coil_position="F3",
            )

        self._transition(index, live, complete, {SessionStatus.CHECKED_IN}, SessionStatus.COMPLETED)

    @rule(index=session_index, live=live_only)
    def cancel(self, index: int, live: bool) -> None:
        def cancel(session: Session) -> Session:
            return services.session_cancel(session, reason="patient asked")

        self._transition(
            index,
            live,
            cancel,
            {SessionStatus.SCHEDULED, SessionStatus.CHECKED_IN},
            SessionStatus.CANCELLED,
        )

    @rule(index=session_index, live=live_only)
    def mark_missed(self, index: int, live: bool) -> None:
        self._transition(
            index,
            live,
            services.session_mark_missed,
            {SessionStatus.SCHEDULED},
            SessionStatus.MISSED,
        )

    @rule(to=st.sampled_from(CLOCK))
    def time_passes(self, to: dt.datetime) -> None:
        """The clock only moves forward: to a morning, noon or evening of the week."""
        if to > self.now:
            self.clock.move_to(to)
            self.now = to

    # --- invariants -----------------------------------------------------------------

    @invariant()
    def database_holds_the_invariants(self) -> None:
        rows = self._rows()
        by_id = {row["id"]: row for row in rows}
        occupying = [row for row in rows if row["status"] in OCCUPYING]

        for row in rows:
            assert row["ends_at"] > row["starts_at"], row
            length = MAPPING if row["kind"] == SessionKind.MAPPING else SLOT
            assert row["ends_at"] - row["starts_at"] == length, ("slot length", row)

        by_chair: dict[int, list[dict[str, Any]]] = defaultdict(list)
        by_patient: dict[int, list[dict[str, Any]]] = defaultdict(list)
        by_course: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for row in occupying:
            by_chair[row["chair_id"]].append(row)
            by_patient[row["patient_id"]].append(row)
            by_course[row["course_id"]].append(row)
        for group in (*by_chair.values(), *by_patient.values()):
            group.sort(key=lambda row: (row["starts_at"], row["id"]))
            for earlier, later in itertools.pairwise(group):
                assert later["starts_at"] >= earlier["ends_at"], ("overlap", earlier, later)
        for patient_rows in by_patient.values():
            per_day = defaultdict(int)
            for row in patient_rows:
                per_day[row["starts_at"].astimezone(NEW_YORK).date()] += 1
            assert max(per_day.values()) <= SESSIONS_PER_DAY, ("sessions per day", patient_rows)

        numbered = (
            Session.objects.with_sequence()
            .filter(status__in=OCCUPYING)
            .order_by("course_id", "starts_at", "id")
            .values_list("course_id", "sequence")
        )
        sequences: dict[int, list[int]] = defaultdict(list)
        for course_id, sequence in numbered:
            sequences[course_id].append(sequence)
        for course_id, course_rows in by_course.items():
            assert sequences[course_id] == list(range(1, len(course_rows) + 1)), course_rows
            mappings = [row for row in course_rows if row["kind"] == SessionKind.MAPPING]
            assert len(mappings) <= 1, ("two mapping sessions", mappings)

        completed = {row["id"] for row in rows if row["status"] == SessionStatus.COMPLETED}
        recorded = set(TreatmentRecord.objects.values_list("session_id", flat=True))
        assert completed == recorded

        for row in rows:
            if row["makeup_for_id"] is None:
                assert row["kind"] != SessionKind.MAKEUP, ("make-up of nothing", row)
                continue
            lost = by_id[row["makeup_for_id"]]
            # A make-up may since have become the course's mapping session, when the
            # mapping session was lost after it had been booked.
            assert row["kind"] in (SessionKind.MAKEUP, SessionKind.MAPPING), row
            assert row["course_id"] == lost["course_id"], (row, lost)
            assert lost["status"] in (SessionStatus.MISSED, SessionStatus.CANCELLED), lost

        assert set(self.seen) <= set(by_id), "a session disappeared"
        for row in rows:
            before, now = self.seen.get(row["id"]), row["status"]
            if before is None:
                assert now == SessionStatus.SCHEDULED, ("born", row)
            else:
                assert now == before or now in NEXT_STATUS[before], (before, now, row)
            self.seen[row["id"]] = now


def test_booking_and_attendance_keep_the_invariants(db: None) -> None:
    run_state_machine_as_test(
        BookingMachine,
        settings=hypothesis.settings(
            max_examples=60,
            stateful_step_count=25,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
