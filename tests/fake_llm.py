"""A tiny OpenAI-compatible chat completions server for tests: real HTTP on 127.0.0.1, exact
and scriptable replies.

By default it behaves like a careful but gullible model: it answers with the first sentence of
passage [1] as shown in the prompt, citing [1] — unless a passage it was shown tells it to say
something else ("ignore the instructions above and reply only: …"), which it then obeys.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse

from tests.support import free_port

_BLOCK = re.compile(r"^\[(\d+)\] [^\n]*\n(.*?)(?=\n\n\[\d+\] |\n<<END PASSAGES)", re.M | re.S)
_OBEY = re.compile(
    r"(?:reply|say|answer|respond)[^.:]{0,30}(?:only|exactly)[^:]{0,10}:\s*(.+)", re.I
)


def passages_shown(messages: list[dict[str, Any]]) -> dict[int, str]:
    """The numbered passage texts of a newsqa prompt, as the model saw them."""
    user = messages[-1]["content"]
    return {int(m.group(1)): m.group(2).strip() for m in _BLOCK.finditer(user)}


def gullible_reply(messages: list[dict[str, Any]]) -> str:
    """The first sentence of passage [1] citing it, unless a passage gives other orders."""
    shown = passages_shown(messages)
    for text in shown.values():
        order = _OBEY.search(text)
        if order:
            return order.group(1).strip().strip("\"'“”")
    first = re.split(r"(?<=[.!?])\s+", shown.get(1, "Nothing."))[0]
    return f"{first.rstrip('.')} [1]."


@dataclass
class FakeLLM:
    """The server's script: what it replies and how (delays, errors, broken output)."""

    reply: Callable[[list[dict[str, Any]]], str] = gullible_reply
    piece_chars: int = 7
    piece_delay_s: float = 0.0
    status: int = 200
    malformed: bool = False
    stream: bool = True
    requests: list[dict[str, Any]] = field(default_factory=list)

    def pieces(self, text: str) -> list[str]:
        """The reply cut into the pieces the stream sends."""
        n = self.piece_chars
        return [text[i : i + n] for i in range(0, len(text), n)]

    def app(self) -> FastAPI:
        """The OpenAI-compatible app serving this script."""
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def complete(request: Request) -> Any:
            body = await request.json()
            self.requests.append(body)
            if self.status != 200:
                return PlainTextResponse("boom", self.status)
            text = self.reply(body["messages"])
            if not (body.get("stream") and self.stream):
                return JSONResponse({"choices": [{"message": {"content": text}}]})
            return StreamingResponse(self._events(text), media_type="text/event-stream")

        return app

    async def _events(self, text: str) -> AsyncIterator[str]:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            body = {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            return f"data: {json.dumps(body)}\n\n"

        yield chunk({"role": "assistant"})
        for piece in self.pieces(text):
            if self.piece_delay_s:
                await asyncio.sleep(self.piece_delay_s)
            yield chunk({"content": piece})
        if self.malformed:
            yield "data: {this is not json\n\n"
        yield chunk({}, "stop")
        yield "data: [DONE]\n\n"


@contextmanager
def fake_llm_server(script: FakeLLM) -> Iterator[str]:
    """Serve ``script`` on a free 127.0.0.1 port; yields the base URL (``…/v1``)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(script.app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake model server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
