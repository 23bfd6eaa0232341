"""What a server exposes, by the address it listens on (issue 39): keyless writes refused on a
non-loopback address unless NEWSQA_API__OPEN_WRITES says so, the Host header checked (DNS
rebinding), the index directory kept out of /api/health, and an upload's records capped."""

from __future__ import annotations

import gzip
import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from newsqa.api import server as api_server
from newsqa.api.exposure import host_name, is_loopback
from newsqa.api.factory import create_app
from tests.api.conftest import KEY
from tests.support import NEWS, open_service

DOC = [{"title": "Exposure test", "text": "A short article used to test who may write."}]
AUTH = {"Authorization": f"Bearer {KEY}"}


@contextmanager
def client(
    tmp_path: Path, bind: str | None, base_url: str = "http://testserver", **settings: Any
) -> Iterator[TestClient]:
    svc = open_service(tmp_path / "index", embedding__embedder="hash", **settings)
    svc.ingest_records(list(NEWS[:1]))
    try:
        with TestClient(create_app(svc, bind), base_url=base_url) as c:
            yield c
    finally:
        svc.close()


def _writes(c: TestClient, headers: dict[str, str] | None = None) -> list[int]:
    return [
        c.post("/api/articles", json=DOC, headers=headers).status_code,
        c.delete("/api/articles/nothing-here", headers=headers).status_code,
        c.post("/api/feeds", json={"url": "https://example.org/feed"},
               headers=headers).status_code,
    ]


