"""Failures over HTTP: request ids, 500s that leak nothing, a busy index as 409, and the
security headers every response carries."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from newsqa.api.middleware import CSP
from newsqa.api.schemas import NOT_BLANK
from newsqa.index.store import NewsIndex
from newsqa.query.events import AnswerEvent, SourcesEvent
from newsqa.service import NewsQA
from tests.api.conftest import sse_events
from tests.api.test_articles import GOOD
from tests.support import NEWS

SECRET = "boom at /srv/secret/path.db"


def _explode(*_: Any, **__: Any) -> Any:
    raise RuntimeError(SECRET)


def _explode_after_sources(*_: Any, **__: Any) -> Iterator[AnswerEvent]:
    yield SourcesEvent([])
    raise RuntimeError(SECRET)


def test_a_crash_is_an_internal_error_with_the_request_id(
    fresh: tuple[TestClient, NewsQA], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, svc = fresh
    monkeypatch.setattr(svc, "search", _explode)
    with caplog.at_level(logging.ERROR, logger="newsqa.api"):
        r = client.post("/api/search", json={"query": "bridge"})
    rid = r.headers["x-request-id"]
    assert r.status_code == 500
    assert r.json() == {"detail": f"internal error (request id {rid})", "request_id": rid}
    assert len(rid) == 32
    assert r.headers["content-security-policy"] == CSP
    logged = [rec for rec in caplog.records if rec.name == "newsqa.api"]
    assert len(logged) == 1 and rid in logged[0].getMessage()
    assert logged[0].exc_info and SECRET in str(logged[0].exc_info[1])
    assert 'route="/api/search",status="500"' in client.get("/metrics").text


def test_openai_crash_has_the_openai_error_shape(
    fresh: tuple[TestClient, NewsQA], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, svc = fresh
    monkeypatch.setattr(svc, "answer", _explode)
    r = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "q"}]},
                    headers={"X-Request-ID": "client-42"})
    detail = "internal error (request id client-42)"
    assert r.status_code == 500 and r.headers["x-request-id"] == "client-42"
    assert r.json() == {"detail": detail, "request_id": "client-42",
                        "error": {"message": detail, "type": "server_error", "param": None,
                                  "code": 500}}


def test_stream_errors_name_the_request_not_the_exception(
    fresh: tuple[TestClient, NewsQA], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, svc = fresh
    monkeypatch.setattr(svc, "answer_events", _explode_after_sources)
    r = client.post("/api/ask/stream", json={"question": "bridge"},
                    headers={"X-Request-ID": "abc.1"})
    assert r.status_code == 200 and SECRET not in r.text
    assert sse_events(r.text) == [
        ("sources", {"passages": []}),
        ("error", {"detail": "internal error (request id abc.1)", "status": 500,
                   "request_id": "abc.1"}),
    ]
    oa = client.post("/v1/chat/completions", headers={"X-Request-ID": "abc.2"}, json={
        "stream": True, "messages": [{"role": "user", "content": "bridge"}]})
    assert SECRET not in oa.text
    assert ('data: {"error": {"message": "internal error (request id abc.2)", '
            '"type": "server_error", "param": null, "code": 500}}') in oa.text
    assert oa.text.endswith("data: [DONE]\n\n")


@pytest.mark.parametrize("given", ["", "x" * 129, "<script>", "a b", "-leading-dash"])
def test_odd_incoming_request_ids_are_replaced(client: TestClient, given: str) -> None:
    got = client.get("/api/health", headers={"X-Request-ID": given}).headers["x-request-id"]
    assert got != given and len(got) == 32 and got.isalnum()


def test_plain_incoming_request_ids_are_kept(client: TestClient) -> None:
    for given in ("a", "req-1.2:3_x", "Z" * 128):
        assert client.get("/", headers={"X-Request-ID": given}).headers["x-request-id"] == given


def test_every_response_has_security_headers_and_a_request_id(client: TestClient) -> None:
    responses = [
        client.get("/"), client.get("/static/app.js"), client.get("/api/health"),
        client.get("/api/articles/nope"), client.get("/no/such/page"), client.get("/metrics"),
        client.post("/api/ask", json={}), client.get("/openapi.json"),
        client.post("/api/ask/stream", json={"question": "volcano"}),
    ]
    ids = set()
    for r in responses:
        assert r.headers["content-security-policy"] == CSP, r.url
        assert r.headers["x-content-type-options"] == "nosniff", r.url
        assert r.headers["referrer-policy"] == "no-referrer", r.url
        assert r.headers["x-frame-options"] == "DENY", r.url
        ids.add(r.headers["x-request-id"])
    assert len(ids) == len(responses)


def test_docs_have_their_own_policy_allowing_only_their_inline_script(client: TestClient) -> None:
    pytest.importorskip("fastapi_offline", reason="fastapi-offline not installed: /docs uses a CDN")
    policy = client.get("/docs").headers["content-security-policy"]
    assert policy.startswith(CSP + "; script-src 'self' 'sha256-")
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert client.get("/docs").headers["x-content-type-options"] == "nosniff"
    assert client.get("/redoc").headers["content-security-policy"].startswith(CSP)


def test_busy_index_is_409_with_retry_after(fresh: tuple[TestClient, NewsQA]) -> None:
    client, svc = fresh
    other = NewsIndex.open(svc.index.path, svc.index.manifest)  # as another process would
    with other.writer():
        r = client.post("/api/articles", json=[GOOD])
        up = client.post("/api/articles", files={"file": ("a.jsonl", b'{"title": "t"}')})
        streamed = client.post("/api/articles?stream=true", json=[GOOD])
    other.close()
    for resp in (r, up):
        assert resp.status_code == 409 and resp.headers["retry-after"] == "5"
        assert resp.json()["detail"] == (
            f"index {svc.index.path} is busy: another process is writing to it (ingest or "
            "delete); try again when it ends"
        )
    assert streamed.status_code == 200
    (event, data), = sse_events(streamed.text)
    assert event == "error" and (data["status"], data["retry_after"]) == (409, 5)
    assert data["detail"] == r.json()["detail"]
    assert client.post("/api/articles", json=[GOOD]).json()["added"] == 1, "works once free"


def test_busy_delete_is_409(fresh: tuple[TestClient, NewsQA]) -> None:
    client, svc = fresh
    url = NEWS[0].url or ""
    other = NewsIndex.open(svc.index.path, svc.index.manifest)  # as another process would
    with other.writer():
        r = client.delete(f"/api/articles/{url}")
    other.close()
    assert (r.status_code, r.headers["retry-after"]) == (409, "5")
    assert r.json()["detail"].endswith("is busy: another process is writing to it (ingest or "
                                       "delete); try again when it ends")
    assert svc.article(url) is not None
    assert client.delete(f"/api/articles/{url}").status_code == 200, "works once free"


def test_openapi_documents_409_on_writes_and_errors_everywhere(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path, method in (("/api/articles", "post"), ("/api/articles/{article_id}", "delete")):
        busy = spec["paths"][path][method]["responses"]["409"]
        assert "Retry-After" in busy["headers"]
    for path in ("/api/ask", "/api/search", "/v1/chat/completions"):
        responses = spec["paths"][path]["post"]["responses"]
        assert responses["422"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorBody"}, path
        assert "500" in responses, path


def test_the_server_log_carries_newsqa_errors() -> None:
    from newsqa.api.server import log_config

    config = log_config()
    assert config["loggers"]["newsqa"] == {"handlers": ["default"], "level": "INFO",
                                           "propagate": False}
    assert config["handlers"]["default"]["stream"] == "ext://sys.stderr"


@pytest.mark.parametrize(("path", "allowed"), [
    ("/api/articles", "GET, POST"), ("/api/articles/some-id", "GET, DELETE"),
    ("/api/ask", "POST"), ("/v1/models", "GET"),
])
def test_a_method_a_resource_does_not_take_is_405_listing_those_it_does(
    client: TestClient, path: str, allowed: str
) -> None:
    """Issue 20: OPTIONS /api/articles answered 405 with "Allow: GET", though it takes POST."""
    for method in ("OPTIONS", "PUT", "PATCH"):
        r = client.request(method, path)
        assert (r.status_code, r.headers["allow"]) == (405, allowed), (method, path)
        assert r.json()["detail"] == "Method Not Allowed"


def test_the_page_states_the_constraints_the_api_enforces(client: TestClient) -> None:
    """Issue 20: schema-valid requests were refused (an empty list of articles, an empty
    ?source=, a message role ""); the page now states those rules."""
    spec = client.get("/openapi.json").json()
    post = spec["paths"]["/api/articles"]["post"]["requestBody"]["content"]
    listed, wrapped = post["application/json"]["schema"]["anyOf"]
    assert listed["type"] == "array" and listed["minItems"] == 1
    assert wrapped["properties"]["articles"] == listed
    assert client.post("/api/articles", json=[]).status_code == 422
    pattern = post["multipart/form-data"]["encoding"]["file"]["headers"][
        "Content-Disposition"]["schema"]["pattern"]
    from newsqa.ingest.load import SUPPORTED_SUFFIXES

    for suffix in SUPPORTED_SUFFIXES:
        assert re.search(pattern, f'form-data; name="file"; filename="news{suffix}"'), suffix
    assert not re.search(pattern, 'form-data; name="file"; filename="file.png"')
    params = {p["name"]: p["schema"] for p in spec["paths"]["/api/articles"]["get"]["parameters"]}
    source = params["source"]
    assert source["items"]["minLength"] == 1 and source["maxItems"] == 50
    assert client.get("/api/articles", params={"source": ""}).status_code == 422
    assert params["since"]["anyOf"][0]["format"] == "date"
    schemas = spec["components"]["schemas"]
    question = schemas["AskRequest"]["properties"]["question"]
    limit = client.app.state.service.settings.api.max_question_chars  # type: ignore[attr-defined]
    assert (question["maxLength"], question["pattern"]) == (limit, NOT_BLANK)
    assert schemas["SearchRequest"]["properties"]["query"]["pattern"] == NOT_BLANK
    # blank as the page's pattern says it is blank: U+001E is whitespace to str.strip()
    assert not re.search(NOT_BLANK, "\x1e \x85") and re.search(NOT_BLANK, "\ufeff")
    for payload in ({"question": " \n "}, {"question": "\x1e"}, {"question": "why " * limit}):
        assert client.post("/api/ask", json=payload).status_code == 422
    # no language model on this server: the page offers the extractive mode only
    assert schemas["AskRequest"]["properties"]["mode"]["enum"] == ["extractive"]
    assert client.post("/api/ask", json={"question": "q", "mode": "generate"}).status_code == 422
