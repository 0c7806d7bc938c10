"""Reading what risk and progress need for courses (scheduling.risk's ``CourseFacts``).

Every single-session change (booking, moving, checking in, undoing) recomputes its
course's risk, so this read is on the path of most writes: for one course it is six
queries when the course has no authorization and no assessment (a new course), nine
when it has both (it was eleven whatever the course). The small per-course and
per-clinic facts (open safety flags, closures, open weekdays) come in one UNION ALL;
authorizations, their codes and assessments are read only for the courses that have
some (the course query says which).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import connection
from django.db.models import DateField, Exists, IntegerField, OuterRef, Prefetch, Value

from clinic.db import EpochMicroseconds, instant
from clinic.models import Closure, OpeningHours
from courses.models import (
    Assessment,
    Authorization,
    AuthorizationCode,
    Protocol,
    ProtocolPhase,
    SafetyFlag,
    TreatmentCourse,
)
from scheduling.models import AdverseEvent, Session
from scheduling.risk import CourseFacts, SessionFact


def load_facts(course_ids: Iterable[int]) -> list[CourseFacts]:
    """Everything risk and progress need for these courses: six to nine queries."""
    ids = list(course_ids)
    if not ids:
        return []
    # Protocols are few: prefetched once and shared, so their phases are read for each
    # protocol, not for each course. Authorizations and assessments are read in one
    # query each and grouped here (a per-course prefetch clones a queryset per course).
    courses = list(
        TreatmentCourse.objects.filter(id__in=ids)
        .annotate(
            adverse_event_pending=Exists(
                AdverseEvent.objects.filter(course=OuterRef("pk"), reviewed_at__isnull=True)
            ),
            has_authorizations=Exists(Authorization.objects.filter(course=OuterRef("pk"))),
            has_assessments=Exists(Assessment.objects.filter(course=OuterRef("pk"))),
        )
        .select_related("patient")
        .prefetch_related(
            "patient__clinic",  # one instance per clinic, shared: not one per course
            Prefetch(
                "protocol",
                queryset=Protocol.objects.prefetch_related(
                    Prefetch("phases", queryset=ProtocolPhase.objects.order_by("order"))
                ),
            ),
        )
    )
    phases: dict[int, list[ProtocolPhase]] = {}
    for course in courses:  # each protocol's phases listed once, shared by its courses
        if course.protocol_id not in phases:
            phases[course.protocol_id] = list(course.protocol.phases.all())
    facts = {
        course.pk: CourseFacts(course, phases=phases[course.protocol_id]) for course in courses
    }
    authorized = [course.pk for course in courses if course.has_authorizations]
    if authorized:
        for authorization in Authorization.objects.filter(course_id__in=authorized).order_by(
            "valid_from", "id"
        ):
            facts[authorization.course_id].authorizations.append(authorization)
        for course_id, code, units in AuthorizationCode.objects.filter(
            authorization__course_id__in=authorized
        ).values_list("authorization__course_id", "code", "units"):
            facts[course_id].authorization_codes.append((code, units))
    # Tens of thousands of rows: run the ORM's SQL on a plain cursor, without the
    # per-row converters and iterators of values_list (none of the columns needs one).
    sessions_sql, sessions_params = (
        Session.objects.filter(course_id__in=ids)
        .order_by("starts_at", "id")
        .values_list(
            "course_id", "status", EpochMicroseconds("starts_at"), "phase", "kind", "billing_code"
        )
        .query.sql_with_params()
    )
    with connection.cursor() as cursor:
        cursor.execute(sessions_sql, sessions_params)
        for course_id, status, starts_us, phase, kind, code in cursor.fetchall():
            facts[course_id].sessions.append(
                SessionFact(status, instant(starts_us), phase, kind, code)
            )
    assessed = [course.pk for course in courses if course.has_assessments]
    if assessed:
        for assessment in Assessment.objects.filter(course_id__in=assessed).order_by(
            "administered_on", "id"
        ):
            facts[assessment.course_id].assessments.append(assessment)
    clinic_ids = {course.patient.clinic_id for course in courses}
    flags, closures, weekdays = _small_facts(ids, clinic_ids)
    for fact in facts.values():
        clinic_id = fact.course.patient.clinic_id
        fact.open_safety_flags = flags[fact.course.pk]
        fact.adverse_event_pending = fact.course.adverse_event_pending  # type: ignore[attr-defined]
        fact.closures = closures[clinic_id]
        fact.open_weekdays = weekdays[clinic_id]
    return [facts[course_id] for course_id in ids if course_id in facts]


def _small_facts(
    course_ids: list[int], clinic_ids: set[int]
) -> tuple[dict[int, int], dict[int, set[dt.date]], dict[int, set[int]]]:
    """The courses' open safety flags (a count per course), and their clinics' closed
    days and open weekdays, in one UNION ALL of (tag, course or clinic id, weekday,
    date) rows."""
    no_day = Value(None, output_field=DateField())
    no_weekday = Value(0, output_field=IntegerField())
    rows: Any = (
        SafetyFlag.objects.filter(course_id__in=course_ids, acknowledged_at__isnull=True)
        .order_by()
        .values_list(Value("flag"), "course_id", no_weekday, no_day)
        .union(
            Closure.objects.filter(clinic_id__in=clinic_ids)
            .order_by()
            .values_list(Value("closure"), "clinic_id", no_weekday, "date"),
            OpeningHours.objects.filter(clinic_id__in=clinic_ids)
            .order_by()
            .values_list(Value("hours"), "clinic_id", "weekday", no_day),
            all=True,
        )
    )
    flags: dict[int, int] = defaultdict(int)
    closures: dict[int, set[dt.date]] = defaultdict(set)
    weekdays: dict[int, set[int]] = defaultdict(set)
    for tag, owner, weekday, day in rows:
        if tag == "flag":
            flags[owner] += 1
        elif tag == "closure":
            closures[owner].add(day)
        else:
            weekdays[owner].add(weekday)
    return flags, closures, weekdays
