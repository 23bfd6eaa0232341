"""Issue 39 (7, 8 and two low ones): hostile feeds against a real server on 127.0.0.1. A poll
is bounded in time and pages, a failing item backs off and is given up (and shown), feeds are
polled side by side, validators are kept while items are pending, a bad item spoils nothing
else, links are http(s) only, and items are credited to the feed's name."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from newsqa.cli import main
from newsqa.feeds.status import feeds_status
from tests.feeds.conftest import Followed
from tests.feeds.server import FeedServer, page, rss, words

Follow = Callable[..., Followed]


def teasers(
    srv: FeedServer, n: int, prefix: str = "/news", **route: Any
) -> list[dict[str, str]]:
    """``n`` teaser items whose pages are served with ``route`` (a delay, a status…)."""
    out = []
    for i in range(n):
        srv.set(f"{prefix}/{i}", page(f"Story {i}", words(250, i)), content_type="text/html",
                **route)
        out.append({"title": f"Story {i}", "link": srv.url(f"{prefix}/{i}"),
                    "description": f"Teaser {i}."})
    return out


def test_a_poll_ends_within_its_time_budget_and_the_rest_waits(
    srv: FeedServer, follow: Follow
) -> None:
    """Before: 10 hanging pages cost 10 x the request timeout in one poll."""
    srv.set("/feed.xml", rss(teasers(srv, 10, delay=4.0)))
    _, store, poller = follow(srv.url("/feed.xml"), feeds__timeout=1.0, feeds__poll_seconds=2.0,
                              feeds__item_backoff=0)
    t0 = time.monotonic()
    (res,) = poller.poll_all()
    took = time.monotonic() - t0
    assert took < 2.0 + 1.0 + 1.5, took  # the budget, plus the request under way
    assert res.pending == 10 and res.deferred >= 6 and res.added == 0, res
    assert store.list()[0].items_pending == 10  # left for the next poll, not lost


def test_the_page_budget_leaves_items_for_the_next_poll(srv: FeedServer, follow: Follow) -> None:
    srv.set("/feed.xml", rss(teasers(srv, 5)))
    svc, store, poller = follow(srv.url("/feed.xml"), feeds__poll_pages=2, feeds__batch_items=1)
    (res,) = poller.poll_all()
    assert (res.added, res.pages, res.pending, res.deferred) == (2, 2, 3, 3)
    assert "3 pending (3 left for the next poll" in res.line()
    assert [r.added for r in poller.poll_all()] == [2]
    assert [r.added for r in poller.poll_all()] == [1]
    assert svc.stats()["articles"] == 5 and store.list()[0].items_pending == 0


def test_the_follower_works_through_a_backlog_soon(
    srv: FeedServer, follow: Follow, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("newsqa.feeds.poll.BACKLOG_S", 0.1)
    monkeypatch.setattr("newsqa.feeds.poll.TICK_S", 0.1)
    srv.set("/feed.xml", rss(teasers(srv, 3)))
    svc, store, poller = follow(srv.url("/feed.xml"), feeds__poll_pages=1, feeds__batch_items=1)
    thread = threading.Thread(target=poller.run)
    thread.start()
    try:
        for _ in range(100):  # bounded: 10 s, though the feed's interval is 900 s
            if store.list()[0].items_added == 3:
                break
            poller.stop.wait(0.1)
    finally:
        poller.stop.set()
        thread.join(10)
    assert store.list()[0].items_added == 3 and store.list()[0].polls == 3


def test_a_failing_item_backs_off_then_is_given_up_and_shown(
    srv: FeedServer, follow: Follow, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: a failed item was fetched again at every poll, for ever."""
    items = teasers(srv, 1, status=503) + teasers(srv, 1, prefix="/gone", status=404)
    srv.set("/feed.xml", rss(items))
    svc, store, poller = follow(srv.url("/feed.xml"), feeds__item_attempts=3,
                                feeds__item_backoff=60)
    now = [time.time()]
    poller.clock = lambda: now[0]
    (res,) = poller.poll_all()
    assert (res.pending, res.given_up, srv.hits("/news/0"), srv.hits("/gone/0")) == (1, 1, 1, 1)
    assert any("HTTP 503 (try 1 of 3)" in p for p in res.problems)
    assert any("HTTP 404; given up after 1 try" in p for p in res.problems)  # never readable
    steps = [(0, 1), (61, 2), (61, 2), (120, 3), (10_000, 3)]  # back-off 60 s, then 120 s
    for wait, hits in steps:
        now[0] += wait
        (res,) = poller.poll_all()
        assert srv.hits("/news/0") == hits, (wait, hits)
    assert srv.hits("/gone/0") == 1
    (feed,) = store.list()
    assert (feed.items_pending, feed.items_given_up) == (0, 2)
    # Given up, the feed's own text is the article.
    assert svc.article(srv.url("/news/0"))["text"] == "Teaser 0."  # type: ignore[index]
    (state,) = feeds_status(store, 900)["feeds"]
    assert state["items_given_up"] == 2
    assert {g["item"]: (g["error"], g["failures"]) for g in state["given_up"]} == {
        srv.url("/news/0"): ("HTTP 503", 3), srv.url("/gone/0"): ("HTTP 404", 1)}
    assert main(["--index", str(svc.index.path), "feeds"]) == 0
    out = capsys.readouterr().out
    assert "0 item(s) pending, 2 given up" in out
    assert f"{srv.url('/news/0')}: HTTP 503 (3 tries)" in out


