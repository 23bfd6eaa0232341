"""The OpenAI-compatible routes, checked against the openai package's own types and client."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from fastapi.testclient import TestClient
from openai.types import Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from newsqa.api.openai_schemas import MAX_CONTENT_CHARS, MAX_MESSAGES, MAX_PARTS
from newsqa.api.schemas import NOT_BLANK
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
    prompt = len(cl100k().encode(SEED_QUESTION))  # what is read: the question, not the system
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
    assert user[0] == {"type": "string", "maxLength": limit, "pattern": NOT_BLANK}
    assert user[1]["maxItems"] == MAX_PARTS


def _client(client: TestClient) -> openai.OpenAI:
    return openai.OpenAI(base_url="http://testserver/v1", api_key="unused", http_client=client,
                         max_retries=0)


def test_documented_openai_fields_pass_and_unknown_ones_are_refused(client: TestClient) -> None:
    """Issue 39: extra fields rode along (a 200 MB body got 200 through content parts' extras).
    What OpenAI documents is accepted and ignored; anything else is refused in OpenAI's shape."""
    oa = _client(client)
    done = oa.chat.completions.create(
        model="newsqa", messages=MESSAGES, temperature=0.2, top_p=1, max_tokens=300,  # type: ignore[arg-type]
        seed=7, stop=["\n\n\n"], user="someone", presence_penalty=0, frequency_penalty=0.5,
        logit_bias={"50256": -100}, metadata={"app": "test"}, response_format={"type": "text"},
        tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}],
        tool_choice="none", parallel_tool_calls=False, store=False, logprobs=False,
    )
    assert "Sources:\n[1]" in (done.choices[0].message.content or "")
    with_parts = [{"role": "user", "content": [
        {"type": "text", "text": SEED_QUESTION},
        {"type": "image_url", "image_url": {"url": "https://example.org/a.png"}},
    ]}, {"role": "assistant", "content": None, "tool_calls": [], "name": "bot"}]
    assert _chat(client, [MESSAGES[1], with_parts[1], with_parts[0]]).status_code == 200
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        oa.chat.completions.create(model="newsqa", messages=MESSAGES,  # type: ignore[arg-type]
                                   extra_body={"temprature": 0.2})
    assert caught.value.param == "temprature" and caught.value.type == "invalid_request_error"
    assert "temprature: Extra inputs are not permitted" in caught.value.message
    padded = {"type": "text", "text": SEED_QUESTION, "padding": "x" * 1000}
    r = _chat(client, [{"role": "user", "content": [padded]}])
    assert r.status_code == 422 and "padding" in r.json()["error"]["param"]
    r = _chat(client, [{**MESSAGES[1], "padding": "x"}])
    assert r.status_code == 422 and "padding" in r.json()["error"]["message"]


def test_an_unknown_model_is_model_not_found(client: TestClient) -> None:
    """Issue 38: any model name was answered; OpenAI answers 404 model_not_found."""
    oa = _client(client)
    for model in ("gpt-4o", "newsqa-generate"):  # no language model on this server
        with pytest.raises(openai.NotFoundError) as caught:
            oa.chat.completions.create(model=model, messages=MESSAGES)  # type: ignore[arg-type]
        assert caught.value.code == "model_not_found" and caught.value.param == "model"
        assert f"`{model}` does not exist" in caught.value.message
    with pytest.raises(openai.NotFoundError) as caught:
        oa.models.retrieve("gpt-4o")
    assert caught.value.code == "model_not_found"
    chat = client.get("/openapi.json").json()["components"]["schemas"]["ChatRequest"]
    assert chat["properties"]["model"]["enum"] == ["newsqa"]


