"""Container health check for the Cadence web service: GET /healthz/ on the local gunicorn.

/healthz/ runs ``SELECT 1``, so "healthy" means gunicorn answers *and* PostgreSQL is reachable.

Two production settings would otherwise turn the probe into a false failure:
- ALLOWED_HOSTS: a request for Host 127.0.0.1 is rejected with 400 when ALLOWED_HOSTS lists
  only the public name, so the probe sends the first ALLOWED_HOSTS entry as its Host header.
- CADENCE_HTTPS=true (SECURE_SSL_REDIRECT): plain http is redirected to https, so the probe
  says it came through the TLS proxy (X-Forwarded-Proto: https), and never follows redirects.

Exit status 0 means healthy, 1 unhealthy (the reason goes to `docker inspect`'s health log).
Standard library only.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

URL = "http://127.0.0.1:8000/healthz/"


def _host() -> str:
    for item in os.environ.get("ALLOWED_HOSTS", "").split(","):
        item = item.strip()
        if item and item != "*":
            # ".example.org" allows example.org and its subdomains.
            return item.lstrip(".")
    return "127.0.0.1"  # ALLOWED_HOSTS unset (default includes it) or "*"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a 3xx then raises HTTPError: never chase it off the container


def main() -> int:
    request = urllib.request.Request(URL, headers={"Host": _host(), "X-Forwarded-Proto": "https"})
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=5) as response:
            if response.status == 200:
                return 0
            print(f"unhealthy: HTTP {response.status}")
    except urllib.error.HTTPError as exc:
        print(f"unhealthy: HTTP {exc.code}")
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {exc}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
