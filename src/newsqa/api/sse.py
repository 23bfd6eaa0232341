"""Server-Sent Events: how the streaming routes (``/api/ask/stream``, ``POST /api/articles`` with
``?stream=true``) write their events (``event:`` name, ``data:`` JSON) and document them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import Request

from newsqa.api.middleware import failure

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
#: The OpenAPI ``responses`` entry of a route that can answer with an event stream.
SSE_DOC: dict[int | str, dict[str, Any]] = {200: {"content": {"text/event-stream": {"example": (
    'event: sources\ndata: {"passages": [...]}\n\n'
    'event: delta\ndata: {"text": "Under the circumstances, … [1]", "segment": {"text": '
    '"Under the circumstances, …", "citations": [1], "lead": "", "span": null}}\n\n'
    'event: done\ndata: {"question": "...", "answer": "...", "citations": [...], ...}\n\n'
)}}, "description": "Server-Sent Events"}}


def sse(event: str, data: Any) -> str:
    """One Server-Sent Event."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def event_stream(events: Iterator[tuple[str, dict[str, Any]]], rid: str) -> Iterator[str]:
    """``events`` as Server-Sent Events; an exception once the stream has started becomes a
    last ``error`` event (``detail``, ``status``) naming the request ``rid``."""
    try:
        for event, data in events:
            yield sse(event, data)
    except Exception as exc:  # noqa: BLE001 - the stream has started: report in-band
        yield sse("error", failure(exc, rid))


def wants_stream(request: Request, stream: bool) -> bool:
    """Whether the client asked for events: ``?stream=true`` or ``Accept: text/event-stream``."""
    return stream or "text/event-stream" in request.headers.get("accept", "")
