"""``newsqa follow``, ``newsqa feeds`` and a follower killed mid-poll."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from newsqa.cli import main
from tests.feeds.server import FeedServer, page, rss, words
from tests.support import hash_env, newsqa_command


@pytest.fixture(autouse=True)
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model-free embedder, no per-host wait, the test server on the guard's allow-list."""
    monkeypatch.setenv("NEWSQA_EMBEDDING__EMBEDDER", "hash")
    monkeypatch.setenv("NEWSQA_FEEDS__HOST_INTERVAL", "0")
    monkeypatch.setenv("NEWSQA_FEEDS__ALLOW_HOSTS", "127.0.0.1")


def feed(srv: FeedServer, n: int, path: str = "/feed.xml", delay: float = 0.0) -> str:
    """Serve a feed of ``n`` teasers whose pages are served (each after ``delay``)."""
    entries = []
    for i in range(n):
        srv.set(f"/news/{i}", page(f"Story {i}", words(250, i)), content_type="text/html",
                delay=delay)
        entries.append({"title": f"Story {i}", "link": srv.url(f"/news/{i}"),
                        "description": f"Teaser {i}."})
    srv.set(path, rss(entries), etag='"v1"')
    return srv.url(path)


def test_follow_once_then_feeds(
    srv: FeedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = feed(srv, 3)
    idx = str(tmp_path / "idx")
    assert main(["--index", idx, "follow", url, "--once", "--interval", "60"]) == 0
    assert "1 feed(s) polled: 3 added, 0 updated, 0 not modified, 0 with problems" in (
        capsys.readouterr().out)
    assert main(["--index", idx, "follow", "--once", "--json"]) == 0  # the stored list
    (res,) = json.loads(capsys.readouterr().out)
    assert res["status"] == "not modified"
    assert main(["--index", idx, "feeds", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["feeds"]
    assert (row["url"], row["items_added"], row["interval"], row["added_by"]) == (url, 3, 60,
                                                                                  "cli")
    assert main(["--index", idx, "feeds"]) == 0
    out = capsys.readouterr().out
    assert url in out and "3 added" in out and "follower: not running" in out
    assert main(["--index", idx, "stats", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["articles"] == 3
    assert main(["--index", idx, "feeds", "--remove", row["id"]]) == 0
    assert "no feeds followed" in capsys.readouterr().out
    assert main(["--index", idx, "feeds", "--remove", row["id"]]) == 1


def test_follow_reports_bad_input(
    srv: FeedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    idx = str(tmp_path / "idx")
    assert main(["--index", idx, "follow", "ftp://example.com/feed", "--once"]) == 5
    assert "http:// or https://" in capsys.readouterr().err
    assert main(["--index", idx, "follow", "--once"]) == 5
    assert "no feeds to follow" in capsys.readouterr().err
    urls = tmp_path / "feeds.txt"
    urls.write_text(f"# my feeds\n\n{feed(srv, 1)}\n{srv.url('/missing.xml')}\n")
    assert main(["--index", idx, "follow", "--file", str(urls), "--once"]) == 3
    out = capsys.readouterr().out
    assert "2 feed(s) polled: 1 added" in out and "1 with problems" in out
    assert main(["--index", str(tmp_path / "nothing"), "feeds"]) == 2


def test_json_logs(srv: FeedServer, tmp_path: Path) -> None:
    env = hash_env(log__format="json", feeds__host_interval="0", feeds__allow_hosts="127.0.0.1")
    proc = subprocess.run(
        newsqa_command(tmp_path / "idx", "follow", srv.url("/missing.xml"), "--once"),
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 3, proc.stderr
    lines = [json.loads(line) for line in proc.stderr.splitlines()]
    (poll,) = [r for r in lines if r["logger"] == "newsqa.feeds"]
    assert poll["level"] == "WARNING" and poll["status"] == "error" and "HTTP 404" in poll[
        "message"]
    assert poll["feed"] == srv.url("/missing.xml") and poll["time"].endswith("+00:00")


def _articles(index: Path) -> list[tuple[str, str, str]]:
    db = sqlite3.connect(index / "news.sqlite")
    try:
        return sorted(db.execute("SELECT id, url, content_hash FROM articles").fetchall())
    finally:
        db.close()


def _seen(index: Path) -> list[tuple[str, str]]:
    db = sqlite3.connect(index / "feeds.sqlite")
    try:
        return sorted(db.execute("SELECT key, fingerprint FROM items").fetchall())
    finally:
        db.close()


@pytest.mark.slow
def test_sigkill_during_polls_then_a_restart_gives_the_articles_of_a_clean_run(
    srv: FeedServer, tmp_path: Path
) -> None:
    n = 24
    url = feed(srv, n, delay=0.05)
    env = hash_env(feeds__host_interval="0", feeds__batch_items="3",
                   feeds__allow_hosts="127.0.0.1")

    def pages() -> int:
        return sum(1 for p, _ in srv.requests if p.startswith("/news/"))

    def follow_once(index: Path, kill_after: int | None = None) -> int | None:
        start = pages()
        proc = subprocess.Popen(newsqa_command(index, "follow", url, "--once"), env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if kill_after is None:
            return proc.wait(timeout=120)
        deadline = time.monotonic() + 60
        while pages() - start < kill_after and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.kill()  # SIGKILL: no handler runs
        proc.wait(timeout=30)
        return None

    clean, killed = tmp_path / "clean", tmp_path / "killed"
    assert follow_once(clean) == 0
    follow_once(killed, kill_after=5)  # a batch committed, the next one being fetched
    partial = len(_articles(killed))
    assert 0 < partial < n
    follow_once(killed, kill_after=7)
    assert follow_once(killed) == 0
    assert len(_articles(clean)) == n
    assert _articles(killed) == _articles(clean)
    assert _seen(killed) == _seen(clean)
