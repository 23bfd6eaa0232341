"""Issue 39 (9): a feed URL's secrets (userinfo, token-like query values) are shown nowhere:
not in ``/metrics`` (which also follows the read-key rule), ``/api/feeds``, the command line,
poll log lines, stored errors or the articles' origin."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from newsqa.api.factory import create_app
from newsqa.cli import main
from newsqa.feeds import FeedStore, Poller
from newsqa.feeds.redact import redact_text, redact_url
from tests.feeds.server import FeedServer, rss, words
from tests.support import open_service

KEY = "k" * 32
SECRETS = ("hunter2", "s3cr3t", "t0k3n", "alice")


@pytest.mark.parametrize("url, shown", [
    ("http://alice:hunter2@news.example/feed", "http://***@news.example/feed"),
    ("https://t0k3n@news.example/feed", "https://***@news.example/feed"),
    ("https://news.example/rss?apikey=s3cr3t&lang=en", "https://news.example/rss?apikey=***&lang=en"),
    ("https://news.example/rss?lang=en&token=a&key=b&password=c&client_secret=d&sig=e",
     "https://news.example/rss?lang=en&token=***&key=***&password=***&client_secret=***&sig=***"),
    ("https://news.example/rss?X-Amz-Signature=abc&page=2",
     "https://news.example/rss?X-Amz-Signature=***&page=2"),
    ("https://news.example/rss#access_token=xyz", "https://news.example/rss#access_token=***"),
    ("https://news.example/rss?lang=en", "https://news.example/rss?lang=en"),  # unchanged
    ("http://[::1:80/x?key=1", "http://[::1:80/x?key=1"),  # unparsable: left as it is
    ("http://u:p@[bad/x", "http://***@[bad/x"),
])
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_text() -> None:
    text = "HTTP 404 from http://alice:hunter2@h.example/f?token=t0k3n; 'https://h.example/?key=1'"
    assert redact_text(text) == (
        "HTTP 404 from http://***@h.example/f?token=***; 'https://h.example/?key=***'")


@pytest.fixture
def secret_feeds(srv: FeedServer, tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """Two feeds with secrets in their URLs, polled once: one good, one answering 404."""
    srv.set("/feed.xml?apikey=s3cr3t", rss([{"title": "A", "link": srv.url("/a"),
                                             "content": words(150, 1)}]))
    base = srv.url("").replace("http://", "http://alice:hunter2@")
    good, bad = base + "/feed.xml?apikey=s3cr3t", base + "/missing.xml?token=t0k3n"
    index = tmp_path / "index"
    yield good, bad, index


def _poll(index: Path, *urls: str, **settings: object) -> None:
    svc = open_service(index, embedding__embedder="hash", feeds__host_interval=0.0,
                       feeds__allow_hosts="127.0.0.1", **settings)
    store = FeedStore(svc.index.path)
    for url in urls:
        store.add(url, "cli")
    poller = Poller(svc, store)
    try:
        good, bad = poller.poll_all()
        assert good.added == 1 and bad.status == "error"
        for res in (good, bad):
            assert not any(s in res.line() + json.dumps(res.to_dict()) for s in SECRETS)
        origin = svc.article(good.url.split("/feed.xml")[0].replace("alice:hunter2@", "")
                             + "/a")
        assert origin is not None and "apikey=***" in origin["origin"]
        assert not any(s in origin["origin"] for s in SECRETS)
    finally:
        poller.close()
        store.close()
        svc.close()


def test_poll_logs_results_and_origins_show_no_secret(
    secret_feeds: tuple[str, str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    good, bad, index = secret_feeds
    with caplog.at_level(logging.INFO, logger="newsqa.feeds"):
        _poll(index, good, bad)
    logged = "\n".join(r.getMessage() + str(getattr(r, "feed", "")) for r in caplog.records)
    assert "missing.xml?token=***" in logged and "***@" in logged
    assert not any(s in logged for s in SECRETS), logged
    (_, row) = FeedStore(index).list()
    assert row.last_error and "HTTP 404" in row.last_error
    assert not any(s in row.last_error for s in SECRETS)


def test_api_and_metrics_show_no_secret_and_metrics_need_the_read_key(
    secret_feeds: tuple[str, str, Path]
) -> None:
    good, bad, index = secret_feeds
    _poll(index, good, bad)
    auth = {"Authorization": f"Bearer {KEY}"}
    for reads_keyed in (False, True):
        svc = open_service(index, embedding__embedder="hash", api__key=KEY,
                           api__key_reads=reads_keyed)
        try:
            with TestClient(create_app(svc)) as client:
                assert client.get("/metrics").status_code == (401 if reads_keyed else 200)
                metrics = client.get("/metrics", headers=auth).text
                listed = client.get("/api/feeds", headers=auth).text
                added = client.post("/api/feeds", headers=auth, json={
                    "url": "https://news.example/x?sig=s3cr3t&pw=pw9"}).text
                refused = client.post("/api/feeds", headers=auth, json={
                    "url": "http://alice:hunter2@127.0.0.1:9/x"}).text  # no userinfo here
                feed_id = json.loads(added)["id"]
                deleted = client.delete(f"/api/feeds/{feed_id}", headers=auth).text
        finally:
            svc.close()
        assert metrics.count("feed=") >= 4 and 'apikey=***' in metrics
        for shown in (metrics, listed, added, refused, deleted):
            assert not any(s in shown for s in (*SECRETS, "pw9")), shown
        assert "https://news.example/x?sig=***&pw=***" in added + deleted


def test_the_command_line_shows_no_secret(
    secret_feeds: tuple[str, str, Path], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    good, bad, index = secret_feeds
    monkeypatch.setenv("NEWSQA_EMBEDDING__EMBEDDER", "hash")
    monkeypatch.setenv("NEWSQA_FEEDS__HOST_INTERVAL", "0")
    monkeypatch.setenv("NEWSQA_FEEDS__ALLOW_HOSTS", "127.0.0.1")
    assert main(["--index", str(index), "feeds", "--add", good, "--add", bad]) == 0
    assert main(["--index", str(index), "follow", "--once", "--json"]) == 3
    assert main(["--index", str(index), "feeds"]) == 0
    assert main(["--index", str(index), "feeds", "--json"]) == 0
    assert main(["--index", str(index), "feeds", "--add", "ftp://alice:hunter2@x/"]) != 0
    out = capsys.readouterr()
    assert "apikey=***" in out.out and "***@127.0.0.1" in out.out
    assert not any(s in out.out + out.err for s in SECRETS), out
