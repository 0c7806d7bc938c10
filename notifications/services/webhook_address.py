"""Where a webhook may go: public addresses only. An endpoint's URL is typed by a clinic
admin, and Cadence's worker posts to it from inside the deployment's network, so an
address on that network (the database, the cache, a cloud's metadata service at
169.254.169.254, another service's admin port) would let the URL reach what the
Internet cannot: server-side request forgery. Loopback is allowed too when
``WEBHOOK_ALLOW_LOOPBACK_HTTP`` is on (tests, a receiver on the same host).

A name is resolved when the delivery goes, every address it resolves to must be
allowed, and the connection goes to the address that was checked (with the name kept
for the Host header and TLS), so a name that resolves elsewhere a moment later (DNS
rebinding) changes nothing."""

from __future__ import annotations

import http.client
import ipaddress
import socket

from django.conf import settings


class RefusedAddress(Exception):
    """The endpoint's host is, or resolves to, an address webhooks may not reach."""


def _allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # no IPv6 zone
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return bool(settings.WEBHOOK_ALLOW_LOOPBACK_HTTP)
    return ip.is_global and not ip.is_multicast


def literal_refused(host: str) -> bool:
    """``host`` is an IP address webhooks may not reach (a name is checked when sent)."""
    try:
        return not _allowed(host)
    except ValueError:
        return False


def checked_addresses(host: str, port: int) -> list[str]:
    """The addresses to try for ``host``, in the resolver's order; RefusedAddress when
    any address it resolves to may not be reached (OSError when it does not resolve)."""
    found = [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]
    if not found or not all(_allowed(address) for address in found):
        raise RefusedAddress(host)
    return list(dict.fromkeys(found))


def _connect(addresses: list[str], port: int, timeout: float | None) -> socket.socket:
    """The first of the checked addresses that answers (as socket.create_connection
    tries each address of a name)."""
    error: OSError = OSError("no address")
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout)
        except OSError as exc:
            error = exc
    raise error


class PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to the checked addresses; the Host header still names the host."""

    def __init__(self, host: str, port: int | None, addresses: list[str], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.addresses = addresses

    def connect(self) -> None:
        self.sock = _connect(self.addresses, self.port, self.timeout)


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to the checked addresses; the certificate is checked against the host's name."""

    def __init__(self, host: str, port: int | None, addresses: list[str], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.addresses = addresses

    def connect(self) -> None:
        sock = _connect(self.addresses, self.port, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]
