"""Password rules besides Django's own validators (see AUTH_PASSWORD_VALIDATORS).

Django's minimum length counts spaces, so twelve spaces or "aaaaaaaaaaaa" pass it;
and the product's name is the first word an attacker tries against its logins.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError


class VariedCharactersValidator:
    """At least ``min_distinct`` different characters, not counting whitespace."""

    def __init__(self, min_distinct: int = 5) -> None:
        self.min_distinct = min_distinct

    def validate(self, password: str, user: Any = None) -> None:
        if len({char for char in password if not char.isspace()}) < self.min_distinct:
            raise ValidationError(
                "This password repeats too few characters: use at least "
                f"{self.min_distinct} different ones besides spaces.",
                code="password_too_uniform",
            )

    def get_help_text(self) -> str:
        return f"Your password must use at least {self.min_distinct} different characters."


class ProductNameValidator:
    """Refuses a password built on the product's name ("Cadence2026!")."""

    NAMES = ("cadence",)

    def validate(self, password: str, user: Any = None) -> None:
        lowered = password.lower()
        if any(name in lowered for name in self.NAMES):
            raise ValidationError(
                "This password contains the name of this system.", code="password_product_name"
            )

    def get_help_text(self) -> str:
        return "Your password can't contain the name of this system."
