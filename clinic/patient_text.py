"""Text that reaches patients' phones.

An SMS of GSM 03.38 basic characters holds 160 of them in one segment; one character
outside that set turns the whole message into UCS-2 (70 a segment). And a text shown on
a lock screen must not disclose psychiatric care, so the clinic's display name, which
every message carries, must not name the treatment or the condition.
"""

from __future__ import annotations

import re
import unicodedata

from django.core.exceptions import ValidationError

GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each is sent as an escape and the character, two septets.
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
GSM7_SEGMENT, GSM7_PART = 160, 153  # septets: one segment, each part of a longer text
UCS2_SEGMENT, UCS2_PART = 70, 67  # UTF-16 code units, likewise
# Letters without a decomposition to a GSM-7 one, and typographic punctuation.
LOOKALIKES = {
    "Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "\u0131": "i",  # dotless i
    "œ": "oe", "Œ": "OE", "þ": "th", "Þ": "Th", "ð": "d",
    "\u2018": "'", "\u2019": "'", "\u201a": "'",  # curly single quotes
    "\u201c": '"', "\u201d": '"', "\u201e": '"',  # curly double quotes
    "\u2013": "-", "\u2014": "-", "\u2026": "...", "\u00a0": " ",  # dashes, ellipsis, nbsp
}  # fmt: skip
# Words a display name must not contain: the treatment, the condition, the specialty.
DISCLOSING = re.compile(
    r"\b(r?tms|ect|ocd)\b|\bmind|magnet|stimulat|depress|psych|mental|mood disorder"
    r"|neuro|brain|behaviou?ral",
    re.IGNORECASE,
)


def to_gsm7(text: str) -> str:
    """``text`` in GSM-7 basic characters: accents a phone could not show are dropped
    (Zoë -> Zoe, Łukasz -> Lukasz), characters with no such form are left out."""
    kept = []
    for char in text:
        if char in GSM7:
            kept.append(char)
            continue
        plain = unicodedata.normalize("NFKD", LOOKALIKES.get(char, char))
        kept.extend(part for part in plain if part in GSM7)
    return "".join(kept)


def sms_segments(text: str) -> int:
    """How many segments a phone network bills ``text`` as: GSM-7 when every character
    is in the basic or extension table (extension characters take two septets), else
    UCS-2 (UTF-16 code units); a text longer than one segment is sent in parts that
    each lose room to the header that joins them."""
    if all(char in GSM7 or char in GSM7_EXTENSION for char in text):
        units = sum(2 if char in GSM7_EXTENSION else 1 for char in text)
        single, part = GSM7_SEGMENT, GSM7_PART
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, part = UCS2_SEGMENT, UCS2_PART
    if units <= single:
        return 1
    return -(-units // part)


def validate_display_name(value: str) -> None:
    """The clinic's name in patient messages: GSM-7 characters, and neutral."""
    outside = sorted({char for char in value if char not in GSM7})
    if outside:
        raise ValidationError(
            "Use only characters a text message can carry as they are (not %(chars)s).",
            code="not_gsm7",
            params={"chars": " ".join(outside)},
        )
    disclosed = DISCLOSING.search(value)
    if disclosed:
        raise ValidationError(
            "Patients see this name on their phones: it must not name the treatment, "
            "the condition or the specialty (%(word)s).",
            code="disclosing_name",
            params={"word": disclosed.group(0)},
        )
