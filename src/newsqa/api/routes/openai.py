"""OpenAI-compatible ``/v1/chat/completions`` and ``/v1/models`` over the same service.

The last user message is the question and earlier user/assistant messages are the history. The
reply's text is the answer followed by a numbered source list, and a top-level ``citations`` field
carries the citation objects. The fields OpenAI documents (temperature, max_tokens, …) are
accepted and ignored, so stock OpenAI clients work unchanged, and any other field is refused
(:mod:`newsqa.api.openai_schemas`); newsqa's filters (k, since, until, sources, as_of) may be
passed as extra body fields. A model this server does not serve is a 404 ``model_not_found``,
as OpenAI answers. When a language model is configured, the model ``newsqa-generate`` (or
``mode: "generate"``) answers with the model's text, checked claim by claim: tokens stream as
the model writes them and a sentence its sources do not support is marked "(not supported by
the sources)" in the stream. The reply's text quotes articles and is Markdown to a chat client:
images and links other than http(s) are taken out (:mod:`newsqa.api.safe_markdown`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse

from newsqa.api.dependencies import READS, Service, check_question
from newsqa.api.errors import OpenAIError
from newsqa.api.middleware import failure, request_id
from newsqa.api.openai_schemas import (
    GENERATE_ID,
    MODEL_ID,
    ChatCompletionOut,
    ChatRequest,
    ModelList,
    ModelOut,
)
from newsqa.api.safe_markdown import MarkdownStream, safe_markdown
from newsqa.api.schemas import ERRORS, ErrorBody
from newsqa.query.compose import unbracket
from newsqa.records import AnswerRequest
from newsqa.service import NewsQA

CREATED = 1_700_000_000
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such model (`model_not_found`)"},
}


def _tokens(text: str) -> int:
    from newsqa.ingest.chunk import cl100k

    return len(cl100k().encode(text, disallowed_special=()))


def source_list(result: dict[str, Any]) -> str:
    """The numbered sources (or, when abstaining, the closest articles) as plain text; a
    title's own bracketed numbers are written in parentheses, as in the answer."""
    def line(d: dict[str, Any]) -> str:
        parts = [d.get("source") or "unknown outlet", d.get("published_at") or "undated"]
        if d.get("url"):
            parts.append(d["url"])
        return f"{unbracket(d['title'])} — {', '.join(parts)}"

    if result["abstained"]:
        rows = [f"- {line(p)}" for p in result["passages"][:5]]
        return "Closest articles:\n" + "\n".join(rows) if rows else ""
    rows = [f"[{c['n']}] {line(c)}" for c in result["citations"]]
    return "Sources:\n" + "\n".join(rows) if rows else ""


def message_text(result: dict[str, Any]) -> str:
    """The assistant message: the answer, a blank line, then the source list (made safe to
    render as Markdown)."""
    sources = source_list(result)
    return safe_markdown(f"{result['answer']}\n\n{sources}" if sources else result["answer"])


def _extension(result: dict[str, Any]) -> dict[str, Any]:
    """newsqa's own fields of a completion: how it was made and what the claim check did."""
    return {k: result.get(k) for k in ("mode", "note", "claims", "abstained")}


def _question_and_history(req: ChatRequest) -> tuple[str, list[dict[str, str]]]:
    turns = [m for m in req.messages if m.role in ("user", "assistant")]
    last_user = max((i for i, m in enumerate(turns) if m.role == "user"), default=None)
    if last_user is None:
        raise HTTPException(422, "messages must contain a user message (the question)")
    history = [{"role": m.role, "content": m.text()} for m in turns[:last_user]]
    return turns[last_user].text(), history


