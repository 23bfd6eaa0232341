"""The cap on request bodies (``NEWSQA_API__MAX_BODY_BYTES``), enforced while the body arrives.

A declared ``Content-Length`` over the cap is refused before anything is read; a body sent
without one (chunked) is counted as it arrives and refused as soon as it passes the cap, so a
client can never make the server hold more than the cap of one request's body. The refusal is a
413 with the usual JSON error (:func:`newsqa.api.middleware.error_body`). Routes that read large
bodies on purpose (the uploads of ``POST /api/articles``, capped by ``max_upload_bytes``) are
exempted by method and path.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Collection

from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsqa.api.middleware import error_body


class BodyTooLargeError(HTTPException):
    """A request body over the cap: FastAPI's body reading lets an HTTPException through, so
    the app's handler turns it into the 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413, f"the request body is over the {limit:,}-byte limit (NEWSQA_API__MAX_BODY_BYTES)"
        )


class BodyLimitMiddleware:
    """ASGI middleware refusing request bodies over ``limit`` bytes, except on ``exempt``
    (method, path) pairs."""

    def __init__(self, app: ASGIApp, limit: int, exempt: Collection[tuple[str, str]] = ()) -> None:
        self.app = app
        self.limit = limit
        self.exempt = set(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request with its body counted against the cap."""
        if scope["type"] != "http" or (scope["method"], scope["path"]) in self.exempt:
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, send)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLargeError(self.limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLargeError:
            if started:  # a streaming route read its body late: only the server can end it
                raise
            await self._refuse(scope, send)

    async def _refuse(
        self, scope: Scope, send: Callable[[Message], Awaitable[None]]
    ) -> None:
        detail = str(BodyTooLargeError(self.limit).detail)
        body = json.dumps(error_body(str(scope.get("path", "")), 413, detail)).encode()
        await send({
            "type": "http.response.start", "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        })
        await send({"type": "http.response.body", "body": body})
