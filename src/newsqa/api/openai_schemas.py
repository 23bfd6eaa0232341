"""The request and response models of ``/v1`` (:mod:`newsqa.api.routes.openai`).

A request may carry every field OpenAI documents for chat completions (the ``openai`` client
sends some of them on its own): newsqa reads ``model``, ``messages``, ``stream``,
``stream_options`` and ``n`` and ignores the others. Any other field is refused (422, in the
error shape OpenAI clients read), as are unknown fields of a message or a content part, so a
request cannot smuggle bulk past the bounds below.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from newsqa.api.schemas import (
    MODE_DOC,
    NOT_BLANK,
    SEED_QUESTION,
    CitationOut,
    ClaimsOut,
    FilterFields,
    Mode,
    View,
)

MODEL_ID = "newsqa"
GENERATE_ID = "newsqa-generate"

#: Bounds of a request, as /api/ask bounds its history: messages per request, characters of a
#: message's content (of each part when it is a list) and parts per message. A user message is
#: a question: its text is also held to ``max_question_chars`` (the OpenAPI page says how much),
#: and all the messages' text together to ``max_chat_chars``.
MAX_MESSAGES = 64
MAX_CONTENT_CHARS = 20_000
MAX_PARTS = 10
TEXT_PART = {
    "type": "object", "required": ["type", "text"],
    "properties": {"type": {"const": "text"}, "text": {"type": "string", "pattern": NOT_BLANK}},
}
IGNORED = "OpenAI field: accepted and ignored"
Json = dict[str, Any]


class _Forbid(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ContentPart(_Forbid):
    """One part of a message's content: a ``text`` part is read, the others (image_url,
    input_audio, file, refusal) are accepted and ignored."""

    type: str = Field(max_length=100)
    text: str | None = Field(None, max_length=MAX_CONTENT_CHARS)
    image_url: Json | None = Field(None, description=IGNORED)
    input_audio: Json | None = Field(None, description=IGNORED)
    file: Json | None = Field(None, description=IGNORED)
    refusal: str | None = Field(None, description=IGNORED)
    prompt_cache_breakpoint: Json | None = Field(None, description=IGNORED)


Content = (
    Annotated[str, Field(max_length=MAX_CONTENT_CHARS)]
    | Annotated[list[ContentPart], Field(max_length=MAX_PARTS)]
)


class _Message(_Forbid):
    content: Content | None = None
    name: str | None = Field(None, max_length=200, description=IGNORED)

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
    tool_call_id: str | None = Field(None, max_length=200, description=IGNORED)
    tool_calls: list[Json] | None = Field(None, description=IGNORED)
    function_call: Json | None = Field(None, description=IGNORED)
    refusal: str | None = Field(None, description=IGNORED)
    audio: Json | None = Field(None, description=IGNORED)


ChatMessage = Annotated[UserMessage | OtherMessage, Field(discriminator="role")]


class StreamOptions(_Forbid):
    """Options of a streamed reply."""

    include_usage: bool = Field(
        False, description="Send a last chunk with `usage` (and `choices: []`) before [DONE]"
    )
    include_obfuscation: bool = Field(False, description=IGNORED)


class OpenAIOptions(_Forbid):
    """The chat-completion fields OpenAI documents that newsqa accepts and ignores (any number
    where OpenAI wants an integer: it is not read)."""

    audio: Json | None = Field(None, description=IGNORED)
    frequency_penalty: float | None = Field(None, description=IGNORED)
    function_call: str | Json | None = Field(None, description=IGNORED)
    functions: list[Json] | None = Field(None, description=IGNORED)
    logit_bias: Json | None = Field(None, description=IGNORED)
    logprobs: bool | None = Field(None, description=IGNORED)
    max_completion_tokens: float | None = Field(None, description=IGNORED)
    max_tokens: float | None = Field(None, description=IGNORED)
    metadata: Json | None = Field(None, description=IGNORED)
    modalities: list[str] | None = Field(None, description=IGNORED)
    moderation: Json | None = Field(None, description=IGNORED)
    parallel_tool_calls: bool | None = Field(None, description=IGNORED)
    prediction: Json | None = Field(None, description=IGNORED)
    presence_penalty: float | None = Field(None, description=IGNORED)
    prompt_cache_key: str | None = Field(None, description=IGNORED)
    prompt_cache_options: Json | None = Field(None, description=IGNORED)
    prompt_cache_retention: str | None = Field(None, description=IGNORED)
    reasoning_effort: str | None = Field(None, description=IGNORED)
    response_format: Json | None = Field(None, description=IGNORED)
    safety_identifier: str | None = Field(None, description=IGNORED)
    seed: float | None = Field(None, description=IGNORED)
    service_tier: str | None = Field(None, description=IGNORED)
    stop: str | list[str] | None = Field(None, description=IGNORED)
    store: bool | None = Field(None, description=IGNORED)
    temperature: float | None = Field(None, description=IGNORED)
    tool_choice: str | Json | None = Field(None, description=IGNORED)
    tools: list[Json] | None = Field(None, description=IGNORED)
    top_logprobs: float | None = Field(None, description=IGNORED)
    top_p: float | None = Field(None, description=IGNORED)
    user: str | None = Field(None, description=IGNORED)
    verbosity: str | None = Field(None, description=IGNORED)
    web_search_options: Json | None = Field(None, description=IGNORED)


class ChatRequest(OpenAIOptions, FilterFields):
    """An OpenAI chat completion request; newsqa's filters (k, since, until, sources, as_of),
    view and mode may be added (with the openai client: ``extra_body``)."""

    model_config = ConfigDict(
        extra="forbid",
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
        MODEL_ID, description='A model this server serves (GET /v1/models): "newsqa" answers '
        'extractively, "newsqa-generate" with the language model (as mode "generate"); any '
        "other is a 404 model_not_found",
        json_schema_extra={"enum": [MODEL_ID, GENERATE_ID]},
    )
    messages: list[ChatMessage] = Field(
        min_length=1, max_length=MAX_MESSAGES,
        description=f"At most {MAX_MESSAGES}, one of them from the user: the last user message "
        "is the question; their text together at most max_chat_chars",
        json_schema_extra={"contains": {
            "type": "object", "properties": {"role": {"const": "user"}}, "required": ["role"],
        }},
    )
    stream: bool = Field(False, strict=True)
    stream_options: StreamOptions | None = None
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

    def answer_mode(self) -> Mode:
        """The mode asked for, by the ``mode`` field or else by the model's name."""
        return self.mode or ("generate" if self.model == GENERATE_ID else "extractive")

    def wants_usage(self) -> bool:
        """Whether a streamed reply ends with a usage chunk."""
        return bool(self.stream_options and self.stream_options.include_usage)


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
    """Token counts (cl100k_base) of what newsqa read and wrote: the prompt is the question
    answered (the last user message), the completion the reply's text."""

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
    """The models served (``newsqa``, and ``newsqa-generate`` with a language model)."""

    object: Literal["list"] = "list"
    data: list[ModelOut]
