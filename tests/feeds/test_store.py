"""The feed list and poll state file."""

from __future__ import annotations

from pathlib import Path

from newsqa.feeds.store import FeedStore, feed_id


def test_add_remove_and_state(tmp_path: Path) -> None:
    store = FeedStore(tmp_path)
    feed, new = store.add("https://a.example.com/rss", "api", 120)
    assert new and feed.interval == 120 and feed.added_by == "api" and feed.last_poll is None
    _, again = store.add("https://a.example.com/rss", "cli")
    assert not again and store.get(feed_id("https://a.example.com/rss")) is not None
    store.commit_items(feed.url, [("k1", "fp1", "id1"), ("k2", "fp2", None)], 1, 1)
    store.commit_items(feed.url, [("k1", "fp1b", "id1")], 0, 1)
    assert store.seen(feed.url) == {"k1": "fp1b", "k2": "fp2"}
    store.record_poll(feed.url, "ok", None, title="A", validators=('"e1"', None))
    store.record_poll(feed.url, "error", "boom")
    got = store.get(feed.url)
    assert got is not None
    assert (got.etag, got.title, got.polls, got.errors, got.last_error) == ('"e1"', "A", 2, 1,
                                                                           "boom")
    assert (got.items_added, got.items_updated, got.items_seen) == (1, 2, 2)
    assert got.last_success is not None and got.last_status == "error"
    # Another process sees the same state.
    other = FeedStore(tmp_path)
    assert [f.url for f in other.list()] == [feed.url]
    assert store.remove(feed.id) == feed.url and store.seen(feed.url) == {}
    assert other.list() == [] and store.remove(feed.url) is None
    other.close()
    store.close()


def test_items_of_a_removed_feed_are_not_recorded(tmp_path: Path) -> None:
    store = FeedStore(tmp_path)
    store.add("https://a.example.com/rss", "cli")
    store.remove("https://a.example.com/rss")
    store.commit_items("https://a.example.com/rss", [("k", "fp", None)], 1, 0)  # a late poll
    assert store.seen("https://a.example.com/rss") == {}
    store.close()
