"""A watched question follows a story as a feed publishes it, end to end: a real server
(``serve --follow``) polls a feed server on 127.0.0.1 that publishes a first report, then a
correction, then an unrelated item; the watch gets exactly two notices, each citing the right
new article, none for the unrelated item; its Atom feed reads back with feedparser; its webhook
receives the same notices; and a restart between the steps loses nothing."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from newsqa.testing.servers import running_server
from tests.feeds.server import FeedServer, rss
from tests.watch.story import QUESTION, Receiver

pytestmark = pytest.mark.slow

STEPS = [
    ("/news/report", "Engineering firm picked for Springfield bridge repair",
     "Springfield picked the engineering firm Acme Works to lead the repair of the Main Street "
     "bridge, the mayor said on Wednesday. The repair will take six months and cost 12 million "
     "dollars. Acme Works has repaired three bridges in the state.",
     "Wed, 06 Mar 2024 10:00:00 GMT"),
    ("/news/correction", "Beta Builders, not Acme Works, will lead Springfield bridge repair",
     "Springfield said on Thursday that Beta Builders, not Acme Works, will lead the repair of "
     "the Main Street bridge. An earlier report named the wrong firm. Beta Builders won the "
     "contract in February.", "Thu, 07 Mar 2024 10:00:00 GMT"),
    ("/news/bakery", "Bakery opens downtown",
     "A new bakery opened downtown on Friday, selling sourdough bread, pastries and coffee. "
     "The owners moved from Portland last year.", "Fri, 08 Mar 2024 10:00:00 GMT"),
]
BASE = [
    {"title": "City council approves budget", "text": "The city council of Springfield "
     "approved a budget of 40 million dollars on Monday. The vote was 7 to 2.",
     "url": "https://springfield.example/budget", "published_at": "2024-03-01"},
    {"title": "Local team wins cup", "text": "The Springfield Rovers won the regional football "
     "cup on Sunday, beating Shelbyville 2-1.", "url": "https://sports.example/cup",
     "published_at": "2024-03-02"},
]
WAIT = 90.0


def _publish(feed: FeedServer, steps: int) -> None:
    items = [{"title": t, "link": feed.url(path), "content": text, "date": date}
             for path, t, text, date in STEPS[:steps]]
    feed.set("/feed.xml", rss(items, title="Springfield News"))


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[FeedServer, Receiver, Path, dict[str, str]]]:
    corpus = tmp_path / "base.jsonl"
    corpus.write_text("\n".join(json.dumps(d) for d in BASE))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "NEWSQA_FEEDS__ALLOW_HOSTS": "127.0.0.1", "NEWSQA_FEEDS__HOST_INTERVAL": "0",
           "NEWSQA_FEEDS__INTERVAL": "1", "NEWSQA_WATCH__WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
           "NEWSQA_WATCH__CHECK_SECONDS": "1", "NEWSQA_WATCH__WEBHOOK_BACKOFF": "1"}
    for name in ("NEWSQA_API__KEY", "NEWSQA_API_KEY"):
        env.pop(name, None)
    hook = Receiver()
    with FeedServer() as feed:
        _publish(feed, 0)
        yield feed, hook, corpus, env
    hook.close()


def _until(what: str, probe: Any, limit: float = WAIT) -> Any:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        got = probe()
        if got:
            return got
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _notices(url: str, watch_id: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{url}/api/watches/{watch_id}", timeout=10)
    r.raise_for_status()
    notices: list[dict[str, Any]] = r.json()["notices"]
    return notices


def test_story_in_three_steps(setup: tuple[FeedServer, Receiver, Path, dict[str, str]],
                              tmp_path: Path) -> None:
    feedparser = pytest.importorskip("feedparser")
    feed, hook, corpus, env = setup
    index = tmp_path / "index"
    follow = ["--follow", feed.url("/feed.xml")]
    with running_server(index, [str(corpus)], env=env, serve_args=follow) as (_, url):
        made = httpx.post(f"{url}/api/watches", timeout=30,
                          json={"question": QUESTION, "webhook": hook.url})
        assert made.status_code == 201, made.text
        watch = made.json()
        assert watch["answered"] is False  # nothing on the bridge yet
        _publish(feed, 1)
        (first,) = _until("the first notice", lambda: _notices(url, watch["id"]))
        assert [c["url"] for c in first["citations"]] == [feed.url(STEPS[0][0])]
        assert "Acme Works" in first["text"]
    # a restart between the steps: the watch, its notice and its watermark are kept
    with running_server(index, env=env, serve_args=follow) as (_, url):
        assert [n["id"] for n in _notices(url, watch["id"])] == [first["id"]]
        _publish(feed, 2)
        newest = _until("the second notice",
                        lambda: [n for n in _notices(url, watch["id"]) if n["seq"] == 2])[0]
        assert [c["url"] for c in newest["citations"]] == [feed.url(STEPS[1][0])]
        assert "Beta Builders" in newest["text"]
        _publish(feed, 3)
        _until("the bakery article", lambda: httpx.get(
            f"{url}/api/articles", params={"limit": 50}, timeout=10).json()["total"] == 5)
        time.sleep(3)  # checks run every second: give one the chance to be wrong
        notices = _notices(url, watch["id"])
        assert [n["seq"] for n in notices] == [2, 1]
        atom = feedparser.parse(httpx.get(f"{url}/api/watches/{watch['id']}/feed.xml",
                                          timeout=10).content)
        assert not atom.bozo, atom.get("bozo_exception")
        assert len(atom.entries) == 2
        for notice, (path, *_) in ((newest, STEPS[1]), (first, STEPS[0])):
            (entry,) = [e for e in atom.entries if notice["id"] in e.id]
            assert feed.url(path) in entry.content[0].value
        _until("both webhook deliveries", lambda: len(hook.posts) >= 2)
    got = sorted((body for _, body in hook.posts), key=lambda b: b["notice"]["seq"])
    assert [b["notice"]["id"] for b in got] == [first["id"], newest["id"]]
    assert len(hook.posts) == 2
