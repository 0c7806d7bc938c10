"""Validators of a clinic's identifiers: its time zone, and the billing identifiers a
superbill carries (docs/billing.md): the NPI with its check digit, the tax id (EIN)."""

from __future__ import annotations

import re
import zoneinfo

from django.core.exceptions import ValidationError
from django.db import models

# The prefix ISO 7812 gives US health identifiers; the NPI's check digit is the Luhn
# digit of the prefix and the NPI's first nine digits.
NPI_ISSUER_PREFIX = "80840"
EIN_PATTERN = re.compile(r"(\d{2})-(\d{7})")


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            "%(value)s is not an IANA time zone (for example America/New_York).",
            code="invalid_timezone",
            params={"value": value},
        )


def luhn_valid(digits: str) -> bool:
    """The Luhn check: from the right, every second digit doubled (less 9 past 9),
    the sum a multiple of ten."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def validate_npi(value: str) -> None:
    if not (len(value) == 10 and value.isascii() and value.isdigit()):
        raise ValidationError("An NPI is 10 digits.", code="invalid_npi")
    if value[0] not in "12" or not luhn_valid(NPI_ISSUER_PREFIX + value):
        raise ValidationError(
            "This is not a valid NPI: its check digit does not match.", code="invalid_npi"
        )


def validate_tax_id(value: str) -> None:
    match = EIN_PATTERN.fullmatch(value)
    if match is None or match.group(1) == "00":
        raise ValidationError("Enter the EIN as 12-3456789.", code="invalid_tax_id")


def npi_field() -> models.CharField[str, str]:
    """``Clinic.npi``: empty until the clinic bills (its superbills then say so)."""
    return models.CharField(
        "NPI",
        max_length=10,
        blank=True,
        validators=[validate_npi],
        help_text="The clinic's National Provider Identifier (10 digits), on superbills.",
    )


def tax_id_field() -> models.CharField[str, str]:
    """``Clinic.tax_id``: the federal tax id (EIN) a superbill names."""
    return models.CharField(
        "tax id",
        max_length=10,
        blank=True,
        validators=[validate_tax_id],
        help_text="The clinic's federal tax id (EIN) as 12-3456789, on superbills.",
    )
