"""OpenAI-compatible ``/v1/chat/completions`` and ``/v1/models`` over the same service.

The last user message is the question and earlier user/assistant messages are the history. The
reply's text is the answer followed by a numbered source list, and a top-level ``citations`` field
carries the citation objects. Unknown request fields (temperature, max_tokens, …) are accepted and
ignored, so stock OpenAI clients work unchanged; newsqa's filters (k, since, until, sources,
as_of) may be passed as extra body fields. When a language model is configured, the model
``newsqa-generate`` (or ``mode: "generate"``) answers with the model's text, checked claim by
claim: tokens stream as the model writes them and a sentence its sources do not support is
marked "(not supported by the sources)" in the stream.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from newsqa.api.middleware import failure, request_id
from newsqa.api.schemas import (
    ERRORS,
    MODE_DOC,
    NOT_BLANK,
    SEED_QUESTION,
    CitationOut,
    ClaimsOut,
    ErrorBody,
    FilterFields,
    Mode,
    View,
)
from newsqa.query.compose import unbracket
from newsqa.service import NewsQA

MODEL_ID = "newsqa"
GENERATE_ID = "newsqa-generate"
CREATED = 1_700_000_000


#: Bounds of a request, as /api/ask bounds its history: messages per request, characters of a
#: message's content (of each part when it is a list) and parts per message. A user message is
#: a question: its text is also held to ``max_question_chars`` (the OpenAPI page says how much).
MAX_MESSAGES = 64
MAX_CONTENT_CHARS = 20_000
MAX_PARTS = 10
TEXT_PART = {
    "type": "object", "required": ["type", "text"],
    "properties": {"type": {"const": "text"}, "text": {"type": "string", "pattern": NOT_BLANK}},
}


class ContentPart(BaseModel):
    """One part of a message's content: a ``text`` part is read, others are ignored."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(max_length=100)
    text: str | None = Field(None, max_length=MAX_CONTENT_CHARS)


Content = (
    Annotated[str, Field(max_length=MAX_CONTENT_CHARS)]
    | Annotated[list[ContentPart], Field(max_length=MAX_PARTS)]
)


class _Message(BaseModel):
    model_config = ConfigDict(extra="allow")

    content: Content | None = None

    def text(self) -> str:
        """The message's text (text parts joined)."""
        if isinstance(self.content, str):
            return self.content
        parts = self.content or []
        return "\n".join(p.text or "" for p in parts if p.type == "text")


class UserMessage(_Message):
    """A user message: a question, so it has text (a string, or at least one text part)."""

    role: Literal["user"]
    content: (
        Annotated[str, Field(max_length=MAX_CONTENT_CHARS,
                             json_schema_extra={"pattern": NOT_BLANK})]
        | Annotated[list[ContentPart], Field(min_length=1, max_length=MAX_PARTS,
                                             json_schema_extra={"contains": TEXT_PART})]
    ) = Field(description="The question's text (at most max_question_chars)")

    @model_validator(mode="after")
    def _has_text(self) -> UserMessage:
        if not self.text().strip():
            raise ValueError("a user message needs text: it is a question")
        return self


class OtherMessage(_Message):
    """A system, developer, assistant, tool or function message (only assistant messages are
    read, as the answers of the conversation so far)."""

    role: Literal["system", "developer", "assistant", "tool", "function"]


ChatMessage = Annotated[UserMessage | OtherMessage, Field(discriminator="role")]


class ChatRequest(FilterFields):
    """An OpenAI chat completion request (unknown fields are ignored)."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {"model": "newsqa", "messages": [{"role": "user", "content": SEED_QUESTION}]},
                {
                    "model": "newsqa",
                    "stream": True,
                    "messages": [
                        {"role": "system", "content": "You are a news assistant."},
                        {"role": "user", "content": SEED_QUESTION},
                    ],
                },
            ]
        },
    )

    model: str = Field(
        MODEL_ID, description='"newsqa-generate" answers with the language model (as mode '
        '"generate"); any other value answers extractively'
    )
    messages: list[ChatMessage] = Field(
        min_length=1, max_length=MAX_MESSAGES,
        description=f"At most {MAX_MESSAGES}, one of them from the user: the last user message "
        "is the question",
        json_schema_extra={"contains": {
            "type": "object", "properties": {"role": {"const": "user"}}, "required": ["role"],
        }},
    )
    stream: bool = Field(False, strict=True)
    n: Literal[1] | None = Field(
        1, description="Choices to return: only 1 is supported (anything else is a 422)"
    )
    view: View = Field("answer", description="newsqa extension: answer, timeline or outlets")
    mode: Mode | None = Field(None, description=f"newsqa extension: {MODE_DOC}")

    @field_validator("n", mode="before")
    @classmethod
    def _one_choice(cls, value: Any) -> Any:
        if value is not None and (value != 1 or isinstance(value, bool)):
            raise ValueError(f"n={value!r} is not supported: newsqa returns one choice (n=1)")
        return value

    def answer_mode(self) -> str:
        """The mode asked for, by the ``mode`` field or else by the model's name."""
        return self.mode or ("generate" if self.model == GENERATE_ID else "extractive")


