"""A clinic with a year of sessions, for the scheduling benchmarks.

The clinic (America/New_York, Mon-Fri 07:30-19:00, US public holidays closed) has 10
chairs. Each chair's day is cut into "lanes": slots at a fixed pitch (slot length plus a
five-minute turnover). Most lanes of a chair are held by back-to-back courses, one
session per open day at the same time on the same chair, so every open day in the booked
period holds exactly ``lanes_per_chair * 10`` sessions. The lanes a chair leaves free are
one contiguous block, at a different time of day on each chair, so new bookings (and a
60-minute mapping session) still fit somewhere at any time of day.

The year runs from ``weeks_back`` weeks before now to ``weeks_ahead`` weeks after; no
course starts after that, and courses started before it are booked to their end (as
course_schedule books them). Past sessions are mostly completed (some missed or
cancelled), future ones mostly scheduled (a few cancelled). Each course has its own
patient, so neither exclusion constraint (chair, patient) can be violated. Everything is
written with bulk_create, then analysed. Real ``timezone.now()`` is the reference.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from benchmarks.harness import Figures, measure

if TYPE_CHECKING:
    from django.test.utils import CaptureQueriesContext

    from clinic.models import Chair, Clinic, Patient
    from courses.models import Protocol, TreatmentCourse

CHAIRS = 10
TIMEZONE = "America/New_York"
OPENS, CLOSES = dt.time(7, 30), dt.time(19, 0)
TURNOVER_MINUTES = 5
BATCH = 5000
OCCUPYING_SQL = "('scheduled', 'checked_in', 'completed')"
# Django logs transaction control too; the benchmarks count SQL statements only.
TRANSACTION_SQL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The n-th (1-based; -1 = last) ``weekday`` of a month."""
    if n > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    last = following - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def us_holidays(years: range) -> set[dt.date]:
    days: set[dt.date] = set()
    for year in years:
        days |= {
            dt.date(year, 1, 1),
            _nth_weekday(year, 1, 0, 3),  # Martin Luther King Jr. Day
            _nth_weekday(year, 2, 0, 3),  # Presidents' Day
            _nth_weekday(year, 5, 0, -1),  # Memorial Day
            dt.date(year, 6, 19),
            dt.date(year, 7, 4),
            _nth_weekday(year, 9, 0, 1),  # Labor Day
            _nth_weekday(year, 11, 3, 4),  # Thanksgiving
            dt.date(year, 12, 25),
        }
    return days


@dataclass
class Year:
    clinic: Clinic
    chairs: list[Chair]
    psychiatrist: Any
    protocol: Protocol
    now: dt.datetime
    today: dt.date
    first_day: dt.date
    horizon: dt.date
    last_day: dt.date
    closures: set[dt.date]
    lanes_per_chair: int
    sessions: int = 0
    courses: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    build_seconds: float = 0.0

    def describe(self) -> None:
        statuses = ", ".join(f"{count:,} {name}" for name, count in self.statuses.most_common())
        print(
            f"  data: {CHAIRS} chairs, Mon-Fri {OPENS:%H:%M}-{CLOSES:%H:%M} "
            f"{self.clinic.timezone}, "
            f"{len(self.closures)} holiday closures; {self.protocol.code} lanes "
            f"{self.lanes_per_chair}/chair ({self.lanes_per_chair * CHAIRS} sessions per "
            f"open day)",
            flush=True,
        )
        print(
            f"  data: {self.sessions:,} sessions {self.first_day} .. {self.last_day} "
            f"(no course starts after {self.horizon}; now {self.now:%Y-%m-%d %H:%M} UTC): "
            f"{statuses}; {self.courses:,} courses/patients; built in "
            f"{self.build_seconds:.1f} s",
            flush=True,
        )


def create_clinic(slug: str = "bench", zone: str = TIMEZONE) -> tuple[Clinic, list[Chair], Any]:
    """The clinic, its opening hours, 10 chairs and a psychiatrist."""
    from django.contrib.auth import get_user_model

    from clinic.models import Chair, Clinic, OpeningHours, Role, StaffMembership

    clinic = Clinic.objects.create(
        name="Bench",
        slug=slug,
        timezone=zone,
        display_name="Bench Wellness",
        phone="+17185550100",
    )
    OpeningHours.objects.bulk_create(
        OpeningHours(clinic=clinic, weekday=day, opens=OPENS, closes=CLOSES) for day in range(5)
    )
    chairs = Chair.objects.bulk_create(
        Chair(clinic=clinic, name=f"Chair {n:02d}", device="MagVenture MagPro R30")
        for n in range(1, CHAIRS + 1)
    )
    psychiatrist = get_user_model().objects.create_user("bench-psychiatrist")
    StaffMembership.objects.create(user=psychiatrist, clinic=clinic, role=Role.PSYCHIATRIST)
    return clinic, chairs, psychiatrist


