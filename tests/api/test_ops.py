"""Health, metrics, OpenAPI docs and the static web files."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from newsqa import __version__
from newsqa.api.schemas import Health
from newsqa.service import NewsQA
from tests.support import SEED_QUESTION


def test_health(client: TestClient, service: NewsQA) -> None:
    h = Health.model_validate(client.get("/api/health").json())
    assert h.status == "ok" and h.version == __version__
    stats = service.stats()
    assert (h.articles, h.chunks) == (4, stats["chunks"]) and stats["chunks"] > 4
    assert h.model == "newsqa/hash-embedder" and h.index == str(service.settings.index.path)


def test_metrics_count_requests_per_route_and_status(fresh: tuple[TestClient, NewsQA]) -> None:
    client, _ = fresh  # an app of its own: the counts are exact
    client.post("/api/ask", json={"question": SEED_QUESTION})
    client.post("/api/ask", json={"question": ""})
    client.get("/api/articles/nope")
    client.get("/no/such/page")
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    for status in (200, 422):
        assert f'requests_total{{method="POST",route="/api/ask",status="{status}"}} 1' in text
    assert ('newsqa_http_requests_total{method="GET",route="/api/articles/{article_id:path}",'
            'status="404"} 1') in text
    assert 'newsqa_http_requests_total{method="GET",route="unmatched",status="404"} 1' in text
    assert "# TYPE newsqa_http_request_duration_seconds histogram" in text
    assert ('newsqa_http_request_duration_seconds_bucket{method="POST",route="/api/ask",'
            'status="200",le="+Inf"} 1') in text
    assert ('newsqa_http_request_duration_seconds_count{method="POST",route="/api/ask",'
            'status="422"}') in text
    assert re.search(r"^newsqa_index_articles 3$", text, re.M)
    assert re.search(r"^newsqa_index_chunks 3$", text, re.M)
    for line in text.splitlines():  # every sample line is `name{labels} value`
        assert line.startswith("#") or re.fullmatch(r"[a-z_]+(\{.*\})? [0-9.e+-]+", line), line


def test_openapi_documents_every_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    expected = {
        ("/api/ask", "post"), ("/api/ask/stream", "post"), ("/api/search", "post"),
        ("/api/articles", "get"), ("/api/articles", "post"), ("/api/articles/{article_id}", "get"),
        ("/api/articles/{article_id}", "delete"), ("/api/health", "get"), ("/metrics", "get"),
        ("/v1/chat/completions", "post"), ("/v1/models", "get"), ("/v1/models/{model_id}", "get"),
        ("/", "get"), ("/api/feeds", "get"), ("/api/feeds", "post"),
        ("/api/feeds/{feed}", "delete"), ("/api/watches", "get"), ("/api/watches", "post"),
        ("/api/watches/events", "get"), ("/api/watches/{watch_id}", "get"),
        ("/api/watches/{watch_id}", "delete"), ("/api/watches/{watch_id}/read", "post"),
        ("/api/watches/{watch_id}/feed.xml", "get"),
    }
    seen = {(p, m) for p, ops in spec["paths"].items() for m in ops}
    assert seen == expected
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op.get("summary"), (path, method)
            assert op.get("description"), (path, method)
    ask = spec["paths"]["/api/ask"]["post"]["requestBody"]["content"]["application/json"]
    assert ask["examples"]["seed"]["value"]["question"] == SEED_QUESTION
    post = spec["paths"]["/api/articles"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(post)
    answer = spec["components"]["schemas"]["Answer"]
    assert answer["examples"]
    assert answer["properties"]["segments"]["items"] == {"$ref": "#/components/schemas/Segment"}
    assert set(spec["components"]["schemas"]["Segment"]["properties"]) == {
        "text", "citations", "lead", "span", "quotes", "flag"}
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/openapi.json" in docs.text


def test_docs_assets_are_local_when_fastapi_offline_is_installed(client: TestClient) -> None:
    pytest.importorskip("fastapi_offline", reason="fastapi-offline not installed: /docs uses a CDN")
    docs = client.get("/docs").text
    assert "cdn" not in docs and "/docs-static/swagger-ui-bundle.js" in docs
    assert client.get("/docs-static/swagger-ui-bundle.js").status_code == 200
    assert "cdn" not in client.get("/redoc").text


def test_chat_page_and_assets(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for needle in ('id="question"', 'id="ask"', 'id="sources"', "/static/app.js",
                   'name="viewport"'):
        assert needle in page.text
    assert '<script src="/static/sse.js" defer></script>' in page.text
    for asset in ("/static/app.js", "/static/sse.js", "/static/cards.js", "/static/watch.js"):
        js = client.get(asset)
        assert js.status_code == 200 and "javascript" in js.headers["content-type"]
        assert "innerHTML" not in js.text.replace("never as HTML", "")
    # the page runs under default-src 'self': no inline script, style or event handler
    assert not re.search(r"<script>|<style|\sstyle=|\son[a-z]+=", page.text)
    assert client.get("/static/style.css").status_code == 200
    assert "http://" not in page.text and "https://" not in page.text, "no CDN: all local"
