"""The address a request came from, one rule for login lockout, throttles and the audit.

``TRUSTED_PROXY_COUNT`` says how many reverse proxies of our own stand in front of
Cadence. With none (the default) the address is the connection's, ``REMOTE_ADDR``, and
``X-Forwarded-For`` is ignored: anyone can write that header. With N proxies, each
appends the address it received the request from, so the client is the N-th entry from
the right; entries further left were written by the client and are never believed.
A header with fewer entries than that (a request that went round the proxies, or a
count set too high) falls back to ``REMOTE_ADDR``.

It is the rule of DRF's ``NUM_PROXIES`` (set to the same number); django-ipware's
``proxy_count`` counts differently and drops chains of an unexpected length.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings


def _address(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def client_address(request: Any) -> str | None:
    meta = request.META
    count: int = settings.TRUSTED_PROXY_COUNT
    if count:
        hops = [hop for hop in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if len(hops) >= count:
            forwarded = _address(hops[-count])
            if forwarded is not None:
                return forwarded
    return _address(meta.get("REMOTE_ADDR", ""))