def test_a_stream_asked_for_usage_ends_with_the_usage_chunk(client: TestClient) -> None:
    """Issue 38: stream_options.include_usage got no usage chunk."""
    oa = _client(client)
    done = oa.chat.completions.create(model="newsqa", messages=MESSAGES)  # type: ignore[arg-type]
    chunks = list(oa.chat.completions.create(
        model="newsqa", messages=MESSAGES, stream=True,  # type: ignore[arg-type]
        stream_options={"include_usage": True},
    ))
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert all(c.usage is None for c in chunks[:-1])
    assert last.usage == done.usage
    assert "".join(c.choices[0].delta.content or "" for c in chunks[:-1]) == \
        done.choices[0].message.content
    plain = list(oa.chat.completions.create(model="newsqa", messages=MESSAGES, stream=True))  # type: ignore[arg-type]
    assert plain[-1].choices[0].finish_reason == "stop" and plain[-1].usage is None


def test_text_is_capped_per_request_and_only_the_question_is_counted(client: TestClient) -> None:
    """Issue 39: 63 system messages of 10 parts of 20k characters took 18 s, counting 7M tokens
    for usage. The text of a request is capped, and usage counts what is read: the question."""
    limit = client.app.state.service.settings.api.max_chat_chars  # type: ignore[attr-defined]
    part = {"type": "text", "text": "x" * MAX_CONTENT_CHARS}
    system = {"role": "system", "content": [part] * MAX_PARTS}
    question = {"role": "user", "content": "Who won the 2022 FIFA World Cup?"}
    r = _chat(client, [system] * (MAX_MESSAGES - 1) + [question])
    assert r.status_code == 413 and "NEWSQA_API__MAX_BODY_BYTES" in r.json()["error"]["message"]
    system = {"role": "system", "content": [part] * (limit // MAX_CONTENT_CHARS + 1)}
    r = _chat(client, [system, question])
    assert r.status_code == 422 and f"the limit is {limit:,}" in r.json()["error"]["message"]
    assert "NEWSQA_API__MAX_CHAT_CHARS" in r.json()["detail"]
    under = {"role": "system", "content": [part] * (limit // MAX_CONTENT_CHARS - 1)}
    r = _chat(client, [under, question])
    assert r.status_code == 200, r.text
    assert r.json()["usage"]["prompt_tokens"] == len(cl100k().encode(question["content"]))


HOSTILE_TITLE = "Harbor festival ![pixel](http://tracker.example/t.png) [win](javascript:alert(1))"
HOSTILE_TEXT = (
    "The harbor festival drew a record crowd of 40,000 visitors on Saturday "
    "![pixel](http://tracker.example/p.png), and organisers sold tickets at "
    "[the box office](javascript:alert(document.cookie)) and [the city page]"
    "(https://city.example/festival) <img src=x onerror=alert(1)>. "
    "The harbor festival ends on Sunday with fireworks over the water."
)


def test_replies_carry_no_images_and_no_links_but_web_ones(
    fresh: tuple[TestClient, Any],
) -> None:
    """Issue 39: /v1 copied markdown images and javascript: links from articles into replies
    (chat clients render them). Both the reply and the stream are made safe."""
    from tests.support import article

    c, svc = fresh
    svc.ingest_records([article(HOSTILE_TITLE, HOSTILE_TEXT, url="https://news.example/h",
                                source="news.example", published_at="2023-05-06")])
    ask = [{"role": "user", "content": "How many visitors did the harbor festival draw?"}]
    text = _chat(c, ask).json()["choices"][0]["message"]["content"]
    with c.stream("POST", "/v1/chat/completions",
                  json={"model": "newsqa", "messages": ask, "stream": True}) as r:
        body = r.read().decode()
    chunks = [json.loads(ln[6:]) for ln in body.splitlines() if ln.startswith("data: {")]
    streamed = "".join(ch["choices"][0]["delta"].get("content") or "" for ch in chunks)
    assert streamed == text and "40,000 visitors" in text and "Harbor festival pixel" in text
    for unsafe in ("javascript:", "![", "tracker.example", "<img"):
        assert unsafe not in text, (unsafe, text)
    assert "[the city page](https://city.example/festival)" in text
