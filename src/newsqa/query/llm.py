"""A streaming client for an OpenAI-compatible ``/v1/chat/completions`` language model server
(llama.cpp, Ollama, vLLM or a hosted API)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from typing import Any

import httpx

from newsqa.query.config import GeneratorConfig


class GeneratorError(Exception):
    """The language model did not answer: unreachable, too slow, an HTTP error or output that is
    not an OpenAI chat completion stream. The message says which, without secrets."""


def completions_url(base: str) -> str:
    """The chat completions endpoint of a base URL (``http://host:8080`` or ``…/v1``)."""
    base = base.rstrip("/")
    if base.endswith("/chat/completions"):
        return base
    if not base.endswith("/v1"):
        base += "/v1"
    return base + "/chat/completions"


class ChatClient:
    """Streams the tokens of one chat completion; every failure is a :class:`GeneratorError`."""

    def __init__(self, cfg: GeneratorConfig, transport: httpx.BaseTransport | None = None) -> None:
        self.cfg = cfg
        self._transport = transport

    def stream(self, messages: Sequence[dict[str, str]]) -> Iterator[str]:
        """The completion's text pieces as the server sends them.

        ``timeout_s`` bounds the whole completion, not only each read: a server that trickles
        tokens forever is cut off and reported like one that never answers.
        """
        cfg = self.cfg
        deadline = time.monotonic() + cfg.timeout_s
        headers = {"Accept": "text/event-stream"}
        if cfg.key:
            headers["Authorization"] = f"Bearer {cfg.key}"
        body = {
            "model": cfg.model, "messages": list(messages), "stream": True,
            "max_tokens": cfg.max_tokens, "temperature": cfg.temperature,
        }
        timeout = httpx.Timeout(cfg.timeout_s, connect=min(cfg.timeout_s, 5.0))
        try:
            with httpx.Client(timeout=timeout, transport=self._transport) as client:
                with client.stream(
                    "POST", completions_url(cfg.url or ""), json=body, headers=headers
                ) as resp:
                    if resp.status_code != 200:
                        raise GeneratorError(f"the model server answered HTTP {resp.status_code}")
                    yield from _pieces(resp, deadline, cfg.timeout_s)
        except httpx.TimeoutException as exc:
            raise GeneratorError(f"the model server did not answer within {cfg.timeout_s:g} s") \
                from exc
        except httpx.HTTPError as exc:
            raise GeneratorError(f"the model server is unreachable ({type(exc).__name__})") \
                from exc


def _pieces(resp: httpx.Response, deadline: float, timeout_s: float) -> Iterator[str]:
    """Text pieces of an SSE chat completion stream (or of a plain JSON completion, which some
    servers send even when asked to stream)."""
    ctype = resp.headers.get("content-type", "")
    if "text/event-stream" not in ctype:
        yield _whole(resp.read())
        return
    finished = False
    for line in resp.iter_lines():
        if time.monotonic() > deadline:
            raise GeneratorError(f"the model server did not finish within {timeout_s:g} s")
        line = line.strip()
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            finished = True
            break
        piece, done = _delta(data)
        if piece:
            yield piece
        finished = finished or done
    if not finished:
        raise GeneratorError("the model server's stream ended before the answer was complete")


def _delta(data: str) -> tuple[str, bool]:
    try:
        chunk = json.loads(data)
        if "error" in chunk:
            raise GeneratorError("the model server reported an error in its stream")
        choice = chunk["choices"][0]
        piece = (choice.get("delta") or {}).get("content") or ""
        if not isinstance(piece, str):
            raise TypeError("content is not text")
        return piece, choice.get("finish_reason") is not None
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise GeneratorError("the model server sent a malformed stream chunk") from exc


def _whole(raw: bytes) -> str:
    try:
        doc: Any = json.loads(raw)
        text = doc["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise GeneratorError("the model server sent a malformed completion") from exc
    if not isinstance(text, str):
        raise GeneratorError("the model server sent a malformed completion")
    return text
