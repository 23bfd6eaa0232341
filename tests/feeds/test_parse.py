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
    assert full.fields["date"] == "2023-01-02" and full.fields["source"] == "news.example.com"
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
    assert a.fields["authors"] == ["Kim Lee"] and a.fields["source"] == "json.example.net"
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
