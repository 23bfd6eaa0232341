"""Polling feeds from a real server on 127.0.0.1 into a real (hash-embedder) index."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from newsqa.feeds.status import follower_state
from newsqa.feeds.store import FeedStore
from tests.feeds.conftest import Followed
from tests.feeds.server import FeedServer, http_date, page, rss, words
from tests.support import index_counts

Follow = Callable[..., Followed]


def items(srv: FeedServer, n: int, start: int = 0, teaser: bool = False) -> list[dict[str, str]]:
    """``n`` items with full text (or teasers whose pages are served)."""
    out = []
    for i in range(start, start + n):
        link = srv.url(f"/news/{i}")
        if teaser:
            srv.set(f"/news/{i}", page(f"Story {i}", words(250, i)), content_type="text/html")
            out.append({"title": f"Story {i}", "link": link, "description": f"Teaser {i}."})
        else:
            out.append({"title": f"Story {i}", "link": link, "content": words(200, i)})
    return out


def test_new_items_arrive_with_the_pages_of_teasers(srv: FeedServer, follow: Follow) -> None:
    srv.set("/feed.xml", rss(items(srv, 2) + items(srv, 2, start=2, teaser=True)))
    svc, store, poller = follow(srv.url("/feed.xml"))
    (res,) = poller.poll_all()
    assert (res.status, res.added, res.pages, res.problems) == ("ok", 4, 2, [])
    assert svc.stats()["articles"] == 4
    text = svc.article(srv.url("/news/3"))["text"]
    assert text.startswith(words(250, 3)[:40])  # the page's text, not the teaser
    (feed,) = store.list()
    assert (feed.items_added, feed.items_seen, feed.last_status, feed.title) == (
        4, 4, "ok", "Test news")
    # More items later: only they are fetched and added.
    srv.set("/feed.xml", rss(items(srv, 2, start=4, teaser=True) + items(srv, 2) +
                             items(srv, 2, start=2, teaser=True)))
    (res,) = poller.poll_all()
    assert (res.added, res.new_items, res.pages) == (2, 2, 2)
    assert srv.hits("/news/2") == 1 and svc.stats()["articles"] == 6


def test_a_304_costs_no_work(srv: FeedServer, follow: Follow) -> None:
    srv.set("/etag.xml", rss(items(srv, 2, teaser=True)), etag='"v1"')
    srv.set("/lm.xml", rss(items(srv, 1, start=5)), last_modified=http_date(1.7e9))
    svc, store, poller = follow(srv.url("/etag.xml"), srv.url("/lm.xml"))
    assert [r.added for r in poller.poll_all()] == [2, 1]
    generation, requests = svc.index.generation, len(srv.requests)
    ingest = svc.ingest_records
    svc.ingest_records = lambda *a, **k: pytest.fail("a 304 must not ingest")  # type: ignore[method-assign]
    try:
        results = poller.poll_all()
    finally:
        svc.ingest_records = ingest  # type: ignore[method-assign]
    assert [r.status for r in results] == ["not modified", "not modified"]
    assert srv.headers_of("/etag.xml")[-1]["If-None-Match"] == '"v1"'
    assert srv.headers_of("/lm.xml")[-1]["If-Modified-Since"] == http_date(1.7e9)
    assert len(srv.requests) == requests + 2  # the two feeds: no page, no robots.txt
    assert svc.index.generation == generation
    assert all(f.last_status == "not modified" and f.polls == 2 for f in store.list())


def test_an_unchanged_document_without_validators_ingests_nothing(
    srv: FeedServer, follow: Follow
) -> None:
    srv.set("/feed.xml", rss(items(srv, 2, teaser=True)))
    svc, _, poller = follow(srv.url("/feed.xml"))
    poller.poll_all()
    generation = svc.index.generation
    (res,) = poller.poll_all()
    assert (res.status, res.new_items, res.pages) == ("ok", 0, 0)
    assert svc.index.generation == generation


def test_a_changed_article_is_updated_not_duplicated(srv: FeedServer, follow: Follow) -> None:
    feed = items(srv, 3)
    srv.set("/feed.xml", rss(feed), etag='"v1"')
    svc, store, poller = follow(srv.url("/feed.xml"))
    poller.poll_all()
    feed[1]["content"] = "Correction: " + words(220, 99)
    srv.set("/feed.xml", rss(feed), etag='"v2"')
    (res,) = poller.poll_all()
    assert (res.added, res.updated, res.new_items) == (0, 1, 1)
    assert index_counts(svc.index.path)[0] == 3 and svc.stats()["articles"] == 3
    assert svc.article(srv.url("/news/1"))["text"].startswith("Correction:")
    assert store.list()[0].items_updated == 1


def test_a_malformed_feed_is_reported_and_the_others_go_on(
    srv: FeedServer, follow: Follow
) -> None:
    srv.set("/bad.xml", "<html><body>This is not a feed", content_type="text/html")
    srv.set("/good.xml", rss(items(srv, 2)))
    svc, store, poller = follow(srv.url("/bad.xml"), srv.url("/good.xml"))
    bad, good = poller.poll_all()
    assert bad.status == "error" and "not an RSS, Atom or JSON feed" in (bad.error or "")
    assert good.status == "ok" and good.added == 2
    first = store.get(srv.url("/bad.xml"))
    assert first is not None and first.errors == 1 and first.last_success is None
    assert "not an RSS" in (first.last_error or "")
    srv.set("/bad.xml", rss(items(srv, 1, start=7)))  # fixed: the next poll takes it
    bad, _ = poller.poll_all()
    assert bad.status == "ok" and bad.added == 1 and svc.stats()["articles"] == 3


def test_a_slow_server_is_cut_off(srv: FeedServer, follow: Follow) -> None:
    srv.set("/slow.xml", rss(items(srv, 1)), delay=3.0)
    srv.set("/feed.xml", rss(items(srv, 1, start=1, teaser=True)))
    srv.set("/news/1", page("Story 1", words(250, 1)), content_type="text/html", delay=3.0)
    svc, store, poller = follow(srv.url("/slow.xml"), srv.url("/feed.xml"), feeds__timeout=0.5)
    slow, teased = poller.poll_all()
    assert slow.status == "error" and "timed out after 0.5 s" in (slow.error or "")
    # A slow article page leaves its item pending (reported), tried again at the next poll.
    assert teased.status == "partial" and teased.pending == 1 and teased.added == 0
    assert "timed out" in teased.problems[0]
    assert store.seen(srv.url("/feed.xml")) == {}
    srv.set("/news/1", page("Story 1", words(250, 1)), content_type="text/html")
    _, teased = poller.poll_all()  # it waits its back-off
    assert (teased.added, teased.pending, srv.hits("/news/1")) == (0, 1, 1)
    poller.clock = lambda: time.time() + 3600
    _, teased = poller.poll_all()
    assert (teased.status, teased.added, teased.pending) == ("ok", 1, 0)


def test_a_body_past_the_cap_is_refused(srv: FeedServer, follow: Follow) -> None:
    huge = rss([{"title": "Big", "link": srv.url("/big"), "content": words(40_000)}])
    srv.set("/huge.xml", huge)
    srv.set("/streamed.xml", huge, chunked=True)
    srv.set("/feed.xml", rss(items(srv, 1, start=3)))
    _, _, poller = follow(srv.url("/huge.xml"), srv.url("/streamed.xml"), srv.url("/feed.xml"),
                          feeds__max_bytes=50_000)
    declared, streamed, ok = poller.poll_all()
    assert declared.status == "error" and "the limit is 50,000" in (declared.error or "")
    assert streamed.status == "error" and "over the 50,000-byte limit" in (streamed.error or "")
    assert ok.added == 1


def test_a_redirect_loop_is_reported(srv: FeedServer, follow: Follow) -> None:
    srv.set("/loop.xml", status=302, headers={"Location": "/loop2.xml"})
    srv.set("/loop2.xml", status=302, headers={"Location": "/loop.xml"})
    srv.set("/moved.xml", status=301, headers={"Location": "/feed.xml"})
    srv.set("/feed.xml", rss(items(srv, 1)))
    _, _, poller = follow(srv.url("/loop.xml"), srv.url("/moved.xml"))
    loop, moved = poller.poll_all()
    assert loop.status == "error" and "redirect loop" in (loop.error or "")
    assert moved.status == "ok" and moved.added == 1


def test_robots_txt_refusal(srv: FeedServer, follow: Follow) -> None:
    srv.set("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    srv.set("/private/1", page("Hidden", words(250, 1)), content_type="text/html")
    srv.set("/news/2", page("Open", words(250, 2)), content_type="text/html")
    srv.set("/feed.xml", rss([
        {"title": "Hidden", "link": srv.url("/private/1"), "description": "The feed's teaser."},
        {"title": "Open", "link": srv.url("/news/2"), "description": "Another teaser."},
    ]))
    svc, store, poller = follow(srv.url("/feed.xml"))
    (res,) = poller.poll_all()
    assert srv.hits("/private/1") == 0 and srv.hits("/news/2") == 1
    assert res.status == "partial" and res.added == 2 and res.pending == 0
    assert "robots.txt disallows" in res.problems[0]
    assert svc.article(srv.url("/private/1"))["text"] == "The feed's teaser."
    assert "robots.txt disallows" in (store.list()[0].last_error or "")
    (res,) = poller.poll_all()  # handled: not tried again until the item changes
    assert res.new_items == 0 and srv.hits("/private/1") == 0


def test_feeds_added_over_http_may_not_reach_this_machine(
    srv: FeedServer, follow: Follow
) -> None:
    srv.set("/feed.xml", rss(items(srv, 1)))
    _, store, poller = follow(srv.url("/feed.xml"), added_by="api", feeds__allow_hosts="")
    by_name = srv.url("/feed.xml").replace("127.0.0.1", "localhost")
    store.add(by_name, "api")  # a name is checked on the addresses it resolves to
    ip, name = poller.poll_all()
    assert ip.status == "error" and "loopback" in (ip.error or "")
    assert name.status == "error" and "resolves to a loopback address" in (name.error or "")
    assert srv.hits("/feed.xml") == 0
    # 127.0.0.1 on the allow-list: both feeds (one index, one store) reach the one article
    _, _, allowed = follow(srv.url("/feed.xml"), added_by="api")
    assert sum(r.added for r in allowed.poll_all()) == 1


def test_a_poll_that_dies_after_a_commit_loses_and_repeats_nothing(
    srv: FeedServer, follow: Follow, monkeypatch: pytest.MonkeyPatch
) -> None:
    srv.set("/feed.xml", rss(items(srv, 3) + items(srv, 4, start=3, teaser=True)), etag='"v1"')
    svc, store, poller = follow(srv.url("/feed.xml"), feeds__batch_items=2)
    real = svc.ingest_records
    calls = 0

    def dies_after_the_second_commit(*args: Any, **kw: Any) -> Any:
        nonlocal calls
        calls += 1
        report = real(*args, **kw)
        if calls == 2:  # committed to the index, not yet recorded as seen
            raise RuntimeError("killed")
        return report

    monkeypatch.setattr(svc, "ingest_records", dies_after_the_second_commit)
    (res,) = poller.poll_all()
    assert res.status == "error" and svc.stats()["articles"] == 4
    assert len(store.seen(srv.url("/feed.xml"))) == 2
    # The validators were kept with the items still to do: the next poll gets a 304 and
    # still does those items.
    assert store.list()[0].etag == '"v1"' and store.list()[0].items_pending == 5
    monkeypatch.setattr(svc, "ingest_records", real)
    (res,) = poller.poll_all()
    assert srv.headers_of("/feed.xml")[-1]["If-None-Match"] == '"v1"'
    assert (res.status, res.added, res.unchanged, res.pending) == ("ok", 3, 2, 0)
    assert index_counts(svc.index.path)[0] == 7
    assert len(store.seen(srv.url("/feed.xml"))) == 7 and store.list()[0].etag == '"v1"'


def test_wire_copies_are_collapsed(srv: FeedServer, follow: Follow) -> None:
    text = words(220, 42)
    srv.set("/a.xml", rss([{"title": "Storm", "link": srv.url("/a/1"), "content": text}]))
    srv.set("/b.xml", rss([{"title": "Storm", "link": srv.url("/b/1"), "content": text}]))
    svc, _, poller = follow(srv.url("/a.xml"), srv.url("/b.xml"))
    assert [r.added for r in poller.poll_all()] == [1, 1]
    stats = svc.stats()
    assert (stats["articles"], stats["stories"]) == (2, 1)


def test_run_loop_polls_when_due_and_stops(srv: FeedServer, follow: Follow) -> None:
    import threading

    srv.set("/feed.xml", rss(items(srv, 1)))
    _, store, poller = follow(srv.url("/feed.xml"))
    poller.poll_all()  # a one-off poll is no follower
    assert follower_state(store)["active"] is False
    store.add(srv.url("/other.xml"), "cli")  # added while following: picked up
    srv.set("/other.xml", rss(items(srv, 1, start=1)))
    thread = threading.Thread(target=poller.run)
    thread.start()
    try:
        for _ in range(100):  # bounded: 10 s
            if store.get(srv.url("/other.xml")).last_poll:  # type: ignore[union-attr]
                break
            poller.stop.wait(0.1)
        assert follower_state(FeedStore(store.path.parent))["active"] is True
    finally:
        poller.stop.set()
        thread.join(10)
    assert not thread.is_alive()
    assert [f.items_added for f in store.list()] == [1, 1]
    assert srv.hits("/feed.xml") == 1  # not due again within its interval
    state = follower_state(store)
    assert state["active"] is False and state["last_seen"] is not None
