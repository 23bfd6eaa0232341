"""``/api/feeds`` and the feeds' ``/metrics`` series; ``serve --follow`` end to end."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from newsqa.api.factory import create_app
from newsqa.feeds import FeedStore, Poller
from newsqa.service import NewsQA
from tests.api.conftest import KEY
from tests.feeds.server import FeedServer, rss, words
from tests.support import hash_env, open_service, running_server


@pytest.fixture
def srv() -> Iterator[FeedServer]:
    """A feed server on 127.0.0.1."""
    with FeedServer() as server:
        yield server


def client_for(tmp_path: Path, **settings: object) -> tuple[TestClient, NewsQA]:
    svc = open_service(tmp_path / "index", embedding__embedder="hash", feeds__host_interval=0.0,
                       **settings)
    return TestClient(create_app(svc)), svc


def test_a_private_address_is_refused_with_422(tmp_path: Path, srv: FeedServer) -> None:
    client, svc = client_for(tmp_path)
    with client:
        for url in (srv.url("/feed.xml"), "http://localhost:9/rss", "http://169.254.169.254/"):
            r = client.post("/api/feeds", json={"url": url})
            assert r.status_code == 422, r.text
            assert "NEWSQA_FEEDS__ALLOW_HOSTS" in r.json()["detail"]
        for host in ("127.1", "2130706433", "0x7f000001", "0177.0.0.1", "127.000.000.001"):
            r = client.post("/api/feeds", json={"url": f"http://{host}:{srv.port}/feed.xml"})
            assert r.status_code == 422 and "loopback" in r.json()["detail"], (host, r.text)
        for url in ("ftp://example.com/feed", "http:///feed", "http://example.com:99999/"):
            r = client.post("/api/feeds", json={"url": url})
            assert r.status_code == 422 and "http:// or https:// URL" in r.json()["detail"], url
        assert client.post("/api/feeds", json={"url": "x", "every": 3}).status_code == 422
        assert client.get("/api/feeds").json()["feeds"] == []
    svc.close()


def test_add_list_poll_metrics_remove(tmp_path: Path, srv: FeedServer) -> None:
    srv.set("/feed.xml", rss([{"title": f"Story {i}", "link": srv.url(f"/news/{i}"),
                               "content": words(200, i)} for i in range(2)]))
    client, svc = client_for(tmp_path, feeds__allow_hosts="127.0.0.1")
    url = srv.url("/feed.xml")
    with client:
        r = client.post("/api/feeds", json={"url": url, "interval": 120})
        assert r.status_code == 201 and r.json()["interval"] == 120
        assert r.json()["added_by"] == "api" and r.json()["last_poll"] is None
        assert client.post("/api/feeds", json={"url": url}).status_code == 200
        listed = client.get("/api/feeds").json()
        assert [f["url"] for f in listed["feeds"]] == [url]
        assert listed["follower"]["active"] is False
        # A poll (what serve --follow runs), then the status and metrics show it.
        store = FeedStore(svc.index.path)
        poller = Poller(svc, store)
        assert poller.poll_all()[0].added == 2
        poller.close()
        store.close()
        listed = client.get("/api/feeds").json()
        (feed,) = listed["feeds"]
        assert (feed["last_status"], feed["items_added"], feed["last_error"]) == ("ok", 2, None)
        assert listed["last_success"] == feed["last_success"] is not None
        assert listed["articles"] == 2 and listed["latest_published"] == "2023-01-02"
        text = client.get("/metrics").text
        assert "newsqa_feeds 1" in text
        assert f'newsqa_feed_items_total{{feed="{url}",status="added"}} 2' in text
        assert f'newsqa_feed_up{{feed="{url}"}} 1' in text
        assert "newsqa_feed_last_success_timestamp_seconds{" in text
        assert client.delete(f"/api/feeds/{feed['id']}").json() == {"deleted": url}
        assert client.delete(f"/api/feeds/{url}").status_code == 404
        assert client.get("/api/feeds").json()["feeds"] == []
        assert client.get("/api/articles").json()["total"] == 2  # its articles stay
    svc.close()


def test_writes_need_the_key(tmp_path: Path) -> None:
    client, svc = client_for(tmp_path, api__key=KEY, feeds__allow_hosts="127.0.0.1")
    auth = {"Authorization": f"Bearer {KEY}"}
    body = {"url": "http://127.0.0.1:9/feed.xml"}
    with client:
        assert client.post("/api/feeds", json=body).status_code == 401
        assert client.post("/api/feeds", json=body, headers=auth).status_code == 201
        assert client.get("/api/feeds").status_code == 200  # reads stay open
        assert client.delete("/api/feeds/http://127.0.0.1:9/feed.xml").status_code == 401
        r = client.delete("/api/feeds/http://127.0.0.1:9/feed.xml", headers=auth)
        assert r.status_code == 200
    svc.close()


def test_serve_follow_keeps_the_archive_current(tmp_path: Path, srv: FeedServer) -> None:
    srv.set("/feed.xml", rss([{"title": "First", "link": srv.url("/news/1"),
                               "content": words(200, 1)}]), etag='"v1"')
    env = hash_env(feeds__host_interval="0", feeds__allow_hosts="127.0.0.1")
    with running_server(tmp_path / "idx", env=env, serve_args=["--follow", srv.url("/feed.xml")],
                        limit=120) as (_, url):
        listed = _wait(url, lambda d: d["feeds"] and d["feeds"][0]["items_added"] == 1)
        assert listed["follower"]["active"] is True
        # A feed added over HTTP is picked up by the running follower within seconds.
        srv.set("/other.xml", rss([{"title": "Second", "link": srv.url("/news/2"),
                                    "content": words(200, 2)}]))
        r = httpx.post(f"{url}/api/feeds", json={"url": srv.url("/other.xml")}, timeout=10)
        assert r.status_code == 201
        _wait(url, lambda d: len(d["feeds"]) == 2 and d["feeds"][1]["items_added"] == 1)
        assert httpx.get(f"{url}/api/health", timeout=10).json()["articles"] == 2


def _wait(url: str, done: Callable[[dict[str, Any]], Any], limit: float = 30.0) -> dict[str, Any]:
    """The ``/api/feeds`` body once ``done`` holds for it (bounded)."""
    deadline = time.monotonic() + limit
    data: dict[str, Any] = {}
    while time.monotonic() < deadline:
        data = httpx.get(f"{url}/api/feeds", timeout=10).json()
        if done(data):
            return data
        time.sleep(0.2)
    raise AssertionError(f"not reached in {limit} s: {data}")
