"""What the server lets whoever reaches it do, by the address it listens on.

* A server listening on a non-loopback address (``--host 0.0.0.0``, the container's default)
  without ``NEWSQA_API__KEY`` refuses writes with 403 unless ``NEWSQA_API__OPEN_WRITES`` says
  the operator wants them open; it says which in its log at start, loudly either way.
* The ``Host`` header is checked (:class:`HostCheckMiddleware`): the loopback names always
  pass, ``NEWSQA_API__ALLOWED_HOSTS`` names the others. A server on a loopback address answers
  no other name by default, so a web page whose own name resolves to 127.0.0.1 (DNS
  rebinding) cannot read or write through the visitor's browser.
* ``/api/health`` shows the index directory only to a caller with the key, or, where reads
  are open, on a loopback server (:func:`shows_details`).

An app that :func:`newsqa.api.server.serve` did not start (a test's client) has no bind
address: it is treated as loopback and checks hosts only where ``allowed_hosts`` is set.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from newsqa.api.middleware import error_body
from newsqa.settings.sections import ApiSettings

log = logging.getLogger("newsqa.api")

#: Host names that always reach the server: no DNS answer can make them name another site.
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(host: str) -> bool:
    """Whether listening on ``host`` is reachable from this machine only."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # another name may resolve anywhere


def host_name(header: str) -> str:
    """The name of a ``Host`` header, without port, brackets or a trailing dot, lower-case."""
    value = header.strip().lower()
    if value.startswith("["):
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


@dataclass(frozen=True)
class Exposure:
    """The address a server listens on (None: not known) and what follows from it."""

    bind: str | None
    #: Why writes are refused (the 403's detail), None when they are allowed.
    writes_refused: str | None
    #: The ``Host`` names answered; None: any.
    hosts: frozenset[str] | None

    @property
    def loopback(self) -> bool:
        """Whether only this machine can reach the server (or the address is not known)."""
        return self.bind is None or is_loopback(self.bind)

    @classmethod
    def of(cls, api: ApiSettings, bind: str | None) -> Exposure:
        """What ``api`` settings allow a server listening on ``bind``."""
        loopback = bind is None or is_loopback(bind)
        refused = None
        if not loopback and not api.key and not api.open_writes:
            refused = (
                f"writes are refused: this server listens on {bind} without an API key; set "
                "NEWSQA_API__KEY (clients send 'Authorization: Bearer <key>'), or "
                "NEWSQA_API__OPEN_WRITES=1 to let anyone who reaches it write"
            )
        named = {host_name(h) for h in api.allowed_hosts if h.strip()}
        hosts: frozenset[str] | None = LOOPBACK_NAMES | named
        if "*" in named or (not named and (bind is None or not loopback)):
            hosts = None
        return cls(bind, refused, hosts)

    def announce(self, api: ApiSettings) -> None:
        """Say in the log, loudly, who can write to a server on a non-loopback address."""
        if self.loopback:
            return
        if self.writes_refused:
            log.warning(
                "WRITES ARE REFUSED: listening on %s without NEWSQA_API__KEY; set a key to add "
                "or delete articles and feeds over HTTP (or NEWSQA_API__OPEN_WRITES=1 to let "
                "anyone who reaches this address write)", self.bind,
            )
        elif not api.key:
            log.warning(
                "WRITES ARE OPEN TO ANYONE: listening on %s without NEWSQA_API__KEY and with "
                "NEWSQA_API__OPEN_WRITES on; anyone who reaches this address can add and delete "
                "articles and feeds", self.bind,
            )
        else:
            log.warning("listening on %s: writes need the API key%s", self.bind,
                        ", reads too" if api.key_reads else "; reads are open to anyone")
        if self.hosts is None:
            log.warning("answering any Host name (NEWSQA_API__ALLOWED_HOSTS names the server's)")


def shows_details(request: Request, api: ApiSettings) -> bool:
    """Whether ``/api/health`` may show the caller the index directory: with the key, or,
    where reads are open, on a loopback server."""
    if api.key:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), api.key.encode()
        ):
            return True
        if api.key_reads:
            return False
    exposure: Exposure = request.app.state.exposure
    return exposure.loopback


class HostCheckMiddleware:
    """ASGI middleware: 400 for a request whose ``Host`` is not one the server answers."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str] | None) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or answer 400 when its host is not answered here."""
        if self.hosts is None or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        name = host_name(Headers(scope=scope).get("host", ""))
        if name in self.hosts:
            await self.app(scope, receive, send)
            return
        detail = (
            f"this server does not answer the host name {name[:100]!r}: add it to "
            "NEWSQA_API__ALLOWED_HOSTS"
        )
        body = json.dumps(error_body(str(scope.get("path", "")), 400, detail)).encode()
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "http.response.start", "status": 400,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})