def test_keyless_writes_are_refused_on_a_public_address(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The container served 0.0.0.0 without a key: DELETE 200, POST /api/feeds 201, silently."""
    with caplog.at_level(logging.WARNING, logger="newsqa.api"), \
            client(tmp_path, "0.0.0.0") as c:
        assert _writes(c) == [403, 403, 403]
        r = c.delete("/api/articles/x")
        assert "NEWSQA_API__KEY" in r.json()["detail"]
        assert "NEWSQA_API__OPEN_WRITES" in r.json()["detail"]
        assert c.get("/api/articles").status_code == 200  # reads stay open
        assert c.post("/api/search", json={"query": "volcano"}).status_code == 200
    assert any("WRITES ARE REFUSED" in rec.getMessage() for rec in caplog.records)


def test_open_writes_is_an_explicit_choice_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="newsqa.api"), \
            client(tmp_path, "::", api__open_writes=True) as c:
        post, delete, _ = _writes(c)
        assert (post, delete) == (200, 404)
    assert any("WRITES ARE OPEN TO ANYONE" in rec.getMessage() for rec in caplog.records)


def test_a_key_opens_writes_on_a_public_address(tmp_path: Path) -> None:
    with client(tmp_path, "0.0.0.0", api__key=KEY) as c:
        assert _writes(c) == [401, 401, 401]
        post, delete, _ = _writes(c, AUTH)
        assert (post, delete) == (200, 404)


def test_a_loopback_server_keeps_keyless_writes(tmp_path: Path) -> None:
    with client(tmp_path, "127.0.0.1", base_url="http://127.0.0.1:8000") as c:
        post, delete, _ = _writes(c)
        assert (post, delete) == (200, 404)


def test_serve_tells_the_app_and_its_workers_the_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    ran: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: ran.append((app, kw)))
    monkeypatch.setattr(api_server, "start_warming", lambda svc: None)
    svc = open_service(tmp_path / "index", embedding__embedder="hash")
    try:
        api_server.serve(svc, "0.0.0.0", 8000)
        assert ran[0][0].state.exposure.writes_refused
        seen: dict[str, str | None] = {}
        monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(
            bind=api_server.os.environ.get(api_server.BIND_ENV)))
        api_server.serve(svc, "0.0.0.0", 8000, workers=2)  # closes the service
        assert seen["bind"] == "0.0.0.0"
        assert api_server.BIND_ENV not in api_server.os.environ
    finally:
        svc.close()


@pytest.mark.parametrize(("bind", "settings", "headers", "shown"), [
    ("0.0.0.0", {}, {}, False),
    ("0.0.0.0", {"api__key": KEY}, {}, False),
    ("0.0.0.0", {"api__key": KEY}, AUTH, True),
    ("127.0.0.1", {}, {}, True),
    ("127.0.0.1", {"api__key": KEY, "api__key_reads": True}, {}, False),
    ("127.0.0.1", {"api__key": KEY, "api__key_reads": True}, AUTH, True),
])
def test_health_shows_the_index_directory_only_to_whom_may_read(
    tmp_path: Path, bind: str, settings: dict[str, Any], headers: dict[str, str], shown: bool
) -> None:
    with client(tmp_path, bind, base_url="http://localhost", **settings) as c:
        r = c.get("/api/health", headers=headers)
        assert r.status_code == 200
        body = r.json()
        assert body["articles"] == 1
        assert (body["index"] is not None) == shown
        assert (str(tmp_path) in r.text) == shown


@pytest.mark.parametrize(("host", "status"), [
    ("localhost:8000", 200), ("127.0.0.1:8000", 200), ("[::1]:8000", 200), ("LOCALHOST.", 200),
    ("rebind.attacker.example", 400), ("rebind.attacker.example:8000", 400), ("", 400),
])
def test_a_loopback_server_answers_only_loopback_names(
    tmp_path: Path, host: str, status: int
) -> None:
    """DNS rebinding: a page at rebind.attacker.example, resolving to 127.0.0.1, could read and
    write through the visitor's browser."""
    with client(tmp_path, "127.0.0.1", base_url="http://127.0.0.1:8000") as c:
        r = c.get("/api/articles", headers={"host": host})
        assert r.status_code == status, r.text
        if status == 400:
            assert "NEWSQA_API__ALLOWED_HOSTS" in r.json()["detail"]
            assert r.headers["x-content-type-options"] == "nosniff"


def test_allowed_hosts_names_the_server(tmp_path: Path) -> None:
    with client(tmp_path, "0.0.0.0", api__allowed_hosts=["News.Example.org"],
                api__key=KEY) as c:
        assert c.get("/api/health", headers={"host": "news.example.org:443"}).status_code == 200
        assert c.get("/api/health", headers={"host": "127.0.0.1:8000"}).status_code == 200
        assert c.get("/api/health", headers={"host": "other.example"}).status_code == 400
    with client(tmp_path / "any", "0.0.0.0") as c:  # a public address, no list: any name
        assert c.get("/api/health", headers={"host": "other.example"}).status_code == 200


def test_names_and_addresses() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "", "192.168.1.2", "example.org"]))
    assert [host_name(h) for h in ("[::1]:80", "Example.ORG:8000", "a.example.", "::1")] == [
        "::1", "example.org", "a.example", "::1"]


def _jsonl_gz(lines: int) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb") as gz:
        gz.write(b"{}\n" * lines)
    return buf.getvalue()


def test_an_upload_is_read_up_to_its_record_limit(tmp_path: Path) -> None:
    """A 196 KB .jsonl.gz expanding to 67M lines ran 650 s: reading stops at the limit."""
    with client(tmp_path, None, api__max_upload_records=50) as c:
        r = c.post("/api/articles", files={
            "file": ("bomb.jsonl.gz", _jsonl_gz(200_000), "application/gzip")})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["skipped"] == 51  # 50 empty lines and the rest of the file
        assert "more than 50 records" in body["problems"][-1]["reason"]
        assert body["problems"][-1]["path"] == "upload"
        many = [{"title": f"t{i}", "text": f"Article number {i} of a long list."}
                for i in range(60)]
        r = c.post("/api/articles", json=many)
        assert r.json()["added"] == 50
        assert "more than 50 records" in r.json()["problems"][0]["reason"]