def test_a_changed_item_is_tried_afresh(srv: FeedServer, follow: Follow) -> None:
    items = teasers(srv, 1, status=410)
    srv.set("/feed.xml", rss(items))
    svc, store, poller = follow(srv.url("/feed.xml"))
    assert poller.poll_all()[0].given_up == 1 and store.list()[0].items_given_up == 1
    poller.poll_all()
    assert srv.hits("/news/0") == 1
    srv.set("/news/0", page("Story 0", words(250, 0)), content_type="text/html")
    items[0]["title"] = "Story 0, updated"
    srv.set("/feed.xml", rss(items))
    (res,) = poller.poll_all()
    assert (res.updated, res.given_up, srv.hits("/news/0")) == (1, 0, 2)
    assert store.list()[0].items_given_up == 0


def test_validators_are_kept_while_items_are_pending(srv: FeedServer, follow: Follow) -> None:
    """Before: validators were saved only when nothing was pending, so a feed with a failing
    item never got a 304."""
    srv.set("/feed.xml", rss(teasers(srv, 1, delay=3.0)), etag='"v1"')
    _, store, poller = follow(srv.url("/feed.xml"), feeds__timeout=1.0)
    (res,) = poller.poll_all()
    assert res.pending == 1 and store.list()[0].etag == '"v1"'
    (res,) = poller.poll_all()
    assert srv.headers_of("/feed.xml")[-1]["If-None-Match"] == '"v1"'
    assert res.status == "not modified" and store.list()[0].items_pending == 1


def test_a_feed_is_polled_while_another_hangs(srv: FeedServer, follow: Follow) -> None:
    """Before: feeds were polled one after another, so one hanging server held up all."""
    srv.set("/slow.xml", rss(teasers(srv, 1, prefix="/slow", delay=2.5)))
    srv.set("/fast.xml", rss(teasers(srv, 1, prefix="/fast")))
    _, store, poller = follow(srv.url("/slow.xml"), srv.url("/fast.xml"), feeds__timeout=6.0)
    slow, fast = poller.poll_all()
    assert slow.added == fast.added == 1
    by_url = {f.url: f.last_poll or 0 for f in store.list()}
    assert by_url[srv.url("/fast.xml")] < by_url[srv.url("/slow.xml")] - 1.0
    # The follow loop too: the fast feed is polled again while the slow one still hangs.
    srv.set("/slow.xml", rss(teasers(srv, 2, prefix="/slow", delay=4.0)))
    srv.set("/fast.xml", rss(teasers(srv, 2, prefix="/fast")))
    poller.interval = 0.1
    thread = threading.Thread(target=poller.run)
    thread.start()
    try:
        for _ in range(50):  # bounded: 5 s
            fast_feed = store.get(srv.url("/fast.xml"))
            if fast_feed and fast_feed.items_added == 2:
                break
            poller.stop.wait(0.1)
        slow_feed = store.get(srv.url("/slow.xml"))
        assert fast_feed and fast_feed.items_added == 2
        assert slow_feed and slow_feed.items_added == 1  # still on its hanging page
    finally:
        poller.stop.set()
        thread.join(15)
    assert not thread.is_alive()


