"""The coils a chair can be fitted with and a protocol can need."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models


class Coil(models.TextChoices):
    """Coil types a chair can be fitted with and a protocol can need. H1, H4 and H7 are
    the deep TMS coils (H1: depression; H4: smoking cessation; H7: OCD); they fit only
    their maker's device, so a protocol for one never runs on a figure-8 chair."""

    FIGURE_8 = "figure-8", "Figure-8"
    H1 = "H1", "H1 (deep TMS, depression)"
    H4 = "H4", "H4 (deep TMS, smoking cessation)"
    H7 = "H7", "H7 (deep TMS, OCD)"


def default_coils() -> list[str]:
    return [Coil.FIGURE_8.value]


def validate_coils(value: object) -> None:
    if (
        not isinstance(value, list)
        or not value
        or any(item not in Coil.values for item in value)
        or len(set(value)) != len(value)
    ):
        raise ValidationError(
            "List the chair's coils, each once, from: %(choices)s.",
            code="unknown_coil",
            params={"choices": ", ".join(Coil.values)},
        )
