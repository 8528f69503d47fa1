"""Who is on the other end of a request: the TCP peer, and what a trusted proxy says about it.

Every trust decision (the SSO proxy's user header, the loopback-only set-up page) is made on
the TCP peer of the connection: uvicorn runs with its proxy headers off (`uvicorn_options`),
so `request.client` is never rewritten from a header. Forwarded headers count only when that
peer is in `ATREST_TRUSTED_PROXIES`: then the client address (the sign-in limit, the audit
log) is the right-most X-Forwarded-For entry that is not itself a trusted proxy, and the
scheme (cookies marked Secure, absolute URLs) the proxy's X-Forwarded-Proto.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from fastapi import Request
from pydantic import IPvAnyNetwork

from app.core.config import Settings

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Headers a proxy adds to what it relays: a request carrying one did not come straight
#: from this machine's own user.
FORWARDING_HEADERS = ("x-forwarded-for", "x-forwarded-host", "x-real-ip", "forwarded")


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The uvicorn keyword arguments every way of serving the app shares (`atrest serve`,
    `atrest demo`, the tests' live server): the client address stays the TCP peer's, whatever
    a header says; forwarded headers are judged by the app against the trusted proxies."""
    return {
        "proxy_headers": False,
        "forwarded_allow_ips": "",
        "timeout_graceful_shutdown": settings.shutdown_timeout,
    }


def parse_address(value: str | None) -> Address | None:
    """An IP address (an IPv4-mapped IPv6 address as IPv4), or None for anything else."""
    try:
        address = ipaddress.ip_address((value or "").strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_trusted_proxy(host: str | None, proxies: Sequence[IPvAnyNetwork]) -> bool:
    """Whether `host` (a TCP peer's address) is one of the configured proxies."""
    address = parse_address(host)
    return address is not None and any(address in ipaddress.ip_network(str(n)) for n in proxies)


def peer_address(request: Request) -> str:
    """The address of the TCP peer ("?" when the server gives none)."""
    return request.client.host if request.client is not None else "?"


def forwarded_client(
    peer: str, forwarded_for: Sequence[str], proxies: Sequence[IPvAnyNetwork]
) -> str:
    """The client a trusted peer relayed for: walking X-Forwarded-For from the right, the
    first entry that is not a trusted proxy (entries to its left are the caller's to forge).
    An unparsable entry there, or no entry at all, leaves the peer itself."""
    entries = [e.strip() for value in forwarded_for for e in value.split(",") if e.strip()]
    for entry in reversed(entries):
        if not is_trusted_proxy(entry, proxies):
            address = parse_address(entry)
            return str(address) if address is not None else peer
    # Every entry is a trusted proxy: the left-most is the nearest to the client there is.
    return str(parse_address(entries[0])) if entries else peer


def client_address(request: Request) -> str:
    """The caller's address for the sign-in limit and the audit log: the TCP peer, or, when
    that peer is a trusted proxy, the client it forwarded for."""
    peer = peer_address(request)
    settings: Settings = request.app.state.settings
    if not is_trusted_proxy(peer, settings.trusted_proxies):
        return peer
    return forwarded_client(
        peer, request.headers.getlist("x-forwarded-for"), settings.trusted_proxies
    )


def relayed(request: Request) -> bool:
    """Whether the request came through a proxy: from a trusted one, or carrying a header
    that proxies add."""
    settings: Settings = request.app.state.settings
    if is_trusted_proxy(peer_address(request), settings.trusted_proxies):
        return True
    return any(name in request.headers for name in FORWARDING_HEADERS)


class ForwardedProtoMiddleware:
    """Pure ASGI middleware: a request relayed by a trusted proxy takes the scheme the proxy
    names in X-Forwarded-Proto (http or https); from any other peer the header is ignored."""

    def __init__(self, app: ASGIApp, *, trusted_proxies: Sequence[IPvAnyNetwork]) -> None:
        """Wrap `app`."""
        self.app = app
        self.trusted_proxies = list(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        """Set the scheme from a trusted proxy's header, then serve the request."""
        if scope["type"] == "http" and self.trusted_proxies:
            client = scope.get("client")
            if client and is_trusted_proxy(client[0], self.trusted_proxies):
                values = [v for k, v in scope.get("headers") or [] if k == b"x-forwarded-proto"]
                proto = (
                    values[-1].decode("latin-1").split(",")[-1].strip().lower() if values else ""
                )
                if proto in ("http", "https"):
                    scope["scheme"] = proto
        await self.app(scope, receive, send)
