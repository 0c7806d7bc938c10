"""Strict parsing of configuration from environment variables.

A malformed value stops start-up with a message naming the variable, instead of
silently falling back to a default that may be unsafe in production.
"""

from __future__ import annotations

import builtins
import os
import re
from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}

# What an example file or a README puts where a secret goes. A deployment that copied
# the example and forgot one line must stop, not run on a value printed in the repository.
_PLACEHOLDER = re.compile(
    r"change[-_ .]?me|replace[-_ .]?me|placeholder|your[-_ ]?(?:token|password|secret|key|sid)"
    r"|^(?:x+|\*+|secret|password|token|todo|tbd|none|null)$",
    re.IGNORECASE,
)


def is_placeholder(value: builtins.str) -> bool:
    return bool(_PLACEHOLDER.search(value.strip()))


class Env:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def _raw(self, name: builtins.str) -> builtins.str | None:
        value = self._environ.get(name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def str(self, name: builtins.str, default: builtins.str | None = None) -> builtins.str | None:
        value = self._raw(name)
        return default if value is None else value

    def required_str(self, name: builtins.str, default: builtins.str) -> builtins.str:
        value = self._raw(name)
        return default if value is None else value

    def secret(self, name: builtins.str, *, required: bool = False) -> builtins.str:
        """A credential: refused when it is still an example file's placeholder, and
        when ``required`` and unset; empty when optional and unset."""
        value = self._raw(name)
        if value is None:
            if required:
                raise ImproperlyConfigured(f"{name} must be set.")
            return ""
        if is_placeholder(value):
            raise ImproperlyConfigured(
                f"{name} is still a placeholder ({value!r}); set the real value."
            )
        return value

    def bool(self, name: builtins.str, default: bool) -> bool:
        value = self._raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a boolean; use one of {sorted(_TRUE)} or {sorted(_FALSE)}."
        )

    def int(self, name: builtins.str, default: int, *, minimum: int | None = None) -> int:
        value = self._raw(name)
        if value is None:
            return default
        try:
            parsed = int(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name}={value!r} is not an integer.") from None
        if minimum is not None and parsed < minimum:
            raise ImproperlyConfigured(f"{name}={parsed} must be at least {minimum}.")
        return parsed

    def list(
        self, name: builtins.str, default: builtins.list[builtins.str]
    ) -> builtins.list[builtins.str]:
        value = self._raw(name)
        if value is None:
            return default
        items = [item.strip() for item in value.split(",")]
        if any(item == "" for item in items):
            raise ImproperlyConfigured(f"{name}={value!r} has an empty item in its list.")
        return items
