"""The HTTP API over a PostgreSQL catalogue (issue 39): an id (or an outlet) with a NUL byte
is no article (404, as with SQLite, not a 500), and while the database is down requests fail
fast with a 503 that names no server, user or database, and /metrics still answers."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from newsqa.api.factory import create_app
from newsqa.index.catalogue.postgres.connect import POOL_TIMEOUT
from newsqa.settings import get_settings
from newsqa.testing.servers import postgres_server
from tests.support import NEWS, open_service

pytestmark = pytest.mark.usefixtures("postgres_url")


def test_an_id_with_a_nul_byte_is_no_article(tmp_path: Path, catalog_url: str) -> None:
    svc = open_service(tmp_path / "index", embedding__embedder="hash",
                       index__catalog_url=catalog_url)
    try:
        svc.ingest_records(list(NEWS[:1]))
        with TestClient(create_app(svc)) as c:
            assert c.get("/api/articles/x%00y").status_code == 404
            assert c.delete("/api/articles/x%00y").status_code == 404
            assert c.get("/api/articles").json()["total"] == 1
            listed = c.get("/api/articles", params={"source": "x\x00y"})
            assert listed.status_code == 200 and listed.json()["total"] == 0
    finally:
        svc.close()


def test_a_database_that_is_down_fails_fast_and_names_nothing(tmp_path: Path) -> None:
    assert get_settings().index.catalog_pool_timeout == POOL_TIMEOUT <= 5
    with postgres_server() as url:
        svc = open_service(tmp_path / "index", embedding__embedder="hash",
                           index__catalog_url=f"{url}?schema=down",
                           index__catalog_pool_timeout=1.0)
        svc.ingest_records(list(NEWS[:1]))
    try:  # the server is stopped now
        with TestClient(create_app(svc)) as c:
            for _ in range(3):  # a broken pooled connection, then waits for the pool
                started = time.monotonic()
                r = c.get("/api/articles")
                assert time.monotonic() - started < 4, "held for the pool"
                assert r.status_code == 503
                assert r.json()["detail"] == "the catalogue database is unavailable"
                assert "127.0.0.1" not in r.text and "postgres" not in r.text
                assert r.headers["retry-after"]
            m = c.get("/metrics")
            assert m.status_code == 200
            assert "newsqa_catalogue_up 0" in m.text
            assert "newsqa_http_requests_total" in m.text
    finally:
        svc.close()
