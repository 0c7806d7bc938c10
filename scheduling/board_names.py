"""Patients' names as the day's board shows them: first name and last initial, and when
two patients of the day share those, the end of each one's MRN after it, so the front
desk greets and checks in the right person without the board showing more of a name."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

MRN_TAIL = 4


def patient_board_name(first_name: str, last_name: str) -> str:
    """First name and last initial: enough to greet the right person, little to leak
    on a screen the waiting room might see."""
    return f"{first_name} {last_name[:1]}." if last_name else first_name


def disambiguate(entries: Iterable[dict[str, Any]], mrns: dict[int, str]) -> None:
    """Add ``· MRN …1234`` to the names (``entry["patient"]["name"]``) that stand for
    more than one patient among ``entries``; ``mrns`` maps patient ids to MRNs."""
    entries = list(entries)
    patients: defaultdict[str, set[int]] = defaultdict(set)
    for entry in entries:
        patients[entry["patient"]["name"]].add(entry["patient"]["id"])
    for entry in entries:
        patient = entry["patient"]
        if len(patients[patient["name"]]) > 1:
            patient["name"] = f"{patient['name']} · MRN …{mrns[patient['id']][-MRN_TAIL:]}"
