"""A watch's Atom feed (:mod:`newsqa.watch.feed`): it reads back with feedparser (titles, links,
ids, dates, content), and no text a feed or an article can carry breaks the XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import feedparser

from newsqa.records import Citation, Filters, Segment
from newsqa.watch.feed import ATOM_NS, atom, notice_title
from newsqa.watch.records import Notice, Watch

BASE = "http://127.0.0.1:8000/"
WATCH_ID = "0123456789abcdef0123456789abcdef"


def _watch(question: str = "Which firm will lead the bridge repair?") -> Watch:
    return Watch(WATCH_ID, "local", question, Filters(), 1_700_000_000.0, 10)


def _citation(n: int, title: str, url: str | None, source: str | None = "news.example") -> Citation:
    return Citation(n, f"a{n}", n, url, title, source, "2024-03-04", "quote", "passage")


def _notice(seq: int, kind: str, text: str, citations: list[Citation]) -> Notice:
    return Notice(f"n{seq:031d}", WATCH_ID, seq, 1_700_000_000.0 + 3600 * seq, kind,  # type: ignore[arg-type]
                  text, [Segment(text, [c.n for c in citations])], citations)


def test_the_feed_reads_back_with_feedparser() -> None:
    first = _notice(1, "first", "Acme Works will lead the repair. [1]",
                    [_citation(1, "Firm picked for bridge repair", "https://a.example/bridge")])
    second = _notice(2, "new", "Beta Builders, not Acme Works, will lead it. [1]",
                     [_citation(1, "Correction: Beta Builders", "https://b.example/fix",
                                "b.example")])
    body = atom(_watch(), [second, first], BASE)
    assert body.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    feed = feedparser.parse(body)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.title == "newsqa watch: Which firm will lead the bridge repair?"
    assert feed.feed.id == f"urn:newsqa:watch:{WATCH_ID}"
    links = {link.rel: link.href for link in feed.feed.links}
    assert links == {"self": f"http://127.0.0.1:8000/api/watches/{WATCH_ID}/feed.xml",
                     "alternate": f"http://127.0.0.1:8000/?watch={WATCH_ID}"}
    assert feed.feed.updated == "2023-11-15T00:13:20+00:00"  # the newest notice's time
    assert [e.id for e in feed.entries] == [f"urn:newsqa:notice:{second.id}",
                                           f"urn:newsqa:notice:{first.id}"]
    assert [e.title for e in feed.entries] == [
        "New evidence: Which firm will lead the bridge repair?",
        "First answer: Which firm will lead the bridge repair?"]
    assert feed.entries[0].title == notice_title(second, _watch().question)
    newest = feed.entries[0]
    assert newest.link == f"http://127.0.0.1:8000/?watch={WATCH_ID}"
    assert (newest.updated, feed.entries[1].updated) == (
        "2023-11-15T00:13:20+00:00", "2023-11-14T23:13:20+00:00")
    assert newest.tags[0].term == "new"
    content = newest.content[0]
    assert content.type == "text/html"
    assert "Beta Builders, not Acme Works, will lead it. [1]" in content.value
    assert '<a href="https://b.example/fix">Correction: Beta Builders</a>' in content.value
    assert "(b.example, 2024-03-04)" in content.value


def test_a_watch_without_notices_is_a_valid_empty_feed() -> None:
    feed = feedparser.parse(atom(_watch(), [], "https://news.example.org"))
    assert not feed.bozo and feed.entries == []
    assert feed.feed.updated == "2023-11-14T22:13:20+00:00"  # the watch's creation
    assert feed.feed.links[0].href == f"https://news.example.org/api/watches/{WATCH_ID}/feed.xml"


HOSTILE = ("]]> <script>alert(1)</script> &amp; &nope; \x00\x01\x08\x0b\x0c\x1b\x1f "
           "\ud800 \ufffe\uffff <![CDATA[ x ]]> \"quotes\" 'single' </content></entry>")


def test_hostile_text_keeps_the_document_well_formed() -> None:
    cites = [_citation(1, HOSTILE, "javascript:alert(1)", HOSTILE),
             _citation(2, "Plain", 'https://x.example/?a=1&b="2"<3>'),
             _citation(3, "No link", None, None)]
    notice = _notice(1, "withdrawn", HOSTILE, cites)
    body = atom(_watch(HOSTILE), [notice], BASE + HOSTILE)
    root = ET.fromstring(body)  # a strict parser: any stray character would fail here
    entry = root.find(f"{{{ATOM_NS}}}entry")
    assert entry is not None
    html = entry.findtext(f"{{{ATOM_NS}}}content") or ""
    assert "<script>" not in html and "&lt;script&gt;" in html  # text stays text in the HTML
    assert 'href="javascript:' not in html  # only http(s) URLs become links
    assert 'href="https://x.example/?a=1&amp;b=&quot;2&quot;&lt;3&gt;"' in html
    assert "[3] No link (2024-03-04)</li>" in html
    feed = feedparser.parse(body)
    assert not feed.bozo, feed.get("bozo_exception")
    title = feed.entries[0].title
    assert title.startswith("A cited article changed: ]]> <script>alert(1)</script>")
    assert not any(ch in title for ch in "\x00\x01\x1b\ufffe")
