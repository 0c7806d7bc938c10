"""Every write in the courses app."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clinic.capabilities import Capability, roles_for
from clinic.errors import Conflict
from clinic.models import Chair, Patient, StaffMembership
from courses import alerts, course_plan, protocol_bounds, relapse, selectors, signals
from courses.instruments import INSTRUMENTS, InstrumentCode
from courses.models import (
    COURSE_TRANSITIONS,
    OPEN_STATUSES,
    Assessment,
    AssessmentSource,
    Authorization,
    AuthorizationCode,
    CourseStatus,
    CourseType,
    FailedTrial,
    Indication,
    MotorThreshold,
    Protocol,
    ProtocolPhase,
    SafetyFlag,
    Screening,
    ScreeningStatus,
    TreatmentCourse,
)


def _invalid(field: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError({field: ValidationError(message, code=code)})


# --- Protocols -------------------------------------------------------------------------


@transaction.atomic
def protocol_save(
    protocol: Protocol | None = None,
    *,
    phases: list[Mapping[str, Any]] | None = None,
    sessions_total: int | None = None,
    **fields: Any,
) -> Protocol:
    protocol = protocol or Protocol()
    merged = {
        "sessions_per_day": protocol.sessions_per_day,
        "min_gap_minutes": protocol.min_gap_minutes,
        "mapping_minutes": protocol.mapping_minutes,
        "slot_minutes": protocol.slot_minutes,
        **fields,
        "sessions_total": sessions_total,
    }
    current_phases: list[Mapping[str, Any]] = (
        phases
        if phases is not None
        else [
            {
                "sessions": p.sessions,
                "per_week": p.per_week,
                "every_weeks": p.every_weeks,
                "kind": p.kind,
            }
            for p in protocol.phases.all()
        ]
    )
    protocol_bounds.check_protocol(merged, current_phases)
    code = fields.get("code", protocol.code)
    clinic = fields.get("clinic", protocol.clinic if protocol.pk else None)
    clash = Protocol.objects.filter(code=code).exclude(pk=protocol.pk)
    if clash.filter(clinic__isnull=True).exists() or (
        clinic is not None and clash.filter(clinic=clinic).exists()
    ):
        raise _invalid("code", "A protocol with this code already exists.", "duplicate_code")
    for name, value in fields.items():
        setattr(protocol, name, value)
    protocol.full_clean(validate_unique=False, validate_constraints=False)
    protocol.save()
    if phases is not None:
        protocol.phases.all().delete()
        ProtocolPhase.objects.bulk_create(
            ProtocolPhase(
                protocol=protocol,
                order=order,
                kind=phase.get("kind") or ("treatment" if order == 1 else "taper"),
                sessions=phase["sessions"],
                per_week=phase["per_week"],
                every_weeks=phase.get("every_weeks") or 1,
            )
            for order, phase in enumerate(phases, 1)
        )
    return protocol


# --- Screening -------------------------------------------------------------------------


def _status_from_answers(screening: Screening) -> str:
    if screening.absolute_contraindications:
        return ScreeningStatus.CONTRAINDICATED
    return ScreeningStatus.PENDING


@transaction.atomic
def screening_save(
    screening: Screening | None = None,
    *,
    recorded_by: Any,
    failed_trials: Iterable[Mapping[str, Any]] | None = None,
    **fields: Any,
) -> Screening:
    """Record or correct a screening. Any change sends it back for a decision: an
    absolute contraindication makes it ``contraindicated``, anything else ``pending``."""
    screening = screening or Screening()
    for name, value in fields.items():
        setattr(screening, name, value)
    screening.recorded_by = recorded_by
    screening.status = _status_from_answers(screening)
    screening.decided_by = None
    screening.decided_at = None
    screening.decision_reason = ""
    screening.full_clean(validate_unique=False, validate_constraints=False)
    screening.save()
    if failed_trials is not None:
        screening.failed_trials.all().delete()
        FailedTrial.objects.bulk_create(
            FailedTrial(screening=screening, **trial) for trial in failed_trials
        )
    return screening


def adequate_trials(screening: Screening) -> int:
    return sum(1 for trial in screening.failed_trials.all() if trial.adequate)


@transaction.atomic
def screening_clear(screening: Screening, *, by: Any, reason: str) -> Screening:
    screening = (
        Screening.objects.select_for_update().select_related("patient__clinic").get(pk=screening.pk)
    )
    if screening.absolute_contraindications:
        names = ", ".join(name.replace("_", " ") for name in screening.absolute_contraindications)
        raise Conflict(
            f"An absolute contraindication is recorded ({names}); TMS cannot be cleared.",
            code="contraindicated",
            conflicts=[{"answer": name} for name in screening.absolute_contraindications],
        )
    required = screening.patient.clinic.required_failed_trials
    adequate = adequate_trials(screening)
    if adequate < required:
        raise Conflict(
            f"{adequate} adequate failed antidepressant trial(s) recorded; the clinic "
            f"requires {required}.",
            code="insufficient_trials",
        )
    if screening.relative_contraindications and not reason.strip():
        raise _invalid("reason", "Record why treatment is safe despite the positive answers.")
    return _decide(screening, ScreeningStatus.CLEARED, by=by, reason=reason)


@transaction.atomic
def screening_decline(screening: Screening, *, by: Any, reason: str) -> Screening:
    """The psychiatrist decides against treatment (e.g. a relative contraindication)."""
    screening = Screening.objects.select_for_update().get(pk=screening.pk)
    if not reason.strip():
        raise _invalid("reason", "Record why treatment is declined.")
    return _decide(screening, ScreeningStatus.CONTRAINDICATED, by=by, reason=reason)


def _decide(screening: Screening, status: str, *, by: Any, reason: str) -> Screening:
    screening.status = status
    screening.decided_by = by
    screening.decided_at = timezone.now()
    screening.decision_reason = reason
    screening.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    return screening


# --- Courses ---------------------------------------------------------------------------


def default_instrument(indication: str) -> str:
    return InstrumentCode.GAD7 if indication == Indication.GAD else InstrumentCode.PHQ9


COURSE_START_WITHIN_DAYS = 365


def _check_day_that_has_been(patient: Patient, day: dt.date, field: str) -> None:
    """A score or a measurement is dated on a day that has been: not after the clinic's
    today, not before the patient was born (a far date would stay "latest" for good)."""
    if day > patient.clinic.today():
        raise _invalid(field, "This date is in the future.", "out_of_range")
    if patient.date_of_birth and day < patient.date_of_birth:
        raise _invalid(field, "This date is before the patient was born.", "out_of_range")


def _check_start_date(patient: Patient, start_date: dt.date) -> None:
    today = patient.clinic.today()
    window = dt.timedelta(days=COURSE_START_WITHIN_DAYS)
    if not today - window <= start_date <= today + window:
        raise _invalid("start_date", "A course starts within a year of today.", "out_of_range")


def _check_course_refs(
    patient: Patient, psychiatrist: Any, protocol: Protocol, chair: Chair | None
) -> None:
    clinic_id = patient.clinic_id
    may_prescribe = StaffMembership.objects.filter(
        user=psychiatrist, clinic_id=clinic_id, role__in=roles_for(Capability.PRESCRIBE)
    ).exists()
    if not may_prescribe:
        raise _invalid("psychiatrist", "Choose a psychiatrist of the patient's clinic.")
    if protocol.clinic_id not in (None, clinic_id):
        raise _invalid("protocol", "This protocol belongs to another clinic.")
    if not protocol.active:
        raise _invalid("protocol", "This protocol is retired.")
    if chair is not None and chair.clinic_id != clinic_id:
        raise _invalid("preferred_chair", "Choose a chair of the patient's clinic.")
    if chair is not None and not chair.fits(protocol.coil):
        raise _invalid(
            "preferred_chair", f"{chair.name} has no {protocol.coil} coil.", "chair_incompatible"
        )


def _ensure_no_open_course(patient: Patient, exclude: int | None = None) -> None:
    open_courses = TreatmentCourse.objects.filter(patient=patient, status__in=OPEN_STATUSES)
    if exclude is not None:
        open_courses = open_courses.exclude(pk=exclude)
    existing = open_courses.first()
    if existing is not None:
        raise Conflict(
            "This patient already has an open course; complete or discontinue it first.",
            code="course_exists",
            conflicts=[{"course": existing.pk, "status": existing.status}],
        )


@transaction.atomic
def course_create(
    *,
    patient: Patient,
    psychiatrist: Any,
    protocol: Protocol,
    indication: str,
    start_date: dt.date,
    preferred_time: dt.time,
    preferred_chair: Chair | None = None,
    primary_instrument: str | None = None,
    authorization: Mapping[str, Any] | None = None,
    prescribed_pulses: int | None = None,
    prescribed_intensity_pct_mt: int | None = None,
    prescribed_coil_position: str = "",
    type: str = CourseType.ACUTE,
    follows: TreatmentCourse | None = None,
    diagnosis_code: str = "",
) -> TreatmentCourse:
    _check_course_refs(patient, psychiatrist, protocol, preferred_chair)
    _check_start_date(patient, start_date)
    course_plan.check_follows(patient, type, follows, start_date)
    # Serialize course creation per patient so two requests cannot both pass the check.
    Patient.objects.select_for_update().filter(pk=patient.pk).first()
    _ensure_no_open_course(patient)
    course = TreatmentCourse.objects.create(
        patient=patient,
        psychiatrist=psychiatrist,
        protocol=protocol,
        indication=indication,
        primary_instrument=primary_instrument or default_instrument(indication),
        start_date=start_date,
        preferred_time=preferred_time,
        preferred_chair=preferred_chair,
        prescribed_pulses=prescribed_pulses,
        prescribed_intensity_pct_mt=prescribed_intensity_pct_mt,
        prescribed_coil_position=prescribed_coil_position,
        type=type,
        follows=follows,
        diagnosis_code=diagnosis_code,
    )
    if authorization:
        authorization_add(course, **authorization)
    signals.announce_risk_inputs_changed(TreatmentCourse, [course.pk])
    return course


@transaction.atomic
def course_update(course: TreatmentCourse, **fields: Any) -> TreatmentCourse:
    if course.status not in OPEN_STATUSES:
        raise Conflict("A finished course can no longer be changed.", code="course_closed")
    _check_course_refs(
        course.patient,
        fields.get("psychiatrist", course.psychiatrist),
        fields.get("protocol", course.protocol),
        fields.get("preferred_chair", course.preferred_chair),
    )
    if "start_date" in fields and fields["start_date"] != course.start_date:
        _check_start_date(course.patient, fields["start_date"])
    for name, value in fields.items():
        setattr(course, name, value)
    course.save()
    return course


@transaction.atomic
def course_transition(
    course: TreatmentCourse, target: str, *, by: Any, reason: str = ""
) -> TreatmentCourse:
    """Change a course's status. The scheduling app hears of it in this transaction: a
    course that ends gives up the sessions still booked (a paused one keeps them)."""
    course = (
        TreatmentCourse.objects.select_for_update()
        .select_related("patient__clinic")
        .get(pk=course.pk)
    )
    if target not in COURSE_TRANSITIONS[course.status]:
        raise Conflict(
            f"{'An' if course.status[0] in 'aeiou' else 'A'} {course.status} course cannot "
            f"become {target}.",
            code="invalid_transition",
        )
    if target == CourseStatus.ACTIVE:
        screening = selectors.latest_screening(course.patient)
        if screening is None or screening.status != ScreeningStatus.CLEARED:
            raise Conflict(
                "The patient's screening is not cleared by a psychiatrist.",
                code="screening_required",
            )
    previous = course.status
    course.status = target
    course.status_changed_at = timezone.now()
    course.status_reason = reason
    if target == CourseStatus.COMPLETED:
        course.completed_on = course.patient.clinic.today()
    course.save(update_fields=["status", "status_changed_at", "status_reason", "completed_on"])
    if target not in OPEN_STATUSES:
        alerts.settle_risk_alerts([course.pk], f"Settled: the course was {target}.")
    if target == CourseStatus.COMPLETED:
        relapse.watch_enroll(course)
    elif target == CourseStatus.ACTIVE and previous == CourseStatus.PLANNED:
        relapse.watches_stop(course)
    signals.announce_course_status_changed(course, previous, target)
    signals.announce_risk_inputs_changed(TreatmentCourse, [course.pk])
    return course


@transaction.atomic
def authorization_add(
    course: TreatmentCourse, *, codes: Iterable[Mapping[str, Any]] = (), **fields: Any
) -> Authorization:
    """Add an authorization, optionally scoped to procedure codes (``codes``: code and
    units, each code once: 400 ``duplicate_code``)."""
    if fields["valid_until"] < fields["valid_from"]:
        raise _invalid("valid_until", "An authorization cannot end before it starts.")
    lines = [(line["code"], line["units"]) for line in codes]
    if len({code for code, _ in lines}) < len(lines):
        raise _invalid("codes", "Give each code once.", "duplicate_code")
    authorization = Authorization.objects.create(course=course, **fields)
    for code, units in lines:  # one by one: each line is an audit event (at most three)
        AuthorizationCode.objects.create(authorization=authorization, code=code, units=units)
    # Sent as Authorization: scheduling also re-marks which sessions it covers.
    signals.announce_risk_inputs_changed(Authorization, [course.pk])
    return authorization


def motor_threshold_record(course: TreatmentCourse, *, by: Any, **fields: Any) -> MotorThreshold:
    _check_day_that_has_been(course.patient, fields["measured_on"], "measured_on")
    return MotorThreshold.objects.create(course=course, measured_by=by, **fields)


# --- Assessments -----------------------------------------------------------------------


def assessment_total(instrument: str, score: int | None, items: list[int] | None) -> int:
    """Validate a score and/or its items; return the total to store."""
    scale = INSTRUMENTS.get(instrument)
    if scale is None:
        raise _invalid("instrument", f"Unknown instrument {instrument!r}.", "invalid_choice")
    if items is not None:
        errors = scale.item_errors(items)
        if errors:
            raise ValidationError({"items": errors})
        total = sum(items)
        if score is not None and score != total:
            raise _invalid("score", f"The items add up to {total}, not {score}.", "score_mismatch")
        return total
    if score is None:
        raise _invalid("score", "Enter the total score, the item answers, or both.", "required")
    if not 0 <= score <= scale.max_total:
        raise _invalid(
            "score", f"A {scale.name} total is between 0 and {scale.max_total}.", "out_of_range"
        )
    return score


def suicide_answer(
    instrument: str, items: list[int] | None, suicide_item: int | None
) -> int | None:
    """The answer to the scale's suicide item: from the items when they are sent, else
    as sent on its own, which a scale with such an item always needs (a total alone
    could hide thoughts of self-harm)."""
    scale = INSTRUMENTS[instrument]
    number = scale.suicide_item
    if number is None:
        if suicide_item is not None:
            raise _invalid("suicide_item", f"{scale.name} has no suicide item.")
        return None
    if items is not None:
        answer = items[number - 1]
        if suicide_item is not None and suicide_item != answer:
            raise _invalid(
                "suicide_item",
                f"Item {number} is answered {answer} in the items, not {suicide_item}.",
                "score_mismatch",
            )
        return answer
    if suicide_item is None:
        raise _invalid(
            "suicide_item",
            f"Give the answer to {scale.name} item {number} (thoughts of self-harm), "
            "even with the total only.",
            "required",
        )
    maximum = scale.item_maxima[number - 1]
    if not 0 <= suicide_item <= maximum:
        raise _invalid("suicide_item", f"Item {number} is answered 0 to {maximum}.", "out_of_range")
    return suicide_item


@transaction.atomic
def assessment_record(
    course: TreatmentCourse,
    *,
    instrument: str,
    administered_on: dt.date,
    by: Any,
    score: int | None = None,
    items: list[int] | None = None,
    suicide_item: int | None = None,
    source: str = AssessmentSource.CLINIC,
) -> Assessment:
    """Record a score. A suicide item answered at or above its scale's cut-off raises a
    safety flag and alerts the psychiatrist at once."""
    total = assessment_total(instrument, score, items)
    answer = suicide_answer(instrument, items, suicide_item)
    _check_day_that_has_been(course.patient, administered_on, "administered_on")
    assessment = Assessment.objects.create(
        course=course,
        instrument=instrument,
        score=total,
        items=items,
        suicide_item=answer,
        administered_on=administered_on,
        source=source,
        recorded_by=by,
    )
    if answer is not None and INSTRUMENTS[instrument].raises_safety_flag(answer):
        flag = SafetyFlag.objects.create(
            course=course,
            assessment=assessment,
            item_value=answer,
            raised_at=timezone.now(),
            raised_by=by,
        )
        alerts.raise_for_safety_flag(flag)
    signals.announce_assessment_recorded(assessment)
    signals.announce_risk_inputs_changed(TreatmentCourse, [course.pk])
    return assessment


@transaction.atomic
def safety_flag_acknowledge(flag: SafetyFlag, *, by: Any) -> SafetyFlag:
    """Idempotent: the first acknowledgement is kept, later ones change nothing. The
    staff alert the flag raised is settled with it."""
    SafetyFlag.objects.filter(pk=flag.pk, acknowledged_at__isnull=True).update(
        acknowledged_at=timezone.now(), acknowledged_by=by
    )
    alerts.settle_safety_flag(flag)
    flag.refresh_from_db()
    signals.announce_risk_inputs_changed(TreatmentCourse, [flag.course_id])
    return flag
