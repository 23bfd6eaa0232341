"""The OpenAI-compatible routes, checked against the openai package's own types and client."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from fastapi.testclient import TestClient
from openai.types import Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from newsqa.api.openai_compat import MAX_CONTENT_CHARS, MAX_MESSAGES, MAX_PARTS
from newsqa.ingest.chunk import cl100k
from tests.support import SEED_QUESTION

MESSAGES = [
    {"role": "system", "content": "You are a helpful news assistant."},
    {"role": "user", "content": SEED_QUESTION},
]


def test_chat_completion_shape_and_sources(client: TestClient) -> None:
    r = client.post("/v1/chat/completions",
                    json={"model": "newsqa", "messages": MESSAGES, "temperature": 0.2})
    assert r.status_code == 200, r.text
    done = ChatCompletion.model_validate(r.json())
    assert done.object == "chat.completion" and done.model == "newsqa"
    text = done.choices[0].message.content or ""
    answer, _, sources = text.partition("\n\nSources:\n")
    assert "[1]" in answer and sources.startswith("[1] Korea-US Alliance vs. Japan-US Alliance — ")
    assert "2013-11-30" in sources
    cites = r.json()["citations"]
    assert cites[0]["n"] == 1 and "collective self-defense" in " ".join(c["quote"] for c in cites)
    assert done.usage is not None
    prompt = sum(len(cl100k().encode(m["content"])) for m in MESSAGES)
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (
        prompt, len(cl100k().encode(text)))
    assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens


def test_abstention_lists_closest_articles(client: TestClient) -> None:
    question = {"role": "user", "content": "Who won the 2022 FIFA World Cup?"}
    r = client.post("/v1/chat/completions", json={"model": "newsqa", "messages": [question]})
    text = ChatCompletion.model_validate(r.json()).choices[0].message.content or ""
    assert "Closest articles:\n- " in text and r.json()["citations"] == []


def test_streaming_chunks_end_with_done(client: TestClient) -> None:
    plain = client.post("/v1/chat/completions", json={"model": "newsqa", "messages": MESSAGES})
    with client.stream("POST", "/v1/chat/completions",
                       json={"model": "newsqa", "messages": MESSAGES, "stream": True}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        lines = [ln for ln in r.read().decode().splitlines() if ln]
    assert all(ln.startswith("data: ") for ln in lines)
    assert lines[-1] == "data: [DONE]"
    chunks = [ChatCompletionChunk.model_validate(json.loads(ln[6:])) for ln in lines[:-1]]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert len({c.id for c in chunks}) == 1
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert streamed == plain.json()["choices"][0]["message"]["content"]
    assert json.loads(lines[-2][6:])["citations"][0]["n"] == 1


def test_history_from_earlier_messages(client: TestClient) -> None:
    messages = [
        {"role": "user", "content": SEED_QUESTION},
        {"role": "assistant", "content": "The South Korean government … [1]"},
        {"role": "user", "content": [{"type": "text", "text": "What is it worried about?"}]},
    ]
    r = client.post("/v1/chat/completions", json={"model": "newsqa", "messages": messages})
    body = r.json()
    assert {c["title"] for c in body["citations"]} == {"Korea-US Alliance vs. Japan-US Alliance"}


def test_models(client: TestClient) -> None:
    listed = client.get("/v1/models").json()
    assert listed["object"] == "list"
    model = Model.model_validate(listed["data"][0])
    assert model.id == "newsqa" and model.object == "model"
    assert Model.model_validate(client.get("/v1/models/newsqa").json()).id == "newsqa"
    missing = client.get("/v1/models/gpt-4")
    assert missing.status_code == 404 and missing.json()["error"]["message"]


def test_errors_have_openai_shape(client: TestClient) -> None:
    r = client.post("/v1/chat/completions",
                    json={"model": "newsqa", "messages": [{"role": "system", "content": "hi"}]})
    assert r.status_code == 422
    assert r.json()["detail"] == r.json()["error"]["message"]
    assert "user message" in r.json()["error"]["message"]
    assert client.post("/v1/chat/completions", json={"messages": []}).status_code == 422


def test_the_openai_client_works_against_newsqa(client: TestClient) -> None:
    oa = openai.OpenAI(base_url="http://testserver/v1", api_key="unused", http_client=client)
    assert [m.id for m in oa.models.list()] == ["newsqa"]
    done = oa.chat.completions.create(model="newsqa", messages=MESSAGES)  # type: ignore[arg-type]
    assert "Sources:\n[1]" in (done.choices[0].message.content or "")
    stream = oa.chat.completions.create(model="newsqa", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == done.choices[0].message.content


def _chat(client: TestClient, messages: list[dict[str, Any]], **extra: Any) -> Any:
    return client.post("/v1/chat/completions", json={"model": "newsqa", "messages": messages,
                                                     **extra})


def test_chat_requests_are_bounded_like_ask(client: TestClient) -> None:
    """Issue 20: /v1 took 10,000 messages; it is bounded as /api/ask is, with a clear 422."""
    question = {"role": "user", "content": "Who won the 2022 FIFA World Cup?"}
    turn = {"role": "assistant", "content": "An earlier answer. [1]"}
    assert _chat(client, [turn] * (MAX_MESSAGES - 1) + [question]).status_code == 200
    too_many = _chat(client, [turn] * MAX_MESSAGES + [question])
    assert too_many.status_code == 422
    assert f"at most {MAX_MESSAGES} items" in too_many.json()["error"]["message"]
    long_turn = {"role": "assistant", "content": "x" * (MAX_CONTENT_CHARS + 1)}
    r = _chat(client, [long_turn, question])
    assert r.status_code == 422 and f"at most {MAX_CONTENT_CHARS}" in r.json()["detail"]
    parts = [{"type": "text", "text": "Who won?"}] * (MAX_PARTS + 1)
    r = _chat(client, [{"role": "user", "content": parts}])
    assert r.status_code == 422 and f"at most {MAX_PARTS} items" in r.json()["detail"]
    long_part = [{"type": "text", "text": "x" * (MAX_CONTENT_CHARS + 1)}]
    assert _chat(client, [{"role": "user", "content": long_part}]).status_code == 422
    # every user message is a question: held to max_question_chars, as /api/ask's question
    limit = client.app.state.service.settings.api.max_question_chars  # type: ignore[attr-defined]
    long_question = {"role": "user", "content": "why " * limit}
    r = _chat(client, [long_question, turn, question])
    assert r.status_code == 422 and f"the limit is {limit}" in r.json()["detail"]
    r = _chat(client, [long_question])
    assert r.status_code == 422 and f"the limit is {limit}" in r.json()["detail"]


@pytest.mark.parametrize("message", [
    {"role": ""}, {"role": "robot", "content": "hi"}, {"role": "user"},
    {"role": "user", "content": "   "}, {"role": "user", "content": [{"type": "image_url"}]},
])
def test_chat_messages_need_a_known_role_and_a_user_message_text(
    client: TestClient, message: dict[str, Any]
) -> None:
    r = _chat(client, [message, {"role": "user", "content": "Who won the World Cup?"}])
    assert r.status_code == 422 and r.json()["detail"], r.text


def test_only_one_choice_is_supported(client: TestClient) -> None:
    messages = [{"role": "user", "content": "Who won the 2022 FIFA World Cup?"}]
    for n in (1, None):
        assert _chat(client, messages, n=n).status_code == 200, n
    for n in (2, 0, True, "1"):
        r = _chat(client, messages, n=n)
        assert r.status_code == 422, n
        assert "newsqa returns one choice (n=1)" in r.json()["error"]["message"], n
    assert _chat(client, messages, stream="yes").status_code == 422


def test_the_page_documents_the_chat_bounds(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    chat = schemas["ChatRequest"]["properties"]
    assert chat["messages"]["maxItems"] == MAX_MESSAGES and chat["messages"]["minItems"] == 1
    assert chat["messages"]["contains"]["properties"]["role"] == {"const": "user"}
    assert chat["n"]["anyOf"][0]["const"] == 1 and "only 1" in chat["n"]["description"]
    roles = schemas["OtherMessage"]["properties"]["role"]["enum"]
    assert sorted([*roles, "user"]) == sorted(
        ["system", "developer", "user", "assistant", "tool", "function"])
    user = schemas["UserMessage"]["properties"]["content"]["anyOf"]
    limit = client.app.state.service.settings.api.max_question_chars  # type: ignore[attr-defined]
    assert user[0] == {"type": "string", "maxLength": limit, "pattern": r"\S"}
    assert user[1]["maxItems"] == MAX_PARTS
