"""Rating scales against their published cut-offs (no database)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from courses.instruments import INSTRUMENTS, PHQ9_SELF_HARM_ITEM, InstrumentCode, is_response
from courses.services import assessment_total

PHQ9 = INSTRUMENTS[InstrumentCode.PHQ9]
GAD7 = INSTRUMENTS[InstrumentCode.GAD7]
HAMD17 = INSTRUMENTS[InstrumentCode.HAMD17]
MADRS = INSTRUMENTS[InstrumentCode.MADRS]
BDI2 = INSTRUMENTS[InstrumentCode.BDI2]

# Published layout: (number of items, per-item maximum(s), maximum total).
HAMD17_ZERO_TO_FOUR_ITEMS = {1, 2, 3, 7, 8, 9, 10, 11, 15}
HAMD17_MAXIMA = tuple(4 if n in HAMD17_ZERO_TO_FOUR_ITEMS else 2 for n in range(1, 18))
PUBLISHED_MAXIMA = {
    InstrumentCode.PHQ9: (3,) * 9,
    InstrumentCode.GAD7: (3,) * 7,
    InstrumentCode.HAMD17: HAMD17_MAXIMA,
    InstrumentCode.MADRS: (6,) * 10,
    InstrumentCode.BDI2: (3,) * 21,
}
PUBLISHED_MAX_TOTAL = {
    InstrumentCode.PHQ9: 27,
    InstrumentCode.GAD7: 21,
    InstrumentCode.HAMD17: 52,
    InstrumentCode.MADRS: 60,
    InstrumentCode.BDI2: 63,
}
CODES = list(PUBLISHED_MAXIMA)


def error_keys(excinfo: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return set(excinfo.value.message_dict)


# --- Layout ----------------------------------------------------------------------------


def test_every_instrument_code_has_a_scale() -> None:
    assert set(INSTRUMENTS) == set(InstrumentCode)


@pytest.mark.parametrize("code", CODES)
def test_item_maxima_match_the_published_layout(code: str) -> None:
    assert INSTRUMENTS[code].item_maxima == PUBLISHED_MAXIMA[code]


@pytest.mark.parametrize("code", CODES)
def test_max_total_matches_the_published_range(code: str) -> None:
    assert INSTRUMENTS[code].max_total == PUBLISHED_MAX_TOTAL[code]


def test_hamd17_has_nine_items_scored_0_to_4_and_eight_scored_0_to_2() -> None:
    assert HAMD17.item_maxima.count(4) == 9
    assert HAMD17.item_maxima.count(2) == 8
    assert len(HAMD17.item_maxima) == 17


def test_loinc_codes_of_phq9_and_gad7_totals() -> None:
    assert PHQ9.loinc == "44261-6"
    assert GAD7.loinc == "70274-6"


def test_phq9_self_harm_question_is_item_9() -> None:
    assert PHQ9_SELF_HARM_ITEM == 9


# --- Severity bands --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately severe"),
        (19, "moderately severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_phq9_bands_are_0_4_5_9_10_14_15_19_20_27(total: int, band: str) -> None:
    assert PHQ9.severity(total) == band


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "severe"),
        (21, "severe"),
    ],
)
def test_gad7_bands_are_0_4_5_9_10_14_15_21(total: int, band: str) -> None:
    assert GAD7.severity(total) == band


@pytest.mark.parametrize("code", CODES)
def test_every_total_in_range_has_exactly_one_band_and_bands_never_go_back(code: str) -> None:
    scale = INSTRUMENTS[code]
    labels = [band.label for band in scale.bands]
    positions = [labels.index(scale.severity(total)) for total in range(scale.max_total + 1)]
    assert positions[0] == 0
    assert positions == sorted(positions)
    assert positions[-1] == len(labels) - 1


# --- Remission -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "highest_remitted"),
    [
        (InstrumentCode.PHQ9, 4),  # < 5
        (InstrumentCode.GAD7, 4),  # < 5
        (InstrumentCode.HAMD17, 7),  # <= 7
        (InstrumentCode.MADRS, 9),  # < 10
        (InstrumentCode.BDI2, 13),  # <= 13
    ],
)
def test_remission_cut_off_is_exact(code: str, highest_remitted: int) -> None:
    scale = INSTRUMENTS[code]
    assert scale.in_remission(0)
    assert scale.in_remission(highest_remitted)
    assert not scale.in_remission(highest_remitted + 1)
    assert not scale.in_remission(scale.max_total)


# --- Response --------------------------------------------------------------------------


def test_response_is_a_fall_of_at_least_half_baseline_20_latest_10() -> None:
    assert is_response(20, 10) is True


def test_no_response_when_the_fall_is_short_of_half_baseline_20_latest_11() -> None:
    assert is_response(20, 11) is False


def test_response_with_an_odd_baseline_rounds_against_the_patient() -> None:
    # 21 -> 10 is a 52% fall; 21 -> 11 only 48%.
    assert is_response(21, 10) is True
    assert is_response(21, 11) is False


def test_response_when_the_score_falls_to_zero() -> None:
    assert is_response(20, 0) is True


def test_no_response_when_the_score_rises() -> None:
    assert is_response(10, 15) is False


def test_response_is_none_when_the_baseline_is_zero() -> None:
    assert is_response(0, 0) is None
    assert is_response(0, 5) is None


@given(baseline=st.integers(1, 63), latest=st.integers(0, 63))
def test_response_means_latest_at_most_half_of_baseline(baseline: int, latest: int) -> None:
    assert is_response(baseline, latest) is (latest / baseline <= 0.5)


# --- item_errors -----------------------------------------------------------------------


@pytest.mark.parametrize("code", CODES)
def test_item_errors_empty_for_all_zero_and_all_maximum_items(code: str) -> None:
    scale = INSTRUMENTS[code]
    assert scale.item_errors([0] * len(scale.item_maxima)) == []
    assert scale.item_errors(list(scale.item_maxima)) == []


@pytest.mark.parametrize("code", CODES)
def test_item_errors_reports_a_wrong_number_of_items(code: str) -> None:
    scale = INSTRUMENTS[code]
    count = len(scale.item_maxima)
    for wrong in (0, count - 1, count + 1):
        errors = scale.item_errors([0] * wrong)
        assert len(errors) == 1
        assert f"has {count} items; got {wrong}" in errors[0]


def test_item_errors_names_the_item_above_its_maximum() -> None:
    items = [0] * 9
    items[6] = 4  # item 7
    assert PHQ9.item_errors(items) == ["Item 7 must be between 0 and 3; got 4."]


def test_item_errors_names_a_negative_item() -> None:
    items = [0] * 7
    items[0] = -1
    assert GAD7.item_errors(items) == ["Item 1 must be between 0 and 3; got -1."]


def test_item_errors_lists_every_bad_item() -> None:
    items = [0] * 10
    items[2] = 7
    items[9] = -2
    assert MADRS.item_errors(items) == [
        "Item 3 must be between 0 and 6; got 7.",
        "Item 10 must be between 0 and 6; got -2.",
    ]


def test_hamd17_item_4_is_capped_at_2_and_item_15_at_4() -> None:
    items = [0] * 17
    items[3] = 3  # item 4: insomnia early, 0-2
    items[14] = 4  # item 15: hypochondriasis, 0-4
    assert HAMD17.item_errors(items) == ["Item 4 must be between 0 and 2; got 3."]


# --- assessment_total (property based) -------------------------------------------------


@st.composite
def valid_items(draw: st.DrawFn) -> tuple[str, list[int]]:
    code = draw(st.sampled_from(CODES))
    items = [draw(st.integers(0, maximum)) for maximum in PUBLISHED_MAXIMA[code]]
    return code, items


@st.composite
def items_with_one_out_of_range(draw: st.DrawFn) -> tuple[str, list[int], int]:
    code, items = draw(valid_items())
    index = draw(st.integers(0, len(items) - 1))
    maximum = PUBLISHED_MAXIMA[code][index]
    items[index] = draw(st.integers(maximum + 1, 100) | st.integers(-100, -1))
    return code, items, index + 1


@given(valid_items())
def test_valid_items_have_no_errors_and_total_is_their_sum(case: tuple[str, list[int]]) -> None:
    code, items = case
    assert INSTRUMENTS[code].item_errors(items) == []
    assert assessment_total(code, None, items) == sum(items)


@given(valid_items())
def test_score_equal_to_the_item_sum_is_accepted(case: tuple[str, list[int]]) -> None:
    code, items = case
    assert assessment_total(code, sum(items), items) == sum(items)


@given(valid_items(), st.integers(-100, 100).filter(lambda delta: delta != 0))
def test_score_differing_from_the_item_sum_raises_on_score(
    case: tuple[str, list[int]], delta: int
) -> None:
    code, items = case
    with pytest.raises(ValidationError) as excinfo:
        assessment_total(code, sum(items) + delta, items)
    assert error_keys(excinfo) == {"score"}


@given(items_with_one_out_of_range())
def test_one_item_out_of_range_raises_on_items_naming_it(
    case: tuple[str, list[int], int],
) -> None:
    code, items, number = case
    with pytest.raises(ValidationError) as excinfo:
        assessment_total(code, None, items)
    assert error_keys(excinfo) == {"items"}
    assert excinfo.value.message_dict["items"] == [
        f"Item {number} must be between 0 and {PUBLISHED_MAXIMA[code][number - 1]}; "
        f"got {items[number - 1]}."
    ]


@given(valid_items(), st.integers(1, 100))
def test_wrong_number_of_items_raises_on_items(case: tuple[str, list[int]], extra: int) -> None:
    code, items = case
    too_many = items + [0] * extra
    with pytest.raises(ValidationError) as excinfo:
        assessment_total(code, None, too_many)
    assert error_keys(excinfo) == {"items"}
    with pytest.raises(ValidationError) as excinfo:
        assessment_total(code, None, items[:-1])
    assert error_keys(excinfo) == {"items"}


@st.composite
def totals_in_range(draw: st.DrawFn) -> tuple[str, int]:
    code = draw(st.sampled_from(CODES))
    return code, draw(st.integers(0, PUBLISHED_MAX_TOTAL[code]))


@given(totals_in_range())
def test_any_total_in_range_without_items_is_accepted(case: tuple[str, int]) -> None:
    code, score = case
    assert assessment_total(code, score, None) == score


@given(st.sampled_from(CODES), st.integers(1, 1000))
def test_total_above_max_total_raises_on_score(code: str, excess: int) -> None:
    with pytest.raises(ValidationError) as excinfo:
        assessment_total(code, PUBLISHED_MAX_TOTAL[code] + excess, None)
    assert error_keys(excinfo) == {"score"}


@given(st.sampled_from(CODES), st.integers(-1000, -1))
def test_negative_total_raises_on_score(code: str, score: int) -> None:
    with pytest.raises(ValidationError) as excinfo:
        assessment_total(code, score, None)
    assert error_keys(excinfo) == {"score"}


@pytest.mark.parametrize("code", CODES)
def test_max_total_itself_is_accepted_and_one_more_is_not(code: str) -> None:
    top = PUBLISHED_MAX_TOTAL[code]
    assert assessment_total(code, top, None) == top
    with pytest.raises(ValidationError):
        assessment_total(code, top + 1, None)


def test_neither_score_nor_items_raises_on_score() -> None:
    with pytest.raises(ValidationError) as excinfo:
        assessment_total(InstrumentCode.PHQ9, None, None)
    assert error_keys(excinfo) == {"score"}


@pytest.mark.parametrize("code", ["phq8", "", "PHQ9", "hamd21"])
def test_unknown_instrument_raises_on_instrument(code: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        assessment_total(code, 5, None)
    assert error_keys(excinfo) == {"instrument"}
