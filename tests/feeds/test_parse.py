"""Feed documents into items: RSS 2.0, Atom, JSON Feed, and what is not a feed."""

from __future__ import annotations

import json

import pytest

from newsqa.feeds.parse import FeedError, parse_feed
from tests.feeds.server import rss, words

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Atom news</title><link href="https://atom.example.org/"/>
  <id>urn:feed</id><updated>2023-03-01T10:00:00Z</updated>
  <entry>
    <title>Bridge reopens</title><link href="https://atom.example.org/bridge"/>
    <id>urn:bridge</id><updated>2023-03-01T10:00:00Z</updated><published>2023-02-28T09:00:00Z</published>
    <author><name>Ana Ruiz</name></author>
    <content type="html">&lt;p&gt;{text}&lt;/p&gt;</content>
  </entry>
  <entry>
    <title>Short one</title><link href="https://atom.example.org/short"/>
    <id>urn:short</id><updated>2023-03-02T10:00:00Z</updated>
    <summary>Only a teaser.</summary>
  </entry>
</feed>"""


def test_rss_items_keys_and_full_text() -> None:
    doc = rss([
        {"title": "Full", "link": "https://n.example.com/1", "guid": "g1", "content": words(150)},
        {"title": "Teaser", "link": "https://n.example.com/2", "description": "Read more."},
    ])
    feed = parse_feed(doc.encode())
    assert feed.title == "Test news"
    assert [it.key for it in feed.items] == ["g1", "https://n.example.com/2"]
    full, teaser = feed.items
    assert full.full_text and not teaser.full_text
    assert full.fields["date"] == "2023-01-02" and full.fields["source"] == "Test news"
    assert teaser.url == "https://n.example.com/2"


def test_atom_entries() -> None:
    feed = parse_feed(ATOM.format(text=words(130)).encode())
    bridge, short = feed.items
    assert bridge.key == "urn:bridge" and bridge.full_text
    assert bridge.fields["date"] == "2023-02-28"
    assert [a["name"] for a in bridge.fields["authors"]] == ["Ana Ruiz"]
    assert short.fields["text"] == "Only a teaser." and not short.full_text


def test_json_feed_items() -> None:
    doc = {
        "version": "https://jsonfeed.org/version/1.1", "title": "JSON news",
        "home_page_url": "https://json.example.net/",
        "items": [
            {"id": "1", "url": "https://json.example.net/a", "title": "A",
             "content_html": f"<p>{words(130)}</p>", "date_published": "2023-04-01T08:00:00Z",
             "authors": [{"name": "Kim Lee"}]},
            {"id": 2, "url": "https://json.example.net/b", "summary": "Teaser"},
            "not an object",
        ],
    }
    feed = parse_feed(json.dumps(doc).encode(), "application/feed+json")
    a, b = feed.items
    assert feed.title == "JSON news"
    assert a.key == "1" and a.full_text and a.fields["date"] == "2023-04-01T08:00:00Z"
    assert a.fields["authors"] == ["Kim Lee"] and a.fields["source"] == "JSON news"
    assert b.key == "2" and not b.full_text and b.fields["text"] == "Teaser"


def test_fingerprint_follows_the_item() -> None:
    one = rss([{"title": "T", "link": "https://n.example.com/1", "content": "first text"}])
    two = rss([{"title": "T", "link": "https://n.example.com/1", "content": "second text"}])
    a, b = parse_feed(one.encode()).items[0], parse_feed(two.encode()).items[0]
    assert a.key == b.key and a.fingerprint != b.fingerprint
    assert parse_feed(one.encode()).items[0].fingerprint == a.fingerprint


@pytest.mark.parametrize("doc, reason", [
    (b"<html><body>Not a feed</body></html>", "not an RSS, Atom or JSON feed"),
    (b"\x00\x01garbage", "not an RSS, Atom or JSON feed"),
    (b'{"version": "1", "items": []}', "not a JSON feed"),
    (b"{broken json", "invalid JSON"),
    (b'{"version": "https://jsonfeed.org/version/1", "items": 3}', 'no "items" list'),
])
def test_not_a_feed(doc: bytes, reason: str) -> None:
    with pytest.raises(FeedError, match=reason):
        parse_feed(doc)


def test_a_lone_surrogate_is_cleaned_and_the_other_items_kept() -> None:
    """Issue 39 (7): a lone surrogate raised UnicodeEncodeError in the fingerprint, failing
    every poll of its feed; now the bad characters become U+FFFD (and NULs go)."""
    doc = rss([
        {"title": "Bad &#xD800; title", "link": "https://n.example.com/1", "guid": "g&#xDFFF;1",
         "content": "Text &amp;#55296; &#x110000; here\x00."},
        {"title": "Good", "link": "https://n.example.com/2", "content": words(150)},
    ], title="Chan&#xD800;nel")
    feed = parse_feed(doc.encode())
    bad, good = feed.items
    assert bad.fields["title"] == "Bad \ufffd title" and bad.key == "g\ufffd1"
    assert "\x00" not in bad.fields["text"] and good.fields["title"] == "Good"
    assert feed.title == "Chan\ufffdnel" and bad.fields["source"] == "Chan\ufffdnel"
    json_doc = ('{"version": "https://jsonfeed.org/version/1.1", "title": "J\\ud800",'
                '"items": [{"id": "a\\udc00", "url": "https://j.example.net/a",'
                '"title": "T\\ud800", "content_text": "x\\ud800y", "date_modified": "\\ud800",'
                '"authors": [{"name": "N\\ud800"}]},'
                '{"id": "b", "url": "https://j.example.net/b", "content_text": "fine"}]}')
    feed = parse_feed(json_doc.encode(), "application/feed+json")
    a, b = feed.items
    assert (a.key, a.fields["title"], a.fields["text"]) == ("a\ufffd", "T\ufffd", "x\ufffdy")
    assert a.fields["authors"] == ["N\ufffd"] and b.key == "b" and feed.title == "J\ufffd"
    for item in (a, b):  # each is storable
        item.fingerprint.encode("ascii")
        json.dumps(item.fields).encode("utf-8")


def test_fields_of_the_wrong_type_leave_out_one_item_at_most() -> None:
    doc = {"version": "https://jsonfeed.org/version/1.1", "items": [
        {"id": "1", "url": {"x": 1}, "title": ["a"], "content_text": "Kept without a link.",
         "date_published": 5, "authors": "nobody"},
        {"id": "2", "url": "https://j.example.net/2", "content_text": "fine"},
    ]}
    feed = parse_feed(json.dumps(doc).encode())
    one, two = feed.items
    assert one.url is None and one.fields["title"] is None and one.fields["date"] is None
    assert two.url == "https://j.example.net/2"


@pytest.mark.parametrize("link", [
    "javascript:alert(document.cookie)", "data:text/html;base64,PHNjcmlwdD4=",
    "file:///etc/passwd", "relative/path.html", "ftp://n.example.com/x",
])
def test_only_http_links_are_kept(link: str) -> None:
    """Issue 39 (low): feed items could store javascript: and data: URLs as article URLs."""
    doc = rss([{"title": "Odd", "link": link, "guid": "g1", "description": "A short text."},
               {"title": "Fine", "link": "https://n.example.com/2", "description": "Teaser."}])
    feed = parse_feed(doc.encode())
    odd, fine = feed.items
    assert odd.url is None and odd.full_text  # no page to fetch: the feed's text is the article
    assert fine.url == "https://n.example.com/2"
    assert odd.note and "is not an http(s) URL" in odd.note and "'Odd'" in odd.note
    assert fine.note is None and feed.problems == []
    json_doc = {"version": "https://jsonfeed.org/version/1", "items": [
        {"id": "1", "url": link, "content_text": "Some text."}]}
    (item,) = parse_feed(json.dumps(json_doc).encode()).items
    assert item.url is None


def test_the_outlet_is_the_feeds_title_else_its_host() -> None:
    """Issue 38: feed items got the outlet 127.0.0.1 (the host) instead of the feed's name."""
    item = {"title": "A", "link": "http://127.0.0.1:8000/a", "description": "Text."}
    titled = parse_feed(rss([item], title="  Harbour   Gazette ").encode())
    assert titled.items[0].fields["source"] == "Harbour Gazette"
    untitled = parse_feed(rss([item], title="", link="https://www.gazette.example/").encode())
    assert untitled.items[0].fields["source"] == "gazette.example"
    doc = {"version": "https://jsonfeed.org/version/1.1", "home_page_url": "https://j.example.net",
           "items": [{"id": "1", "content_text": "x"}]}
    assert parse_feed(json.dumps(doc).encode()).items[0].fields["source"] == "j.example.net"


def test_an_item_that_raises_is_left_out_and_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    import newsqa.feeds.parse as parse

    real = parse._json_item_fields

    def fields(entry: dict[str, object], source: str | None) -> dict[str, object]:
        if entry.get("id") == "boom":
            raise RecursionError("a field no reader expected")
        return real(entry, source)

    monkeypatch.setattr(parse, "_json_item_fields", fields)
    doc = {"version": "https://jsonfeed.org/version/1.1", "items": [
        {"id": "boom", "content_text": "x"}, {"id": "ok", "content_text": "kept"}]}
    feed = parse_feed(json.dumps(doc).encode())
    assert [it.key for it in feed.items] == ["ok"]
    assert feed.problems == ["item 1 left out: cannot be read (RecursionError)"]
