"""Phone numbers are stored in E.164; parsing and validation go through phonenumbers."""

from __future__ import annotations

import phonenumbers
from django.core.exceptions import ValidationError

DEFAULT_REGION = "US"


def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """Return ``raw`` in E.164 or raise ValidationError if it is not a valid number."""
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise ValidationError("Enter a valid phone number.", code="invalid_phone") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError("Enter a valid phone number.", code="invalid_phone")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def validate_e164(value: str) -> None:
    if value and normalize_phone(value) != value:
        raise ValidationError(
            "Store phone numbers in E.164 form, for example +17185550123.", code="not_e164"
        )