@pytest.mark.parametrize("kind", ["rss", "json"])
def test_a_lone_surrogate_spoils_no_other_item(
    srv: FeedServer, follow: Follow, kind: str
) -> None:
    """Before: UnicodeEncodeError, and the whole poll failed at every try."""
    if kind == "rss":
        body = rss([
            {"title": "Bad &#xD800; one", "link": srv.url("/a"), "content": words(150, 1)},
            {"title": "Good", "link": srv.url("/b"), "content": words(150, 2)},
        ]).encode()
        ctype = "application/rss+xml"
    else:
        body = ('{"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": ['
                f'{{"id": "a\\ud800", "url": "{srv.url("/a")}", "title": "Bad \\ud800",'
                f'"content_text": "{words(150, 1)}"}},'
                f'{{"id": "b", "url": "{srv.url("/b")}", "content_text": "{words(150, 2)}"}}]}}'
                ).encode()
        ctype = "application/feed+json"
    srv.set("/feed", body, content_type=ctype)
    svc, store, poller = follow(srv.url("/feed"))
    (res,) = poller.poll_all()
    assert (res.status, res.added) == ("ok", 2), res
    bad = svc.article(srv.url("/a"))
    assert bad is not None and bad["title"] == "Bad \ufffd" + (" one" if kind == "rss" else "")
    assert len(store.seen(srv.url("/feed"))) == 2


def test_only_http_links_are_stored_and_the_outlet_is_the_feeds_name(
    srv: FeedServer, follow: Follow
) -> None:
    srv.set("/feed.xml", rss([
        {"title": "Script", "link": "javascript:alert(1)", "guid": "s1",
         "description": "A short item whose link is a script."},
        {"title": "Data", "link": "data:text/html,<script>x</script>", "guid": "d1",
         "description": "Another short item."},
        {"title": "Real", "link": srv.url("/real"), "content": words(150, 3)},
    ], title="Harbour Gazette"))
    svc, store, poller = follow(srv.url("/feed.xml"))
    (res,) = poller.poll_all()
    assert res.added == 3 and res.status == "partial"
    assert sum("is not an http(s) URL" in p for p in res.problems) == 2
    assert poller.poll_all()[0].status == "ok"  # reported once, when the item is new
    with store._lock:  # noqa: SLF001 - the article ids the poll recorded
        ids = [r[0] for r in store._db.execute("SELECT article_id FROM items")]  # noqa: SLF001
    urls = {svc.article(i)["url"] for i in ids}  # type: ignore[index]
    assert urls == {None, srv.url("/real")}
    real = svc.article(srv.url("/real"))
    assert real is not None and real["source"] == "Harbour Gazette"  # issue 38: not 127.0.0.1
    assert json.dumps(res.to_dict())


def test_an_item_ingest_cannot_build_is_given_up_alone(
    srv: FeedServer, follow: Follow, monkeypatch: pytest.MonkeyPatch
) -> None:
    import newsqa.feeds.poll as poll

    real = poll.build_article

    def build(fields: dict[str, Any], **kw: Any) -> Any:
        if fields.get("title") == "Story 0":
            raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
        return real(fields, **kw)

    monkeypatch.setattr(poll, "build_article", build)
    srv.set("/feed.xml", rss(teasers(srv, 2)))
    svc, store, poller = follow(srv.url("/feed.xml"))
    (res,) = poller.poll_all()
    assert (res.status, res.added, res.given_up) == ("partial", 1, 1)
    assert "cannot be read (UnicodeEncodeError); given up" in res.problems[0]
    assert store.list()[0].items_given_up == 1 and poller.poll_all()[0].new_items == 0
