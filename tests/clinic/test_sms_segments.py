"""How many segments a text is billed as (GSM 03.38 and UCS-2 rules)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic.patient_text import GSM7, GSM7_EXTENSION, sms_segments

BASIC = st.sampled_from(sorted(GSM7))
EXTENDED = st.sampled_from(sorted(GSM7_EXTENSION))


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),  # parts hold 153 septets each
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # an extension character takes two septets
        ("€" * 81, 2),
        ("a" * 159 + "[", 2),
        ("é" * 160, 1),  # in the basic table
        ("ç" + "a" * 69, 1),  # ç is not (only Ç is): the whole text is UCS-2
        ("ç" + "a" * 70, 2),
        ("ç" + "a" * 133, 2),  # UCS-2 parts hold 67
        ("ç" + "a" * 134, 3),
        ("👍" * 35, 1),  # outside the BMP: two UTF-16 units each
        ("👍" * 36, 2),
    ],
)
def test_examples(text: str, segments: int) -> None:
    assert sms_segments(text) == segments


@given(st.lists(BASIC, max_size=400))
def test_basic_characters_count_one_septet(chars: list[str]) -> None:
    count = len(chars)
    expected = 1 if count <= 160 else -(-count // 153)
    assert sms_segments("".join(chars)) == expected


@given(st.lists(BASIC, max_size=200), st.lists(EXTENDED, max_size=100))
def test_extension_characters_count_two(basic: list[str], extended: list[str]) -> None:
    septets = len(basic) + 2 * len(extended)
    expected = 1 if septets <= 160 else -(-septets // 153)
    assert sms_segments("".join(basic + extended)) == expected


@given(st.text(max_size=300))
def test_one_character_outside_gsm7_makes_it_ucs2(text: str) -> None:
    text = text + "ç"
    units = len(text.encode("utf-16-le")) // 2
    assert sms_segments(text) == (1 if units <= 70 else -(-units // 67))
