"""Where a feed request may connect: feed URLs given over HTTP must not reach this machine or
its private network (server-side request forgery) unless ``NEWSQA_FEEDS__ALLOW_PRIVATE`` says so.

A URL naming such an address (or ``localhost``) is refused when it is added
(:func:`check_public`). The check that counts is made when each TCP connection is opened
(:class:`GuardedBackend`), on the addresses actually connected to, so it covers host names,
every redirect hop, robots.txt and article pages, and a name that resolves to a public address
once and a private one later (DNS rebinding) cannot slip through.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class FeedURLError(ValueError):
    """A feed URL that cannot be followed (not http(s), no host, a refused address)."""


class BlockedAddress(httpcore.ConnectError):
    """A connection refused by the guard (a loopback, link-local or private address)."""


def check_url(url: str) -> str:
    """``url`` stripped, if it is an absolute http(s) URL with a host; else FeedURLError."""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # a bad [IPv6] literal
        raise FeedURLError(f"not a URL ({exc}): {url[:200]!r}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise FeedURLError(f"feed URL must be http:// or https://: {url[:200]!r}")
    if not parts.hostname:
        raise FeedURLError(f"feed URL has no host: {url[:200]!r}")
    if len(url) > 2000:
        raise FeedURLError("feed URL is longer than 2,000 characters")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise FeedURLError(f"feed URL has a bad port: {url[:200]!r}") from exc
    return url


def refused(ip: IPAddress) -> str | None:
    """Why connecting to ``ip`` is refused (loopback, link-local, private…), None if allowed."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for test, name in ((ip.is_loopback, "loopback"), (ip.is_link_local, "link-local"),
                       (ip.is_private, "private"), (ip.is_multicast, "multicast"),
                       (ip.is_unspecified, "unspecified"), (ip.is_reserved, "reserved")):
        if test:
            return name
    return None if ip.is_global else "non-public"


def resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses ``host`` resolves to (an IP literal resolves to itself)."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    out: list[IPAddress] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if ip not in out:
            out.append(ip)
    return out


def first_allowed(host: str, addresses: Iterable[IPAddress]) -> IPAddress:
    """The first address of ``host`` that may be connected to; BlockedAddress when any is
    refused (a name with one private address among public ones is refused whole)."""
    addresses = list(addresses)
    for ip in addresses:
        why = refused(ip)
        if why:
            raise BlockedAddress(
                f"{host} resolves to a {why} address ({ip}); feeds added over HTTP may not "
                "reach it unless NEWSQA_FEEDS__ALLOW_PRIVATE=true"
            )
    if not addresses:
        raise BlockedAddress(f"{host} resolves to no address")
    return addresses[0]


def check_public(url: str) -> None:
    """FeedURLError when the host of ``url`` is a refused address or a name of this machine
    (``localhost``). Other names are not looked up here (no DNS in a request): every
    connection checks the addresses they resolve to, and a poll reports a refused one."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        raise FeedURLError(
            f"{host} is this machine (loopback); feeds added over HTTP may not reach it "
            "unless NEWSQA_FEEDS__ALLOW_PRIVATE=true"
        )
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return
    try:
        first_allowed(host, [ip])
    except BlockedAddress as exc:
        raise FeedURLError(str(exc)) from None


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's network backend, connecting only to addresses :func:`refused` allows."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        """Resolve ``host``, refuse it if any address is refused, connect to the checked one."""
        try:
            addresses = resolve(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        ip = first_allowed(host, addresses)
        return super().connect_tcp(str(ip), port, timeout, local_address, socket_options)
