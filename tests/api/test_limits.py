"""What a request may send (issues 38 and 39): bodies capped while they arrive, values of the
declared JSON type only, dates at the calendar's ends served, the date-order rule stated on the
page, and the same question rule in the command line as in the API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from newsqa.api.factory import create_app
from newsqa.cli import EXIT_USAGE, main
from newsqa.service import NewsQA
from tests.api.conftest import sse_events
from tests.support import NEWS, open_service

CAP = 2_000


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, NewsQA]]:
    """A client over a service whose JSON bodies are capped at ``CAP`` bytes."""
    svc = open_service(tmp_path_factory.mktemp("capped"), embedding__embedder="hash",
                       api__max_body_bytes=CAP)
    svc.ingest_records(list(NEWS))
    with TestClient(create_app(svc)) as c:
        yield c, svc
    svc.close()


def _big_question() -> dict[str, Any]:
    return {"question": "Who won?", "history": [{"role": "user", "content": "x" * CAP}]}


def test_a_body_over_the_cap_is_413_before_it_is_read(capped: tuple[TestClient, NewsQA]) -> None:
    """Issue 39: a 200 MB /api/ask body was read whole (RSS 253 -> 850 MB), then 422."""
    c, _ = capped
    for path in ("/api/ask", "/api/ask/stream", "/api/search"):
        r = c.post(path, json=_big_question())
        assert r.status_code == 413, (path, r.text)
        assert "NEWSQA_API__MAX_BODY_BYTES" in r.json()["detail"]
        assert r.headers["x-request-id"]
    assert c.post("/api/ask", json={"question": "Who won?"}).status_code == 200
    oa = openai.OpenAI(base_url="http://testserver/v1", api_key="-", http_client=c, max_retries=0)
    with pytest.raises(openai.APIStatusError) as caught:
        oa.chat.completions.create(
            model="newsqa", messages=[{"role": "user", "content": "Who won? " * 300}]
        )
    assert caught.value.status_code == 413 and f"{CAP:,}-byte limit" in caught.value.message


def _drive(app: FastAPI, path: str, chunk: bytes, most: int) -> tuple[int, int]:
    """POST ``path`` with a chunked body (no Content-Length) of up to ``most`` chunks; the
    status answered and how many chunks the server pulled."""
    pulled, status = 0, 0

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": pulled < most}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "server": ("testserver", 80), "client": ("127.0.0.1", 1),
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"),
                    (b"transfer-encoding", b"chunked")],
    }
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    return status, pulled


def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_cap(
    capped: tuple[TestClient, NewsQA],
) -> None:
    c, _ = capped
    status, pulled = _drive(c.app, "/api/ask", b" " * 500, most=100_000)  # type: ignore[arg-type]
    assert status == 413 and pulled == CAP // 500 + 1
    status, pulled = _drive(c.app, "/v1/chat/completions", b" " * 500, most=100_000)  # type: ignore[arg-type]
    assert status == 413 and pulled == CAP // 500 + 1


def test_uploads_keep_their_own_limit(capped: tuple[TestClient, NewsQA]) -> None:
    c, _ = capped
    articles = [{"title": f"Long article {i}", "text": "Words of a long story. " * 40}
                for i in range(3)]
    assert len(json.dumps(articles)) > CAP
    r = c.post("/api/articles", json=articles)
    assert r.status_code in (200, 201, 202), r.text


@pytest.mark.parametrize("k", ["5", True, 5.5, [5]])
def test_numbers_must_be_numbers(client: TestClient, k: Any) -> None:
    """Issue 39: `k: "5"` and `k: true` were accepted where the page says integer."""
    for path, body in (("/api/ask", {"question": "Who won?"}), ("/api/search", {"query": "won"}),
                       ("/api/ask/stream", {"question": "Who won?"}),
                       ("/v1/chat/completions",
                        {"messages": [{"role": "user", "content": "Who won?"}]})):
        r = client.post(path, json={**body, "k": k})
        assert r.status_code == 422, (path, r.text)
        assert "k: Input should be a valid integer" in r.json()["detail"]
    for whole in (5, 5.0):  # to JSON Schema, 5.0 is an integer too
        assert client.post("/api/search", json={"query": "won", "k": whole}).status_code == 200


QUESTIONS = [
    "What happened today?", "What happened this week?", "What happened last week?",
    "What happened yesterday?", "What happened 3 days ago?", "What happened last month?",
    "What happened last year?", "What happened in March?", "What happened on Monday?",
    "What happened 99999999999 days ago?", "What happened in January 0000?",
]


@pytest.mark.parametrize("as_of", ["9999-12-31", "0001-01-01"])
def test_dates_at_the_ends_of_the_calendar_are_answered(client: TestClient, as_of: str) -> None:
    """Issue 39: as_of 9999-12-31 with "today", or 0001-01-01 with "last week", was a 500."""
    for question in QUESTIONS:
        r = client.post("/api/ask", json={"question": question, "as_of": as_of})
        assert r.status_code == 200, (question, r.text)
        r = client.post("/api/ask/stream", json={"question": question, "as_of": as_of})
        assert [e for e, _ in sse_events(r.text)][-1] == "done", (question, r.text)
        r = client.post("/v1/chat/completions", json={
            "messages": [{"role": "user", "content": question}], "as_of": as_of,
        })
        assert r.status_code == 200, (question, r.text)


def test_the_page_states_the_date_order_rule(client: TestClient) -> None:
    """Issue 38: since after until is a 422 the schema cannot express: the page says it."""
    doc = client.get("/openapi.json").json()
    assert "`since` is after its `until` is refused with 422" in doc["info"]["description"]
    for name in ("AskRequest", "SearchRequest", "ChatRequest"):
        fields = doc["components"]["schemas"][name]["properties"]
        for field in ("since", "until"):
            assert "since must not be after until" in fields[field]["description"], name
    params = doc["paths"]["/api/articles"]["get"]["parameters"]
    assert all("since must not be after until" in p["description"]
               for p in params if p["name"] in ("since", "until"))
    r = client.post("/api/ask", json={"question": "q", "since": "2023-03-01",
                                      "until": "2023-01-01"})
    assert r.status_code == 422 and "is after until" in r.json()["detail"]


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
def test_the_command_line_refuses_an_empty_question_as_the_api_does(
    client: TestClient, question: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 38: `newsqa ask ""` searched and exited 0 where the API answers 422."""
    assert client.post("/api/ask", json={"question": question}).status_code == 422
    assert main(["ask", question, "--index", str(tmp_path / "none")]) == EXIT_USAGE
    assert "error: the question is empty" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()
