"""Rating scales: item layout, score range, severity bands, remission cut-offs.

Published cut-offs:
- PHQ-9 (Kroenke 2001): 9 items 0-3, total 0-27; bands 5/10/15/20; remission < 5.
- GAD-7 (Spitzer 2006): 7 items 0-3, total 0-21; bands 5/10/15; remission < 5.
- HAM-D17: 17 items (nine 0-4, eight 0-2), total 0-52; remission <= 7.
- MADRS (Montgomery & Asberg 1979): 10 items 0-6, total 0-60; remission < 10.
- BDI-II (Beck 1996): 21 items 0-3, total 0-63; remission <= 13.
Response on any of them is a fall of at least 50% from baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


class InstrumentCode(models.TextChoices):
    PHQ9 = "phq9", "PHQ-9"
    GAD7 = "gad7", "GAD-7"
    HAMD17 = "hamd17", "HAM-D17"
    MADRS = "madrs", "MADRS"
    BDI2 = "bdi2", "BDI-II"


@dataclass(frozen=True)
class Band:
    lower: int  # the band starts at this total (inclusive)
    label: str


@dataclass(frozen=True)
class Instrument:
    code: str
    name: str
    item_maxima: tuple[int, ...]
    remission_below: int  # remission when total < remission_below
    bands: tuple[Band, ...]
    loinc: str | None = None
    # The item asking about suicidal thoughts (1-based) and the answer from which on it
    # raises the safety flag; None for a scale without one (GAD-7).
    suicide_item: int | None = None
    suicide_cutoff: int = 1

    @property
    def max_total(self) -> int:
        return sum(self.item_maxima)

    def severity(self, total: int) -> str:
        label = self.bands[0].label
        for band in self.bands:
            if total >= band.lower:
                label = band.label
        return label

    def in_remission(self, total: int) -> bool:
        return total < self.remission_below

    def raises_safety_flag(self, answer: int | None) -> bool:
        return (
            self.suicide_item is not None and answer is not None and answer >= self.suicide_cutoff
        )

    def item_errors(self, items: list[int]) -> list[str]:
        """Messages for every problem with a list of item scores (empty when valid)."""
        if len(items) != len(self.item_maxima):
            return [f"{self.name} has {len(self.item_maxima)} items; got {len(items)}."]
        return [
            f"Item {number} must be between 0 and {maximum}; got {value}."
            for number, (value, maximum) in enumerate(zip(items, self.item_maxima, strict=True), 1)
            if not 0 <= value <= maximum
        ]


def is_response(baseline: int, latest: int) -> bool | None:
    """At least a 50% fall from baseline; None when there is nothing to fall from."""
    if baseline <= 0:
        return None
    return 2 * latest <= baseline


INSTRUMENTS: dict[str, Instrument] = {
    InstrumentCode.PHQ9: Instrument(
        code=InstrumentCode.PHQ9,
        name="PHQ-9",
        item_maxima=(3,) * 9,
        remission_below=5,
        bands=(
            Band(0, "minimal"),
            Band(5, "mild"),
            Band(10, "moderate"),
            Band(15, "moderately severe"),
            Band(20, "severe"),
        ),
        loinc="44261-6",
        # Item 9, "thoughts that you would be better off dead or of hurting yourself":
        # any answer above "not at all" (Kroenke 2001; Simon 2013, Psychiatr Serv 64:1195).
        suicide_item=9,
        suicide_cutoff=1,
    ),
    InstrumentCode.GAD7: Instrument(
        code=InstrumentCode.GAD7,
        name="GAD-7",
        item_maxima=(3,) * 7,
        remission_below=5,
        bands=(Band(0, "minimal"), Band(5, "mild"), Band(10, "moderate"), Band(15, "severe")),
        loinc="70274-6",
    ),
    InstrumentCode.HAMD17: Instrument(
        code=InstrumentCode.HAMD17,
        name="HAM-D17",
        # Items 1-3, 7-11 and 15 are scored 0-4; items 4-6, 12-14, 16 and 17 are 0-2.
        item_maxima=(4, 4, 4, 2, 2, 2, 4, 4, 4, 4, 4, 2, 2, 2, 4, 2, 2),
        remission_below=8,
        bands=(
            Band(0, "normal"),
            Band(8, "mild"),
            Band(14, "moderate"),
            Band(19, "severe"),
            Band(23, "very severe"),
        ),
        # Item 3, suicide: 1 = "feels life is not worth living" and above (Hamilton 1960).
        suicide_item=3,
        suicide_cutoff=1,
    ),
    InstrumentCode.MADRS: Instrument(
        code=InstrumentCode.MADRS,
        name="MADRS",
        item_maxima=(6,) * 10,
        remission_below=10,
        bands=(Band(0, "normal"), Band(7, "mild"), Band(20, "moderate"), Band(35, "severe")),
        # Item 10, suicidal thoughts: 2 = "weary of life, only fleeting suicidal thoughts"
        # and above (Montgomery & Asberg 1979); 0-1 describe no suicidal thoughts.
        suicide_item=10,
        suicide_cutoff=2,
    ),
    InstrumentCode.BDI2: Instrument(
        code=InstrumentCode.BDI2,
        name="BDI-II",
        item_maxima=(3,) * 21,
        remission_below=14,
        bands=(Band(0, "minimal"), Band(14, "mild"), Band(20, "moderate"), Band(29, "severe")),
        # Item 9, suicidal thoughts or wishes: 1 = "thoughts of killing myself, but I would
        # not carry them out" and above (Beck, Steer & Brown 1996).
        suicide_item=9,
        suicide_cutoff=1,
    ),
}

# PHQ-9 item 9 asks about thoughts of self-harm; any answer above 0 is a safety flag.
PHQ9_SELF_HARM_ITEM = INSTRUMENTS[InstrumentCode.PHQ9].suicide_item
