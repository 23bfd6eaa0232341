"""Fixtures of the feed tests: a real HTTP server on 127.0.0.1 and a hash-embedder service."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from newsqa.feeds import FeedStore, Poller
from newsqa.service import NewsQA
from tests.feeds.server import FeedServer
from tests.support import open_service

Followed = tuple[NewsQA, FeedStore, Poller]
#: The feed address guard admits the test servers on 127.0.0.1 through its allow-list.
FAST = {"embedding__embedder": "hash", "feeds__host_interval": 0.0, "feeds__timeout": 2.0,
        "feeds__allow_hosts": "127.0.0.1"}


@pytest.fixture
def srv() -> Iterator[FeedServer]:
    """A feed server of this test's own (stopped at the end)."""
    with FeedServer() as server:
        yield server


@pytest.fixture
def make_service(tmp_path: Path) -> Iterator[Callable[..., NewsQA]]:
    """Open a hash-embedder service on a fresh index (settings may be overridden); all are
    closed at the end."""
    opened: list[NewsQA] = []

    def make(name: str = "index", **settings: Any) -> NewsQA:
        svc = open_service(tmp_path / name, **{**FAST, **settings})
        opened.append(svc)
        return svc

    yield make
    for svc in opened:
        svc.close()


@pytest.fixture
def follow(make_service: Callable[..., NewsQA]) -> Iterator[Callable[..., Followed]]:
    """``follow(url, ..., added_by="cli", **settings)``: a service, its feed store with the URLs
    added, and a poller over them."""
    made: list[Poller] = []

    def make(*urls: str, added_by: str = "cli", **settings: Any) -> Followed:
        svc = make_service(**settings)
        store = FeedStore(svc.index.path)
        for url in urls:
            store.add(url, added_by)
        poller = Poller(svc, store)
        made.append(poller)
        return svc, store, poller

    yield make
    for p in made:
        p.close()
        p.store.close()