class _Chunks:
    """The ``chat.completion.chunk`` lines of one streamed reply."""

    def __init__(self, cid: str, model: str, usage: bool) -> None:
        self.cid, self.model, self.usage = cid, model, usage

    def __call__(self, delta: dict[str, Any] | None, finish: str | None = None,
                 **extra: Any) -> str:
        """One chunk; ``delta=None`` is the usage chunk, with no choices."""
        choices = [] if delta is None else [
            {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        ]
        body = {
            "id": self.cid, "object": "chat.completion.chunk", "created": int(time.time()),
            "model": self.model, "choices": choices,
            **({"usage": None} if self.usage else {}), **extra,
        }
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def _content(event: str, data: dict[str, Any], generating: bool) -> str:
    """The text one service event adds to the streamed message."""
    if event == "token":
        return str(data["text"])
    if event == "claim" and data["status"] in ("flagged", "dropped"):
        return " (removed: not supported by the sources)" if data["status"] == "dropped" \
            else " (not supported by the sources)"
    if event == "note":
        return f"\n\n{data['text']}\n\n"
    if event == "delta" and not generating:
        return str(data["text"])
    return ""


def _stream(events: Iterator[tuple[str, dict[str, Any]]], chunk: _Chunks, rid: str,
            question: str) -> Iterator[str]:
    """The reply as chunks, its text made safe as it goes; with usage asked for, a last chunk
    counting ``question`` and the text sent."""
    yield chunk({"role": "assistant", "content": ""})
    guard, sent, finished = MarkdownStream(), [], False
    generating = False
    try:
        for event, data in events:
            generating = (generating or event == "token") and event != "note"
            piece = _content(event, data, generating)
            if event == "done":
                sources = source_list(data)
                piece += "\n\n" + sources if sources else ""
            text = guard.feed(piece) + (guard.end() if event == "done" else "")
            if text:
                sent.append(text)
                yield chunk({"content": text})
            if event == "done":
                finished = True
                yield chunk({}, "stop", citations=data["citations"], newsqa=_extension(data))
    except Exception as exc:  # noqa: BLE001 - the stream has started: report in-band
        err = failure(exc, rid)
        body = {"error": {"message": err["detail"], "type": "server_error", "param": None,
                          "code": err["status"]}}
        yield f"data: {json.dumps(body)}\n\n"
    if finished and chunk.usage:
        yield chunk(None, usage=_usage(question, "".join(sent)))
    yield "data: [DONE]\n\n"


def _usage(question: str, reply: str) -> dict[str, int]:
    """Tokens of what was read (the question answered, not the other messages) and written."""
    prompt, completion = _tokens(question), _tokens(reply)
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def _check_request(req: ChatRequest, svc: NewsQA) -> tuple[str, list[dict[str, str]]]:
    """The question and history of ``req``, once its model is one served (404 otherwise) and
    its text within ``max_chat_chars`` and each user message within ``max_question_chars``."""
    served = _served(svc)
    if req.model not in served:
        raise OpenAIError(
            404, f"The model `{req.model}` does not exist: this server serves "
            f"{', '.join(served)} (GET /v1/models)", code="model_not_found", param="model",
        )
    limit = svc.settings.api.max_chat_chars
    total = sum(len(m.text()) for m in req.messages)
    if total > limit:
        raise HTTPException(
            422, f"the messages hold {total:,} characters of text; the limit is {limit:,} "
            "(NEWSQA_API__MAX_CHAT_CHARS)"
        )
    question, history = _question_and_history(req)
    limit = svc.settings.api.max_question_chars
    for turn in history:  # each user message was a question once
        n = len(turn["content"].strip())
        if turn["role"] == "user" and n > limit:
            raise HTTPException(
                422, f"a user message is {n} characters long; the limit is {limit} "
                "(each user message is a question)"
            )
    return question, history


router = APIRouter(prefix="/v1", tags=["OpenAI-compatible"], dependencies=READS, responses=ERRORS)


@router.post(
    "/chat/completions",
    response_model=ChatCompletionOut,
    summary="Chat completion (OpenAI-compatible)",
    description="The last user message is the question; earlier messages are the history. "
    "With `stream: true` the reply is `data: {chunk}` lines ending with `data: [DONE]`; the "
    "chunk with `finish_reason` carries `citations`, and with `stream_options."
    "include_usage` a last chunk (no choices) carries `usage`.",
    responses={200: {"content": {"text/event-stream": {}}}, **NOT_FOUND},
)
def chat_completions(req: ChatRequest, request: Request, svc: Service) -> Any:
    """A cited answer as an OpenAI chat completion."""
    question, history = _check_request(req, svc)
    question = check_question(svc, question)
    cid = f"chatcmpl-{uuid.uuid4().hex}"
    asked = AnswerRequest(question, req.k, req.filters(), history, req.view, req.answer_mode())
    if req.stream:
        events = (e.wire() for e in svc.answer_events(asked))
        chunks = _Chunks(cid, req.model, req.wants_usage())
        return StreamingResponse(
            _stream(events, chunks, request_id(request), question),
            media_type="text/event-stream",
        )
    result = svc.answer(asked).to_dict()
    text = message_text(result)
    return {
        "id": cid, "created": int(time.time()), "model": req.model,
        "choices": [{"message": {"content": text}}],
        "usage": _usage(question, text),
        "citations": result["citations"],
        "newsqa": _extension(result),
    }


@router.get("/models", response_model=ModelList, summary="List models (OpenAI-compatible)")
def list_models(svc: Service) -> dict[str, Any]:
    """The models this server answers as: `newsqa`, and `newsqa-generate` when a language
    model is configured."""
    return {"data": [_model(m) for m in _served(svc)]}


@router.get("/models/{model_id}", response_model=ModelOut, summary="One model",
            responses=NOT_FOUND)
def get_model(model_id: str, svc: Service) -> dict[str, Any]:
    """One model by id (404 for one this server does not serve)."""
    served = _served(svc)
    if model_id not in served:
        raise OpenAIError(
            404, f"The model `{model_id}` does not exist: this server serves "
            f"{', '.join(served)}", code="model_not_found", param="model",
        )
    return _model(model_id)


def _served(svc: NewsQA) -> list[str]:
    return [MODEL_ID, GENERATE_ID] if svc.chat is not None else [MODEL_ID]


def _model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "created": CREATED, "owned_by": "newsqa"}
