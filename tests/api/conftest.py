"""Fixtures for the HTTP API tests: services on tiny indexes, driven by TestClient.

Every service here uses the hash embedder (exact, no model load) except ``real_client``, the one
contract test's service on the real model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from newsqa.api.factory import create_app
from newsqa.service import NewsQA
from tests.support import NEWS, REPO, open_service

KEY = "secret"
KOREA = "Korea-US Alliance vs. Japan-US Alliance"


def sse_events(text: str) -> list[tuple[str, Any]]:
    """Parse a Server-Sent Events body into (event, data) pairs."""
    out = []
    for block in text.strip().split("\n\n"):
        event, data = "message", []
        for line in block.splitlines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        out.append((event, json.loads("\n".join(data))))
    return out


def _build(index: Path, **settings: object) -> NewsQA:
    svc = open_service(index, **settings)
    report = svc.ingest([REPO / "corpus"])
    assert report.added == 1, report.to_dict()
    assert svc.ingest_records(list(NEWS)).added == len(NEWS)
    return svc


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NewsQA]:
    """A read-only hash-embedder service: the bundled corpus plus a few hand-written articles."""
    svc = _build(tmp_path_factory.mktemp("api-index"), embedding__embedder="hash")
    yield svc
    svc.close()


@pytest.fixture(scope="session")
def real_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A client over the same articles on the real model (for the one contract test)."""
    svc = _build(tmp_path_factory.mktemp("api-real-index"))
    with TestClient(create_app(svc)) as c:
        yield c
    svc.close()


@pytest.fixture(scope="session")
def client(service: NewsQA) -> Iterator[TestClient]:
    """A client over the shared read-only service (tests must not write through it)."""
    with TestClient(create_app(service)) as c:
        yield c


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[tuple[TestClient, NewsQA]]:
    """A client over a service of its own, for tests that add or delete articles."""
    svc = open_service(tmp_path / "index", api__max_upload_bytes=50_000, embedding__embedder="hash")
    svc.ingest_records(list(NEWS))
    with TestClient(create_app(svc)) as c:
        yield c, svc
    svc.close()


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[TestClient]:
    """A client over a service that has an API key (reads stay open)."""
    svc = open_service(tmp_path / "index", api__key=KEY, embedding__embedder="hash")
    svc.ingest_records(list(NEWS[:1]))
    with TestClient(create_app(svc)) as c:
        yield c
    svc.close()