class ChatChoiceMessage(BaseModel):
    """The assistant's reply."""

    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    """The single choice of a completion."""

    index: int = 0
    message: ChatChoiceMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class Usage(BaseModel):
    """Token counts (cl100k_base)."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class NewsqaOut(BaseModel):
    """newsqa's extension of a completion."""

    mode: Mode
    note: str | None
    claims: ClaimsOut | None
    abstained: bool


class ChatCompletionOut(BaseModel):
    """An OpenAI ``chat.completion`` with newsqa's ``citations`` added."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage
    citations: list[CitationOut]
    newsqa: NewsqaOut


class ModelOut(BaseModel):
    """An OpenAI model object."""

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    """The models served (just ``newsqa``)."""

    object: Literal["list"] = "list"
    data: list[ModelOut]


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
    """The assistant message: the answer, a blank line, then the source list."""
    sources = source_list(result)
    return f"{result['answer']}\n\n{sources}" if sources else result["answer"]


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


def _chunk(cid: str, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
    body = {
        "id": cid, "object": "chat.completion.chunk", "created": int(time.time()),
        "model": MODEL_ID,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        **extra,
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


def _stream(events: Iterator[tuple[str, dict[str, Any]]], cid: str, rid: str) -> Iterator[str]:
    yield _chunk(cid, {"role": "assistant", "content": ""})
    generating = False
    try:
        for event, data in events:
            generating = (generating or event == "token") and event != "note"
            piece = _content(event, data, generating)
            if piece:
                yield _chunk(cid, {"content": piece})
            if event == "done":
                sources = source_list(data)
                if sources:
                    yield _chunk(cid, {"content": "\n\n" + sources})
                yield _chunk(cid, {}, "stop", citations=data["citations"], newsqa=_extension(data))
    except Exception as exc:  # noqa: BLE001 - the stream has started: report in-band
        err = failure(exc, rid)
        body = {"error": {"message": err["detail"], "type": "server_error", "code": err["status"]}}
        yield f"data: {json.dumps(body)}\n\n"
    yield "data: [DONE]\n\n"


def make_router(
    get_service: Callable[..., NewsQA],
    check_question: Callable[[NewsQA, str], str],
    require_read: Callable[..., None],
) -> APIRouter:
    """The ``/v1`` router; dependencies are passed in by the app factory."""
    router = APIRouter(
        prefix="/v1", tags=["OpenAI-compatible"], dependencies=[Depends(require_read)],
        responses=ERRORS,
    )

    @router.post(
        "/chat/completions",
        response_model=ChatCompletionOut,
        summary="Chat completion (OpenAI-compatible)",
        description="The last user message is the question; earlier messages are the history. "
        "With `stream: true` the reply is `data: {chunk}` lines ending with `data: [DONE]`; the "
        "last chunk carries `citations`.",
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    def chat_completions(
        req: ChatRequest, request: Request,
        svc: NewsQA = Depends(get_service),  # noqa: B008 - factory argument
    ) -> Any:
        """A cited answer as an OpenAI chat completion."""
        question, history = _question_and_history(req)
        limit = svc.settings.api.max_question_chars
        for turn in history:  # each user message was a question once
            n = len(turn["content"].strip())
            if turn["role"] == "user" and n > limit:
                raise HTTPException(
                    422, f"a user message is {n} characters long; the limit is {limit} "
                    "(each user message is a question)"
                )
        question = check_question(svc, question)
        cid = f"chatcmpl-{uuid.uuid4().hex}"
        if req.stream:
            events = svc.ask_stream(
                question, req.k, req.filters(), history, req.view, req.answer_mode()
            )
            return StreamingResponse(
                _stream(events, cid, request_id(request)), media_type="text/event-stream"
            )
        result = svc.ask(question, req.k, req.filters(), history, req.view, req.answer_mode())
        text = message_text(result)
        prompt = sum(_tokens(m.text()) for m in req.messages)
        completion = _tokens(text)
        return {
            "id": cid, "created": int(time.time()), "model": MODEL_ID,
            "choices": [{"message": {"content": text}}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                      "total_tokens": prompt + completion},
            "citations": result["citations"],
            "newsqa": _extension(result),
        }

    @router.get("/models", response_model=ModelList, summary="List models (OpenAI-compatible)")
    def list_models(
        svc: NewsQA = Depends(get_service),  # noqa: B008 - factory argument
    ) -> dict[str, Any]:
        """The models this server answers as: `newsqa`, and `newsqa-generate` when a language
        model is configured."""
        return {"data": [_model(m) for m in _served(svc)]}

    @router.get("/models/{model_id}", response_model=ModelOut, summary="One model",
                responses={404: {"model": ErrorBody, "description": "No such model"}})
    def get_model(
        model_id: str, svc: NewsQA = Depends(get_service),  # noqa: B008 - factory argument
    ) -> dict[str, Any]:
        """One model by id (404 for one this server does not serve)."""
        served = _served(svc)
        if model_id not in served:
            raise HTTPException(
                404, f"no model {model_id!r} (this server serves {', '.join(served)})"
            )
        return _model(model_id)

    return router


def _served(svc: NewsQA) -> list[str]:
    return [MODEL_ID, GENERATE_ID] if svc.generator is not None else [MODEL_ID]


def _model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "created": CREATED, "owned_by": "newsqa"}
