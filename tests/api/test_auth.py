"""The API key: writes need it when set; reads only with api_key_reads."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from newsqa.api.factory import create_app
from tests.api.conftest import KEY
from tests.support import open_service

DOC = [{"title": "Key test", "text": "A short article used to test the API key check."}]


def test_writes_need_the_key(keyed: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {KEY}"}):
        r = keyed.post("/api/articles", json=DOC, headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert "API key" in r.json()["detail"]
        assert keyed.delete("/api/articles/x", headers=headers).status_code == 401
    ok = keyed.post("/api/articles", json=DOC, headers={"Authorization": f"Bearer {KEY}"})
    assert ok.status_code == 200 and ok.json()["added"] == 1
    aid = ok.json()["items"][0]["id"]
    gone = keyed.delete(f"/api/articles/{aid}", headers={"Authorization": f"Bearer {KEY}"})
    assert gone.status_code == 200


def test_reads_stay_open_by_default(keyed: TestClient) -> None:
    assert keyed.get("/api/articles").status_code == 200
    assert keyed.post("/api/search", json={"query": "safety"}).status_code == 200
    assert keyed.post("/api/ask", json={"question": "Who collapsed?"}).status_code == 200
    assert keyed.get("/v1/models").status_code == 200


def test_api_key_reads_protects_reads_but_not_health(tmp_path: Path) -> None:
    svc = open_service(tmp_path / "index", api__key=KEY, api__key_reads=True,
                       embedding__embedder="hash")
    try:
        with TestClient(create_app(svc)) as c:
            assert c.get("/api/articles").status_code == 401
            assert c.post("/api/ask", json={"question": "q"}).status_code == 401
            assert c.post("/v1/chat/completions", json={
                "messages": [{"role": "user", "content": "q"}]}).status_code == 401
            auth = {"Authorization": f"Bearer {KEY}"}
            assert c.get("/api/articles", headers=auth).status_code == 200
            assert c.get("/api/health").status_code == 200
            assert c.get("/").status_code == 200
    finally:
        svc.close()


def _keyless_status(c: TestClient, method: str, path: str) -> int:
    """The status of a request without the key (and with an empty body: the key is checked
    first)."""
    url = path.replace("{article_id}", "x").replace("{model_id}", "newsqa")
    url = url.replace("{watch_id}", "0" * 32)  # a watch's id is 32 hex digits
    url = re.sub(r"\{\w+\}", "x", url)
    return c.request(method, url, json=None).status_code


@pytest.mark.parametrize("settings", [
    {}, {"api__key": KEY}, {"api__key": KEY, "api__key_reads": True},
])
def test_the_page_says_which_operations_need_the_key(
    tmp_path: Path, settings: dict[str, Any]
) -> None:
    """Issue 20: reads were documented as needing the key, which they do not unless
    NEWSQA_API__KEY_READS=1; each operation's security now says what the server does."""
    svc = open_service(tmp_path / "index", embedding__embedder="hash", **settings)
    try:
        with TestClient(create_app(svc)) as c:
            spec = c.get("/openapi.json").json()
            assert set(spec["components"]["securitySchemes"]) == {"HTTPBearer"}
            seen = 0
            for path, ops in spec["paths"].items():
                for method, op in ops.items():
                    if "security" not in op:
                        continue
                    seen += 1
                    required = {} not in op["security"]
                    assert {"HTTPBearer": []} in op["security"], (method, path)
                    refused = _keyless_status(c, method, path) == 401
                    assert required == refused, (method, path, op["security"])
            assert seen >= 9
            reads = spec["paths"]["/api/ask"]["post"]["security"]
            writes = spec["paths"]["/api/articles"]["post"]["security"]
            assert (reads == [{"HTTPBearer": []}]) == bool(settings.get("api__key_reads"))
            assert (writes == [{"HTTPBearer": []}]) == bool(settings.get("api__key"))
    finally:
        svc.close()
