"""Outcomes: baseline, latest, response and remission; the course window; safety flags;
the outcome summary by protocol and indication."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from itertools import count
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from courses import selectors, services
from courses.instruments import InstrumentCode
from courses.models import (
    Assessment,
    CourseStatus,
    Indication,
    Protocol,
    SafetyFlag,
    TreatmentCourse,
)
from courses.selectors import Score, outcome_for
from tests.factories import ClinicFactory, MembershipFactory, PatientFactory

PHQ9 = InstrumentCode.PHQ9
GAD7 = InstrumentCode.GAD7
FIRST_DAY = dt.date(2026, 3, 2)  # a Monday

_pks = count(1)


def score(value: int, days_from_first: int, instrument: str = PHQ9) -> Assessment:
    """An unsaved assessment ``days_from_first`` days after the first treatment day."""
    return Assessment(
        pk=next(_pks),
        instrument=instrument,
        score=value,
        administered_on=FIRST_DAY + dt.timedelta(days=days_from_first),
    )


# --- outcome_for: baseline -------------------------------------------------------------


def test_baseline_is_a_score_on_the_first_treatment_day() -> None:
    on_the_day = score(18, 0)
    outcome = outcome_for(PHQ9, [on_the_day], FIRST_DAY)
    assert outcome.baseline == Score(on_the_day.pk, 18, FIRST_DAY)


def test_baseline_is_a_score_seven_days_before_the_first_day() -> None:
    week_before = score(18, -7)
    assert outcome_for(PHQ9, [week_before], FIRST_DAY).baseline == Score.of(week_before)


def test_score_eight_days_before_the_first_day_is_not_a_baseline() -> None:
    outcome = outcome_for(PHQ9, [score(18, -8)], FIRST_DAY)
    assert outcome.baseline is None


def test_score_after_the_first_day_is_not_a_baseline() -> None:
    outcome = outcome_for(PHQ9, [score(18, 1)], FIRST_DAY)
    assert outcome.baseline is None


def test_baseline_is_the_last_score_in_the_window() -> None:
    early, last = score(22, -6), score(17, -1)
    outcome = outcome_for(PHQ9, [last, early, score(25, -10)], FIRST_DAY)
    assert outcome.baseline == Score.of(last)


def test_baseline_among_same_day_scores_is_the_one_recorded_last() -> None:
    first, second = score(20, -2), score(16, -2)
    assert second.pk > first.pk
    assert outcome_for(PHQ9, [second, first], FIRST_DAY).baseline == Score.of(second)


def test_baseline_ignores_other_instruments() -> None:
    gad_in_window = score(15, -1, GAD7)
    phq_in_window = score(19, -3)
    outcome = outcome_for(PHQ9, [phq_in_window, gad_in_window], FIRST_DAY)
    assert outcome.baseline == Score.of(phq_in_window)


def test_no_baseline_when_only_another_instrument_was_scored_in_the_window() -> None:
    outcome = outcome_for(PHQ9, [score(15, -1, GAD7), score(6, 14, GAD7)], FIRST_DAY)
    assert outcome.baseline is None
    assert outcome.latest is None
    assert outcome.severity is None
    assert outcome.response is None
    assert outcome.remission is None


def test_no_scores_at_all_gives_an_empty_outcome() -> None:
    outcome = outcome_for(PHQ9, [], FIRST_DAY)
    assert outcome == selectors.Outcome(PHQ9, None, None, None, None, None)


# --- outcome_for: latest, severity, response, remission --------------------------------


def test_latest_is_the_most_recent_score_whatever_the_input_order() -> None:
    newest = score(9, 21)
    outcome = outcome_for(PHQ9, [score(20, -1), newest, score(14, 10)], FIRST_DAY)
    assert outcome.latest == Score.of(newest)


def test_latest_ignores_other_instruments() -> None:
    phq = score(9, 14)
    outcome = outcome_for(PHQ9, [score(20, -1), phq, score(3, 20, GAD7)], FIRST_DAY)
    assert outcome.latest == Score.of(phq)


def test_severity_is_of_the_latest_score_not_the_baseline() -> None:
    outcome = outcome_for(PHQ9, [score(22, -1), score(7, 28)], FIRST_DAY)
    assert outcome.severity == "mild"


def test_severity_uses_the_instrument_asked_for() -> None:
    outcome = outcome_for(GAD7, [score(16, -1, GAD7), score(4, 2)], FIRST_DAY)
    assert outcome.severity == "severe"


def test_response_when_a_later_score_is_half_the_baseline() -> None:
    outcome = outcome_for(PHQ9, [score(20, -1), score(10, 28)], FIRST_DAY)
    assert outcome.response is True
    assert outcome.remission is False


def test_no_response_when_a_later_score_is_above_half_the_baseline() -> None:
    outcome = outcome_for(PHQ9, [score(20, -1), score(11, 28)], FIRST_DAY)
    assert outcome.response is False
    assert outcome.remission is False


def test_remission_when_the_later_score_is_below_the_cut_off() -> None:
    outcome = outcome_for(PHQ9, [score(20, -1), score(4, 28)], FIRST_DAY)
    assert outcome.response is True
    assert outcome.remission is True


def test_phq9_of_5_after_treatment_is_not_remission() -> None:
    outcome = outcome_for(PHQ9, [score(20, -1), score(5, 28)], FIRST_DAY)
    assert outcome.remission is False


def test_response_and_remission_are_judged_on_the_latest_score_only() -> None:
    # Remitted at week 2, relapsed by week 6: the latest score decides.
    outcome = outcome_for(PHQ9, [score(20, -1), score(3, 14), score(12, 42)], FIRST_DAY)
    assert outcome.response is False
    assert outcome.remission is False


def test_only_a_baseline_gives_no_response_and_no_remission() -> None:
    outcome = outcome_for(PHQ9, [score(3, -1)], FIRST_DAY)
    assert outcome.baseline is not None
    assert outcome.latest == outcome.baseline
    assert outcome.severity == "minimal"
    assert outcome.response is None
    assert outcome.remission is None


def test_earlier_scores_before_the_baseline_do_not_count_as_follow_up() -> None:
    # Only pre-treatment scores: the last in the window is the baseline and the latest.
    outcome = outcome_for(PHQ9, [score(2, -20), score(3, -12), score(20, -1)], FIRST_DAY)
    assert outcome.response is None
    assert outcome.remission is None


def test_response_is_none_when_the_baseline_is_zero() -> None:
    outcome = outcome_for(PHQ9, [score(0, -1), score(0, 28)], FIRST_DAY)
    assert outcome.response is None
    assert outcome.remission is True


def test_other_instruments_do_not_affect_response() -> None:
    outcome = outcome_for(
        PHQ9, [score(20, -1), score(2, 0, GAD7), score(15, 28), score(1, 30, GAD7)], FIRST_DAY
    )
    assert outcome.response is False
    assert outcome.remission is False


@pytest.mark.parametrize(
    ("instrument", "remitted", "not_remitted"),
    [
        (InstrumentCode.HAMD17, 7, 8),
        (InstrumentCode.MADRS, 9, 10),
        (InstrumentCode.BDI2, 13, 14),
        (InstrumentCode.GAD7, 4, 5),
    ],
)
def test_remission_uses_each_instruments_cut_off(
    instrument: str, remitted: int, not_remitted: int
) -> None:
    def follow_up(value: int) -> bool | None:
        scores = [score(30, -1, instrument), score(value, 28, instrument)]
        return outcome_for(instrument, scores, FIRST_DAY).remission

    assert follow_up(remitted) is True
    assert follow_up(not_remitted) is False


def test_without_a_baseline_remission_is_judged_but_response_is_not() -> None:
    outcome = outcome_for(PHQ9, [score(3, 28)], FIRST_DAY)
    assert outcome.baseline is None
    assert outcome.response is None
    assert outcome.remission is True


def test_a_score_before_the_baseline_window_is_never_remission() -> None:
    outcome = outcome_for(PHQ9, [score(3, -30)], FIRST_DAY)
    assert outcome.baseline is None
    assert outcome.remission is None


# --- first_treatment_day ---------------------------------------------------------------


def test_first_treatment_day_is_the_start_date_while_nothing_is_booked() -> None:
    course = TreatmentCourse(start_date=FIRST_DAY)
    assert selectors.first_treatment_day(course) == FIRST_DAY


def test_first_treatment_day_is_the_first_session_when_one_is_booked() -> None:
    course = TreatmentCourse(start_date=FIRST_DAY)
    course.first_session_date = FIRST_DAY + dt.timedelta(days=3)  # type: ignore[attr-defined]
    assert selectors.first_treatment_day(course) == FIRST_DAY + dt.timedelta(days=3)


# --- Database: course window, assessment_record, course_outcomes, summary -------------


@pytest.fixture
def psychiatrist(clinic: Any) -> Any:
    return MembershipFactory(clinic=clinic, role="psychiatrist").user


def catalog(code: str) -> Protocol:
    return Protocol.objects.get(code=code, clinic=None)


@pytest.fixture
def make_course(clinic: Any, psychiatrist: Any) -> Callable[..., TreatmentCourse]:
    def make(
        protocol: str = "10hz-standard",
        indication: str = Indication.MDD,
        start_date: dt.date = FIRST_DAY,
        **fields: Any,
    ) -> TreatmentCourse:
        return services.course_create(
            patient=PatientFactory(clinic=clinic),
            psychiatrist=psychiatrist,
            protocol=catalog(protocol),
            indication=indication,
            start_date=start_date,
            preferred_time=dt.time(9, 30),
            **fields,
        )

    return make


def test_10hz_standard_window_is_nine_planned_weeks_plus_two_weeks_grace(
    make_course: Callable[..., TreatmentCourse],
) -> None:
    course = make_course("10hz-standard")
    assert selectors.window_end_date(course) == FIRST_DAY + dt.timedelta(weeks=11)


def test_snt_accelerated_window_is_one_planned_week_plus_two_weeks_grace(
    make_course: Callable[..., TreatmentCourse],
) -> None:
    course = make_course("snt-accelerated")
    assert selectors.window_end_date(course) == FIRST_DAY + dt.timedelta(weeks=3)


def test_window_uses_the_clinics_own_grace_weeks(
    clinic: Any, make_course: Callable[..., TreatmentCourse]
) -> None:
    clinic.course_window_grace_weeks = 0
    clinic.save()
    course = make_course("10hz-standard")
    course.refresh_from_db()
    assert selectors.window_end_date(course) == FIRST_DAY + dt.timedelta(weeks=9)


PHQ9_ITEMS_SELF_HARM_2 = [3, 3, 2, 2, 1, 1, 0, 0, 2]
PHQ9_ITEMS_NO_SELF_HARM = [3, 3, 3, 3, 3, 3, 3, 3, 0]


def test_phq9_with_item_9_above_zero_raises_a_safety_flag(
    make_course: Callable[..., TreatmentCourse], psychiatrist: Any
) -> None:
    course = make_course()
    assessment = services.assessment_record(
        course,
        instrument=PHQ9,
        administered_on=FIRST_DAY,
        by=psychiatrist,
        items=PHQ9_ITEMS_SELF_HARM_2,
    )
    assert assessment.score == 14
    assert assessment.items == PHQ9_ITEMS_SELF_HARM_2
    flag = SafetyFlag.objects.get()
    assert flag.assessment == assessment
    assert flag.course == course
    assert flag.item_value == 2
    assert flag.raised_by == psychiatrist
    assert flag.raised_at is not None
    assert flag.acknowledged_at is None


def test_phq9_with_item_9_zero_raises_no_safety_flag(
    make_course: Callable[..., TreatmentCourse], psychiatrist: Any
) -> None:
    course = make_course()
    assessment = services.assessment_record(
        course,
        instrument=PHQ9,
        administered_on=FIRST_DAY,
        by=psychiatrist,
        items=PHQ9_ITEMS_NO_SELF_HARM,
    )
    assert assessment.score == 24
    assert not SafetyFlag.objects.exists()


@pytest.mark.parametrize(
    ("instrument", "items", "raised"),
    [
        # HAM-D17 item 3 (suicide) from 1; MADRS item 10 (suicidal thoughts) from 2;
        # BDI-II item 9 (suicidal thoughts or wishes) from 1; GAD-7 has no such item.
        (InstrumentCode.HAMD17, [0, 0, 1, *[0] * 14], True),
        (InstrumentCode.HAMD17, [4, 4, 0, *[2] * 14], False),
        (InstrumentCode.MADRS, [*[0] * 9, 2], True),
        (InstrumentCode.MADRS, [*[6] * 9, 1], False),
        (InstrumentCode.BDI2, [*[0] * 8, 1, *[0] * 12], True),
        (InstrumentCode.BDI2, [*[3] * 8, 0, *[3] * 12], False),
        (InstrumentCode.GAD7, [3] * 7, False),
    ],
)
def test_every_scales_suicide_item_raises_the_safety_flag(
    make_course: Callable[..., TreatmentCourse],
    psychiatrist: Any,
    instrument: str,
    items: list[int],
    raised: bool,
) -> None:
    course = make_course()
    services.assessment_record(
        course, instrument=instrument, administered_on=FIRST_DAY, by=psychiatrist, items=items
    )
    assert SafetyFlag.objects.filter(course=course).exists() is raised


def test_a_phq9_total_needs_item_9_answered(
    make_course: Callable[..., TreatmentCourse], psychiatrist: Any
) -> None:
    """A total alone could hide thoughts of self-harm: item 9 is always answered."""
    course = make_course()
    with pytest.raises(ValidationError) as refused:
        services.assessment_record(
            course, instrument=PHQ9, administered_on=FIRST_DAY, by=psychiatrist, score=27
        )
    assert refused.value.message_dict == {
        "suicide_item": [
            "Give the answer to PHQ-9 item 9 (thoughts of self-harm), even with the total only."
        ]
    }
    assert not Assessment.objects.exists()
    services.assessment_record(
        course,
        instrument=PHQ9,
        administered_on=FIRST_DAY,
        by=psychiatrist,
        score=27,
        suicide_item=2,
    )
    flag = SafetyFlag.objects.get(course=course)
    assert flag.item_value == 2


def test_the_suicide_item_must_agree_with_the_items(
    make_course: Callable[..., TreatmentCourse], psychiatrist: Any
) -> None:
    course = make_course()
    with pytest.raises(ValidationError) as refused:
        services.assessment_record(
            course,
            instrument=PHQ9,
            administered_on=FIRST_DAY,
            by=psychiatrist,
            items=[1] * 9,
            suicide_item=0,
        )
    assert list(refused.value.message_dict) == ["suicide_item"]


def test_assessment_record_rejects_an_invalid_score_and_stores_nothing(
    make_course: Callable[..., TreatmentCourse], psychiatrist: Any
) -> None:
    course = make_course()
    with pytest.raises(ValidationError):
        services.assessment_record(
            course, instrument=PHQ9, administered_on=FIRST_DAY, by=psychiatrist, score=28
        )
    assert not Assessment.objects.exists()


def test_course_outcomes_tracks_gad7_as_well_for_anxious_depression(
    make_course: Callable[..., TreatmentCourse], psychiatrist: Any
) -> None:
    course = make_course(indication=Indication.MDD_ANXIETY)
    for instrument, value, day in [(PHQ9, 20, -1), (PHQ9, 8, 28), (GAD7, 12, 0), (GAD7, 3, 28)]:
        services.assessment_record(
            course,
            instrument=instrument,
            administered_on=FIRST_DAY + dt.timedelta(days=day),
            by=psychiatrist,
            score=value,
            suicide_item=None if instrument == GAD7 else 0,
        )
    phq, gad = selectors.course_outcomes(course)
    assert phq.instrument == PHQ9
    assert phq.baseline is not None and phq.baseline.score == 20
    assert phq.latest is not None and phq.latest.score == 8
    assert (phq.response, phq.remission) == (True, False)
    assert gad.instrument == GAD7
    assert gad.baseline is not None and gad.baseline.score == 12
    assert gad.latest is not None and gad.latest.score == 3
    assert (gad.response, gad.remission) == (True, True)


# --- outcome_summary -------------------------------------------------------------------

COMPLETED_ON = dt.date(2026, 5, 15)


def complete(course: TreatmentCourse, on: dt.date = COMPLETED_ON) -> None:
    TreatmentCourse.objects.filter(pk=course.pk).update(
        status=CourseStatus.COMPLETED, completed_on=on
    )


@pytest.fixture
def record(psychiatrist: Any) -> Callable[..., None]:
    def add(course: TreatmentCourse, *scores: tuple[int, int], instrument: str = PHQ9) -> None:
        for value, day in scores:
            services.assessment_record(
                course,
                instrument=instrument,
                administered_on=course.start_date + dt.timedelta(days=day),
                by=psychiatrist,
                score=value,
                suicide_item=None if instrument == GAD7 else 0,
            )

    return add


def test_outcome_summary_counts_completed_courses_by_protocol_and_indication(
    clinic: Any,
    make_course: Callable[..., TreatmentCourse],
    record: Callable[..., None],
) -> None:
    # 10hz-standard / MDD: a responder, a remitter, a non-responder, one without baseline.
    responder = make_course()
    record(responder, (20, -1), (8, 40))
    remitter = make_course()
    record(remitter, (18, 0), (12, 20), (4, 40))
    non_responder = make_course()
    record(non_responder, (20, -2), (15, 40))
    no_baseline = make_course()
    record(no_baseline, (20, -9), (3, 40))
    # snt-accelerated / MDD: one remitter.
    snt = make_course("snt-accelerated")
    record(snt, (24, -1), (2, 6))
    # 10hz-standard / GAD on GAD-7: a non-responder.
    gad = make_course(indication=Indication.GAD)
    assert gad.primary_instrument == GAD7
    record(gad, (16, -1), (10, 40), instrument=GAD7)
    record(gad, (20, -1), (1, 40))  # PHQ-9 is not its primary instrument
    for course in (responder, remitter, non_responder, no_baseline, snt, gad):
        complete(course)

    rows = selectors.outcome_summary(
        [clinic.pk], COMPLETED_ON - dt.timedelta(days=1), COMPLETED_ON + dt.timedelta(days=1)
    )

    summary = {
        (row.protocol, row.indication): (
            row.completed,
            row.evaluable,
            row.responders,
            row.remitters,
            row.response_rate,
            row.remission_rate,
        )
        for row in rows
    }
    assert summary == {
        ("10hz-standard", "gad"): (1, 1, 0, 0, 0.0, 0.0),
        ("10hz-standard", "mdd"): (4, 3, 2, 1, 0.667, 0.333),
        ("snt-accelerated", "mdd"): (1, 1, 1, 1, 1.0, 1.0),
    }
    assert [(row.protocol, row.indication) for row in rows] == sorted(summary)


def test_outcome_summary_includes_both_ends_of_the_date_range(
    clinic: Any, make_course: Callable[..., TreatmentCourse], record: Callable[..., None]
) -> None:
    first, last = make_course(), make_course()
    record(first, (20, 0), (5, 40))
    record(last, (20, 0), (5, 40))
    complete(first, dt.date(2026, 5, 1))
    complete(last, dt.date(2026, 5, 31))
    (row,) = selectors.outcome_summary([clinic.pk], dt.date(2026, 5, 1), dt.date(2026, 5, 31))
    assert (row.completed, row.evaluable, row.responders, row.remitters) == (2, 2, 2, 0)


def test_outcome_summary_leaves_out_open_other_clinic_and_out_of_range_courses(
    clinic: Any,
    make_course: Callable[..., TreatmentCourse],
    record: Callable[..., None],
) -> None:
    before, after = make_course(), make_course()
    complete(before, dt.date(2026, 4, 30))
    complete(after, dt.date(2026, 6, 1))
    still_active = make_course()
    TreatmentCourse.objects.filter(pk=still_active.pk).update(status=CourseStatus.ACTIVE)
    discontinued = make_course()
    TreatmentCourse.objects.filter(pk=discontinued.pk).update(
        status=CourseStatus.DISCONTINUED, completed_on=COMPLETED_ON
    )
    elsewhere = ClinicFactory()
    elsewhere_psychiatrist = MembershipFactory(clinic=elsewhere, role="psychiatrist").user
    foreign = services.course_create(
        patient=PatientFactory(clinic=elsewhere),
        psychiatrist=elsewhere_psychiatrist,
        protocol=catalog("10hz-standard"),
        indication=Indication.MDD,
        start_date=FIRST_DAY,
        preferred_time=dt.time(9, 30),
    )
    complete(foreign)

    assert selectors.outcome_summary([clinic.pk], dt.date(2026, 5, 1), dt.date(2026, 5, 31)) == []
    (row,) = selectors.outcome_summary(
        [clinic.pk, elsewhere.pk], dt.date(2026, 5, 1), dt.date(2026, 5, 31)
    )
    assert (row.completed, row.evaluable) == (1, 0)


def test_outcome_summary_rates_are_none_without_evaluable_courses(
    clinic: Any, make_course: Callable[..., TreatmentCourse], record: Callable[..., None]
) -> None:
    only_baseline = make_course()
    record(only_baseline, (20, -1))
    complete(only_baseline)
    (row,) = selectors.outcome_summary([clinic.pk], COMPLETED_ON, COMPLETED_ON)
    assert (row.completed, row.evaluable) == (1, 0)
    assert row.response_rate is None
    assert row.remission_rate is None
