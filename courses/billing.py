"""Billing vocabulary of the course record: the CPT codes of rTMS, and the ICD-10
diagnosis a course is billed under (docs/billing.md).

Scheduling decides which code a session carries (``scheduling.billing``); the course
record knows only the codes themselves, because an authorization is scoped to them.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models


class BillingCode(models.TextChoices):
    INITIAL = "90867", "90867 Initial rTMS with cortical mapping and motor threshold"
    SUBSEQUENT = "90868", "90868 Subsequent rTMS delivery and management"
    REDETERMINATION = "90869", "90869 rTMS with motor threshold re-determination"


# The ICD-10-CM code a course is billed under when it records none of its own. The
# indication says "major depressive disorder", not which episode or severity: payers
# cover rTMS for recurrent (or single-episode) severe MDD without psychotic features,
# and F33.2 is what most clinics bill; a course with another diagnosis records its own.
ICD10_FOR_INDICATION: dict[str, str] = {
    "mdd": "F33.2",
    "mdd_anxiety": "F33.2",
    "gad": "F41.1",
    "ocd": "F42.2",
}

# ICD-10-CM: a letter (not U, reserved), two characters, then up to four after a dot.
ICD10_PATTERN = re.compile(r"[A-TV-Z][0-9][0-9AB](\.[0-9A-TV-Z]{1,4})?")
# The same as the API's schema says it (drf-spectacular adds "or empty").
ICD10_ANCHORED = rf"^{ICD10_PATTERN.pattern}$"


def validate_icd10(value: str) -> None:
    if not ICD10_PATTERN.fullmatch(value):
        raise ValidationError(
            "Enter an ICD-10-CM code such as F33.2.", code="invalid_diagnosis_code"
        )


def diagnosis_code(indication: str, recorded: str = "") -> str:
    """The course's ICD-10 code: the one recorded on it, else its indication's default
    ("" for an indication without one: the course must record its code)."""
    return recorded or ICD10_FOR_INDICATION.get(indication, "")
