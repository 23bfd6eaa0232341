"""Where a feed request may connect: no feed, item link, redirect or robots.txt may reach this
machine or a private network (server-side request forgery), unless the operator lists the host
or network in ``NEWSQA_FEEDS__ALLOW_HOSTS``.

Refused: loopback, private (RFC 1918, unique-local ``fc00::/7``), link-local (``169.254/16``:
cloud metadata; ``fe80::/10``), shared CGNAT ``100.64/10``, this-network ``0/8``, multicast,
reserved, documentation and benchmarking ranges, deprecated site-local ``fec0::/10``, and the
IPv6 forms that carry an IPv4 address (IPv4-mapped and NAT64 judged by the address they carry;
IPv4-compatible ``::/96``, 6to4 ``2002::/16`` and Teredo ``2001::/32`` refused whole).

A URL naming such an address (or ``localhost``) is refused when it is added over HTTP
(:func:`check_public`); an address written in one of the numeric forms resolvers accept
(``127.1``, ``2130706433``, ``0x7f000001``, ``0177.0.0.1``) is refused by :func:`check_url`
whoever adds it. The check that counts is made when each TCP connection is opened
(:class:`GuardedBackend`), on the addresses actually connected to, so it covers host names,
every redirect hop, robots.txt and article pages, and a name that resolves to a public address
once and a private one later (DNS rebinding) cannot slip through.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore

from newsqa.feeds.net import BoundedBackend, IPAddress

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: The setting that lists the hosts feed requests may reach although the guard refuses them.
FEEDS_SETTING = "NEWSQA_FEEDS__ALLOW_HOSTS"
_NUMERIC = re.compile(r"(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}")
_NAME = re.compile(r"[a-z0-9_.-]*[a-z0-9_-][a-z0-9_.-]*")


def _nets(*pairs: tuple[str, str]) -> tuple[tuple[IPNetwork, str], ...]:
    return tuple((ipaddress.ip_network(net), why) for net, why in pairs)


#: Ranges no feed request may reach (the IPv4 ones are also checked inside IPv4-mapped and NAT64
#: IPv6 addresses); the first match names the reason.
REFUSED = _nets(
    ("0.0.0.0/8", "this-network"), ("10.0.0.0/8", "private"), ("100.64.0.0/10", "shared (CGNAT)"),
    ("127.0.0.0/8", "loopback"), ("169.254.0.0/16", "link-local"), ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved"), ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "6to4 relay"), ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"), ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"), ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
    ("::/128", "unspecified"), ("::1/128", "loopback"), ("::/96", "IPv4-compatible"),
    ("::/8", "reserved"), ("64:ff9b:1::/48", "NAT64 (local)"), ("100::/64", "discard"),
    ("2001::/32", "Teredo"), ("2001::/23", "reserved"), ("2001:db8::/32", "documentation"),
    ("2002::/16", "6to4"), ("3fff::/20", "documentation"), ("fc00::/7", "private"),
    ("fe80::/10", "link-local"), ("fec0::/10", "site-local"), ("ff00::/8", "multicast"),
)
_MAPPED = ipaddress.ip_network("::ffff:0:0/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class FeedURLError(ValueError):
    """A URL (a feed's, a webhook's) that may not be requested (not http(s), no host, a refused
    address)."""


class BlockedAddress(httpcore.ConnectError):
    """A connection refused by the guard (a loopback, link-local or private address)."""


def numeric_host(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a host written in one of the numeric forms of ``inet_aton`` means
    (``127.1``, ``2130706433``, ``0x7f000001``, ``0177.0.0.1``); None for anything else."""
    host = host.lower().rstrip(".")
    if not _NUMERIC.fullmatch(host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def check_url(url: str, what: str = "feed URL") -> str:
    """``url`` stripped, if it is an absolute http(s) URL with a host; else FeedURLError, whose
    message calls it ``what``."""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # a bad [IPv6] literal
        raise FeedURLError(f"not a URL ({exc}): {url[:200]!r}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise FeedURLError(f"{what} must be http:// or https://: {url[:200]!r}")
    if not parts.hostname:
        raise FeedURLError(f"{what} has no host: {url[:200]!r}")
    if len(url) > 2000:
        raise FeedURLError(f"{what} is longer than 2,000 characters")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise FeedURLError(f"{what} has a bad port: {url[:200]!r}") from exc
    ip = numeric_host(parts.hostname)
    if ip is not None and str(ip) != parts.hostname.rstrip("."):
        why = refused(ip)
        raise FeedURLError(
            f"{what}'s host {parts.hostname!r} is the address {ip} written in another form"
            + (f" (a {why} address)" if why else f"; write it as {ip}")
        )
    return url


def refused(ip: IPAddress) -> str | None:
    """Why connecting to ``ip`` is refused (loopback, link-local, private…), None if allowed."""
    if isinstance(ip, ipaddress.IPv6Address) and (ip in _MAPPED or ip in _NAT64):
        ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    for net, why in REFUSED:
        if ip.version == net.version and ip in net:
            return why
    return None if ip.is_global else "non-public"


@dataclass(frozen=True)
class AllowList:
    """The hosts (names, matched exactly) and networks requests may reach although the guard
    refuses them: ``NEWSQA_FEEDS__ALLOW_HOSTS`` for feeds; ``of`` names whose requests they are
    and ``setting`` where they are listed, as a refusal says them."""

    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()
    of: str = "feed"
    setting: str = FEEDS_SETTING

    @classmethod
    def parse(cls, text: str, of: str = "feed", setting: str = FEEDS_SETTING) -> AllowList:
        """Entries separated by commas or spaces: ``localhost, news.lan, 10.0.0.0/8, ::1``;
        ValueError for one that is neither a host name nor an address or network."""
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in re.split(r"[\s,]+", text.strip().lower()):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            name = entry.rstrip(".")
            ip = numeric_host(name)
            if ip is not None:
                networks.append(ipaddress.ip_network(ip))
            elif _NAME.fullmatch(name):
                names.add(name)
            else:
                raise ValueError(f"not a host name, address or network: {entry!r}")
        return cls(frozenset(names), tuple(networks), of, setting)

    def refusal(self) -> str:
        """What a refusal adds after naming the address: who refuses, and how to allow it."""
        return f"the {self.of} address guard refuses it; list it in {self.setting} to allow it"

    def admits_name(self, host: str) -> bool:
        """Whether the name ``host`` is listed (then any address it resolves to is allowed)."""
        return host.lower().strip("[]").rstrip(".") in self.names

    def admits(self, ip: IPAddress) -> bool:
        """Whether ``ip`` is inside a listed network."""
        return any(ip.version == net.version and ip in net for net in self.networks)


def first_allowed(
    host: str, addresses: Iterable[IPAddress], allow: AllowList | None = None
) -> IPAddress:
    """The first address of ``host`` that may be connected to; BlockedAddress when any is
    refused (a name with one private address among public ones is refused whole)."""
    allow = allow or AllowList()
    addresses = list(addresses)
    if addresses and allow.admits_name(host):
        return addresses[0]
    for ip in addresses:
        why = refused(ip)
        if why and not allow.admits(ip):
            shown = host.strip("[]")
            said = f"{shown} is a {why} address" if shown == str(ip) else (
                f"{shown} resolves to a {why} address ({ip})")
            raise BlockedAddress(f"{said}: {allow.refusal()}")
    if not addresses:
        raise BlockedAddress(f"{host} resolves to no address")
    return addresses[0]


def check_public(url: str, allow_hosts: str | AllowList = "") -> None:
    """FeedURLError when the host of ``url`` is a refused address or a name of this machine
    (``localhost``), unless ``allow_hosts`` (the setting, or its parsed list) lists it. Other
    names are not looked up here (no DNS in a request): every connection checks the addresses
    they resolve to, and a poll reports a refused one."""
    allow = allow_hosts if isinstance(allow_hosts, AllowList) else AllowList.parse(allow_hosts)
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if allow.admits_name(host):
        return
    if host == "localhost" or host.endswith(".localhost"):
        raise FeedURLError(f"{host} is this machine (loopback): {allow.refusal()}")
    try:
        ip: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        ip = numeric_host(host)
    if ip is None:
        return
    try:
        first_allowed(host, [ip], allow)
    except BlockedAddress as exc:
        raise FeedURLError(str(exc)) from None


class GuardedBackend(BoundedBackend):
    """The bounded network backend, connecting only to addresses :func:`refused` allows or the
    allow-list lists."""

    def __init__(self, allow: AllowList | None = None) -> None:
        self.allow = allow or AllowList()

    def admit(self, host: str, addresses: list[IPAddress]) -> list[IPAddress]:
        """The addresses of ``host``, checked; BlockedAddress if any of them is refused."""
        first_allowed(host, addresses, self.allow)
        return addresses
