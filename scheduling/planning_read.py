"""What booking a whole course reads besides the course row, in one query (the
calendar it books into is scheduling/calendar.py's)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection
from django.db.models import Value

from clinic.db import EpochMicroseconds, instant
from clinic.models import OpeningHours
from courses.models import Assessment, Authorization, ProtocolPhase, SafetyFlag, TreatmentCourse
from courses.selectors import screenings_latest_first
from scheduling.models import Session
from scheduling.risk import SessionFact


@dataclass(frozen=True)
class PlanningRead:
    """What booking a whole course needs besides the course row, read in one query."""

    phases: list[ProtocolPhase]
    hours: dict[int, tuple[dt.time, dt.time]]
    screening_status: str | None
    open_safety_flags: int
    sessions: list[SessionFact]
    # How many the course has: a new course has none, and then none is read.
    assessments: int = 0
    authorizations: int = 0


def planning_read(course: TreatmentCourse) -> PlanningRead:
    """What booking a whole course needs besides its (locked) row: the protocol's
    phases, the clinic's opening hours, the patient's latest screening status, the open
    safety flags, the course's sessions and how many assessments and authorizations it
    has, in one plain UNION ALL (PostgreSQL and
    SQLite): the ORM's prefetches and subquery annotations cost several times the
    database's work here."""
    tables = {
        "phase": ProtocolPhase._meta.db_table,
        "hours": OpeningHours._meta.db_table,
        "flag": SafetyFlag._meta.db_table,
        "assessment": Assessment._meta.db_table,
        "authorization": Authorization._meta.db_table,
    }
    sessions = (
        Session.objects.filter(course=course)
        .order_by()
        .values_list(
            Value("session"), "phase", EpochMicroseconds("starts_at"), Value(0), "status", Value(0)
        )
    )
    session_sql, session_params = sessions.query.sql_with_params()
    screening_sql, screening_params = (
        screenings_latest_first(course.patient_id).values("status")[:1].query.sql_with_params()
    )
    sql = (
        f"SELECT 'phase', \"order\", sessions, per_week, kind, every_weeks "  # noqa: S608
        f"FROM {tables['phase']} WHERE protocol_id = %s "
        "UNION ALL "
        f"SELECT 'hours', weekday, 0, 0, CAST(opens AS TEXT) || ' ' || CAST(closes AS TEXT), 0 "
        f"FROM {tables['hours']} WHERE clinic_id = %s "
        "UNION ALL "
        f"SELECT 'facts', (SELECT COUNT(*) FROM {tables['flag']} "
        f"WHERE course_id = %s AND acknowledged_at IS NULL), "
        f"(SELECT COUNT(*) FROM {tables['assessment']} WHERE course_id = %s), "
        f"(SELECT COUNT(*) FROM {tables['authorization']} WHERE course_id = %s), "
        f"({screening_sql}), 0 "
        f"UNION ALL {session_sql}"
    )
    params = [course.protocol_id, course.patient.clinic_id, course.pk, course.pk, course.pk]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *screening_params, *session_params])
        rows = cursor.fetchall()
    phases: list[ProtocolPhase] = []
    hours: dict[int, tuple[dt.time, dt.time]] = {}
    status: str | None = None
    flags = assessments = authorizations = 0
    facts: list[SessionFact] = []
    for tag, number, amount, per_week, text, every_weeks in rows:
        if tag == "phase":
            phases.append(
                ProtocolPhase(
                    protocol=course.protocol,
                    order=number,
                    kind=text,
                    sessions=amount,
                    per_week=per_week,
                    every_weeks=every_weeks,
                )
            )
        elif tag == "hours":
            opens, closes = text.split(" ")
            hours[number] = (dt.time.fromisoformat(opens), dt.time.fromisoformat(closes))
        elif tag == "facts":
            flags, assessments, authorizations, status = number, amount, per_week, text
        else:
            facts.append(SessionFact(text, instant(amount), number))
    phases.sort(key=lambda phase: phase.order)
    facts.sort(key=lambda fact: fact.starts_at)
    return PlanningRead(phases, hours, status, flags, facts, assessments, authorizations)