@dataclass
class _CourseSpec:
    chair_index: int
    lane: int
    first_index: int  # index into the open days of the course's first session (may be < 0)
    patient: Patient | None = None
    course: TreatmentCourse | None = None


def build_year(
    *,
    protocol_code: str,
    lanes_per_chair: int,
    weeks_back: int = 39,
    weeks_ahead: int = 13,
    seed: int = 1,
    zone: str = TIMEZONE,
) -> Year:
    """Create the clinic (in time zone ``zone``) and fill it with a year of sessions of
    ``protocol_code``."""
    from django.db import connection
    from django.utils import timezone

    from clinic.models import Closure, Patient
    from courses.models import CourseStatus, Protocol, TreatmentCourse
    from scheduling.calendar import local_datetime
    from scheduling.models import Session, SessionKind, SessionStatus

    started = time.perf_counter()
    rng = random.Random(seed)
    clinic, chairs, psychiatrist = create_clinic(zone=zone)
    tz = clinic.tz
    now = timezone.now()
    today = timezone.localdate(timezone=tz)
    protocol = Protocol.objects.prefetch_related("phases").get(clinic=None, code=protocol_code)
    phases = sorted(protocol.phases.all(), key=lambda phase: phase.order)
    per_course = sum(phase.sessions for phase in phases)
    phase_of: list[tuple[int, str]] = []  # by position in the course (0-based)
    for phase in phases:
        phase_of += [(phase.order, phase.kind)] * phase.sessions

    first_day = today - dt.timedelta(weeks=weeks_back)
    horizon = today + dt.timedelta(weeks=weeks_ahead)
    # Room for courses that start by the horizon to run to their end.
    span_end = horizon + dt.timedelta(weeks=per_course // 5 + 4)
    closures = us_holidays(range(first_day.year, span_end.year + 1))
    closures = {day for day in closures if first_day <= day <= span_end and day.weekday() < 5}
    Closure.objects.bulk_create(
        Closure(clinic=clinic, date=day, reason="Public holiday") for day in sorted(closures)
    )
    open_days: list[dt.date] = []
    day = first_day
    while day <= span_end:
        if day.weekday() < 5 and day not in closures:
            open_days.append(day)
        day += dt.timedelta(days=1)
    horizon_index = next(i for i, day in enumerate(open_days) if day >= horizon)

    slot = protocol.slot_minutes
    pitch = slot + TURNOVER_MINUTES
    day_minutes = (CLOSES.hour * 60 + CLOSES.minute) - (OPENS.hour * 60 + OPENS.minute)
    slots = (day_minutes - slot) // pitch + 1
    free = slots - lanes_per_chair
    assert 0 <= free < slots, (slots, lanes_per_chair)

    # Course layout: lane by lane, back to back; the first course of each lane started
    # before the year, at a staggered point, so lanes do not all change on one day.
    specs: list[_CourseSpec] = []
    lane_number = 0
    for chair_index in range(CHAIRS):
        block_start = (chair_index * free) % slots
        free_lanes = {(block_start + j) % slots for j in range(free)}
        for lane in range(slots):
            if lane in free_lanes:
                continue
            first = -((lane_number * 7) % per_course)
            while first <= horizon_index:
                specs.append(_CourseSpec(chair_index, lane, first))
                first += per_course
            lane_number += 1

    def day_at(index: int) -> dt.date:
        if index >= 0:
            return open_days[index]
        day = open_days[0]
        for _ in range(-index):
            day -= dt.timedelta(days=1)
            while day.weekday() >= 5:
                day -= dt.timedelta(days=1)
        return day

    def lane_time(lane: int) -> dt.time:
        minutes = OPENS.hour * 60 + OPENS.minute + lane * pitch
        return dt.time(minutes // 60, minutes % 60)

    patients = Patient.objects.bulk_create(
        (
            Patient(
                clinic=clinic,
                mrn=f"Y-{n:06d}",
                first_name=f"First{n}",
                last_name=f"Last{n:05d}",
                date_of_birth=dt.date(1960, 1, 1) + dt.timedelta(days=n % 15000),
                phone=f"+1718555{n % 10000:04d}",
                email=f"y{n}@example.com",
            )
            for n in range(len(specs))
        ),
        batch_size=BATCH,
    )
    courses = []
    for spec, patient in zip(specs, patients, strict=True):
        spec.patient = patient
        first_start = local_datetime(day_at(max(spec.first_index, 0)), lane_time(spec.lane), tz)
        last_day = day_at(spec.first_index + per_course - 1)
        last_end = local_datetime(last_day, lane_time(spec.lane), tz) + dt.timedelta(minutes=slot)
        if last_end <= now:
            status, completed_on = CourseStatus.COMPLETED, last_day
        elif first_start > now:
            status, completed_on = CourseStatus.PLANNED, None
        else:
            status, completed_on = CourseStatus.ACTIVE, None
        spec.course = TreatmentCourse(
            patient=patient,
            psychiatrist=psychiatrist,
            protocol=protocol,
            indication="mdd",
            start_date=day_at(spec.first_index),
            preferred_time=lane_time(spec.lane),
            preferred_chair=chairs[spec.chair_index],
            status=status,
            status_changed_at=now,
            completed_on=completed_on,
        )
        courses.append(spec.course)
    TreatmentCourse.objects.bulk_create(courses, batch_size=BATCH)

    year = Year(
        clinic=clinic,
        chairs=chairs,
        psychiatrist=psychiatrist,
        protocol=protocol,
        now=now,
        today=today,
        first_day=first_day,
        horizon=horizon,
        last_day=first_day,
        closures=closures,
        lanes_per_chair=lanes_per_chair,
        courses=len(courses),
    )

    def sessions() -> Iterator[Session]:
        for spec in specs:
            assert spec.course is not None and spec.patient is not None
            for position in range(max(0, -spec.first_index), per_course):
                day = open_days[spec.first_index + position]
                starts_at = local_datetime(day, lane_time(spec.lane), tz)
                ends_at = starts_at + dt.timedelta(minutes=slot)
                phase, phase_kind = phase_of[position]
                kind = SessionKind.MAPPING if position == 0 else phase_kind
                session = Session(
                    course=spec.course,
                    patient=spec.patient,
                    chair=chairs[spec.chair_index],
                    starts_at=starts_at,
                    ends_at=ends_at,
                    kind=kind,
                    phase=phase,
                )
                draw = rng.random()
                if ends_at <= now:
                    if draw < 0.04:
                        session.status = SessionStatus.MISSED
                        session.missed_at = ends_at + dt.timedelta(minutes=15)
                    elif draw < 0.07:
                        session.status = SessionStatus.CANCELLED
                        session.cancelled_at = starts_at - dt.timedelta(days=1)
                        session.cancel_reason = "Patient unwell"
                    else:
                        session.status = SessionStatus.COMPLETED
                        session.checked_in_at = starts_at - dt.timedelta(minutes=5)
                        session.completed_at = ends_at
                elif starts_at <= now:
                    session.status = SessionStatus.CHECKED_IN
                    session.checked_in_at = starts_at - dt.timedelta(minutes=5)
                elif draw < 0.02:
                    session.status = SessionStatus.CANCELLED
                    session.cancelled_at = now
                    session.cancel_reason = "Travel"
                else:
                    session.status = SessionStatus.SCHEDULED
                year.statuses[session.status] += 1
                year.last_day = max(year.last_day, day)
                yield session

    batch: list[Session] = []
    for session in sessions():
        batch.append(session)
        if len(batch) >= BATCH:
            Session.objects.bulk_create(batch)
            year.sessions += len(batch)
            batch = []
    Session.objects.bulk_create(batch)
    year.sessions += len(batch)
    with connection.cursor() as cursor:
        for table in (
            "scheduling_session",
            "courses_treatmentcourse",
            "clinic_patient",
            "clinic_closure",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")
    year.build_seconds = time.perf_counter() - started
    return year


def cleared_patient(clinic: Clinic, psychiatrist: Any, mrn: str) -> Patient:
    """A new patient whose screening a psychiatrist has cleared (two failed trials)."""
    from clinic.models import Patient
    from courses.services import screening_clear, screening_save

    patient = Patient.objects.create(
        clinic=clinic,
        mrn=mrn,
        first_name="New",
        last_name=f"Patient {mrn}",
        date_of_birth=dt.date(1985, 3, 14),
    )
    screening = screening_save(
        recorded_by=psychiatrist,
        patient=patient,
        failed_trials=[
            {"drug": drug, "dose": "150 mg", "weeks": 8, "outcome": "no_response"}
            for drug in ("sertraline", "bupropion")
        ],
    )
    screening_clear(screening, by=psychiatrist, reason="")
    return patient


# --- queries --------------------------------------------------------------------------


def statements(captured: CaptureQueriesContext) -> list[dict[str, str]]:
    """The captured SQL statements, without BEGIN/COMMIT/ROLLBACK/SAVEPOINT/RELEASE."""
    return [
        query for query in captured.captured_queries if not query["sql"].startswith(TRANSACTION_SQL)
    ]


def count_statements(action: Callable[[], Any]) -> list[dict[str, str]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        action()
    return statements(captured)


def _shape(sql: str, width: int) -> str:
    text = re.sub(r"\s+", " ", sql)
    text = re.sub(r"'[^']*'", "'?'", text)
    text = re.sub(r"\b\d+(\.\d+)?\b", "N", text)
    text = re.sub(r"(N, )+N", "N, ...", text)
    return text if len(text) <= width else text[: width - 3] + "..."


def show_queries(queries: list[dict[str, str]], *, width: int = 150) -> None:
    """Queries grouped by shape (literals blanked), in first-seen order, with the
    database time Django measured for each group."""
    groups: dict[str, list[float]] = {}
    for query in queries:
        groups.setdefault(_shape(query["sql"], width), []).append(float(query["time"]) * 1000)
    total = sum(sum(times) for times in groups.values())
    print(
        f"    {len(queries)} queries, {total:.0f} ms in the database as Django's cursor wrapper "
        "measures it (1 ms resolution):"
    )
    for shape, times in groups.items():
        print(f"    {len(times):>4}x {sum(times):8.1f} ms  {shape}")


def measure_statements(
    name: str, action: Callable[[], Any], *, repeat: int = 20
) -> tuple[Figures, list[dict[str, str]]]:
    """harness.measure, with the query count replaced by the SQL statement count (one
    more run, captured); returns the statements too."""
    figures = measure(name, action, repeat=repeat)
    queries = count_statements(action)
    return dataclasses.replace(figures, queries=len(queries)), queries


def timed(action: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = action()
    return result, (time.perf_counter() - started) * 1000


@dataclass
class AgainstFloor:
    """An action and its floor, timed in alternation (see ``measure_against_floor``)."""

    action: Figures
    floor: Figures
    queries: list[dict[str, str]]
    pair_ratios: list[float]

    @property
    def ratio(self) -> float:
        return self.action.median_ms / self.floor.median_ms

    def show(self, *, max_queries: int, max_ratio: float) -> None:
        self.action.show(target=f"<= {max_queries} queries")
        self.floor.show()
        quartiles = statistics.quantiles(self.pair_ratios, n=4)
        print(
            f"  ratio median/floor {self.ratio:.1f} (target <= {max_ratio}); per pair of "
            f"runs: median {statistics.median(self.pair_ratios):.1f}, middle half "
            f"{quartiles[0]:.1f}-{quartiles[2]:.1f}; queries {len(self.queries)} "
            f"(target <= {max_queries})",
            flush=True,
        )


def measure_against_floor(
    name: str,
    action: Callable[[], Any],
    floor_name: str,
    floor: Callable[[], Any],
    *,
    repeat: int = 40,
) -> AgainstFloor:
    """Time an action and its floor run by run in turn, so both see the same machine:
    on a shared machine, timing one then the other can move their ratio by a third."""
    figures, queries = measure_statements(name, action, repeat=1)
    floor_figures, _ = measure_statements(floor_name, floor, repeat=1)
    action_ms, floor_ms = [], []
    for _ in range(repeat):
        action_ms.append(timed(action)[1])
        floor_ms.append(timed(floor)[1])
    return AgainstFloor(
        dataclasses.replace(figures, median_ms=statistics.median(action_ms)),
        dataclasses.replace(floor_figures, median_ms=statistics.median(floor_ms)),
        queries,
        [mine / base for mine, base in zip(action_ms, floor_ms, strict=True)],
    )
