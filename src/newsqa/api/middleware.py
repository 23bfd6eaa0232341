"""What every HTTP response gets: a request id, security headers, and no leaked internals.

:class:`RequestContextMiddleware` wraps the whole app. It gives each request an id (a sane
incoming ``X-Request-ID`` is kept, otherwise a new one is made), echoes it in the response, adds
the security headers a response has not set itself (so a page with its own
Content-Security-Policy, such as ``/docs``, keeps it), and turns an unhandled exception into a
500 that says "internal error" with the request id; the exception itself goes to the log only.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsqa.index.store import IndexBusyError
from newsqa.logs import REQUEST_ID

log = logging.getLogger("newsqa.api")

REQUEST_ID_HEADER = "X-Request-ID"
RETRY_AFTER_S = 5  # what a client that met a busy index (409) is told to wait
_SCOPE_KEY = "newsqa.request_id"
_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

CSP = (
    "default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; "
    "object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def request_id(conn: HTTPConnection | Scope) -> str:
    """The id of the request being served ("-" outside the middleware)."""
    scope = conn.scope if isinstance(conn, HTTPConnection) else conn
    return str(scope.get(_SCOPE_KEY, "-"))


def _incoming_id(scope: Scope) -> str:
    """The client's ``X-Request-ID`` when it is short and plain, else a fresh id."""
    given = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
    return given if _SANE_ID.fullmatch(given) else uuid.uuid4().hex


def error_body(
    path: str, status: int, detail: str, *, code: str | None = None, param: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The JSON of an error response; OpenAI clients (``/v1/...``) also read ``error``: its
    ``message``, ``type``, ``param`` (the field at fault) and ``code`` (e.g.
    ``model_not_found``; the status when no code is given)."""
    body: dict[str, Any] = {"detail": detail, **extra}
    if path.startswith("/v1/"):
        kind = "server_error" if status >= 500 else "invalid_request_error"
        body["error"] = {"message": detail, "type": kind, "param": param, "code": code or status}
    return body


def internal_error(rid: str) -> str:
    """What a client is told about a crash: nothing but the id to find it in the log."""
    return f"internal error (request id {rid})"


def failure(exc: Exception, rid: str) -> dict[str, Any]:
    """The in-band error of a stream that has started: 409 for a busy index, else an internal
    error whose details go to the log only."""
    if isinstance(exc, IndexBusyError):
        return {"detail": str(exc), "status": 409, "retry_after": RETRY_AFTER_S}
    log.error("request %s failed mid-stream", rid, exc_info=exc)
    return {"detail": internal_error(rid), "status": 500, "request_id": rid}


class RequestContextMiddleware:
    """ASGI middleware: request id, security headers, and the 500 of last resort."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request; on an unhandled exception log it and answer 500 if still possible."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _incoming_id(scope)
        scope[_SCOPE_KEY] = rid
        token = REQUEST_ID.set(rid)  # log lines written while serving it carry the id
        try:
            await self._serve(scope, receive, send, rid)
        finally:
            REQUEST_ID.reset(token)

    async def _serve(
        self,
        scope: Scope,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
        rid: str,
    ) -> None:
        started = False

        async def wrapped(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = rid
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        try:
            await self.app(scope, receive, wrapped)
        except Exception:
            log.exception("request %s failed: %s %s", rid, scope.get("method"), scope.get("path"))
            if started:  # the status line is out: only the server can end the response
                raise
            body = error_body(str(scope.get("path", "")), 500, internal_error(rid), request_id=rid)
            await wrapped({
                "type": "http.response.start", "status": 500,
                "headers": [(b"content-type", b"application/json")],
            })
            await send({"type": "http.response.body", "body": json.dumps(body).encode()})
