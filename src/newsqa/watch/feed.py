"""A watch's notices as an Atom 1.0 feed (RFC 4287), for any feed reader to subscribe to
(``GET /api/watches/{id}/feed.xml``).

:func:`atom` is a pure function of the watch, its notices and the server's base URL. The XML is
written by :mod:`xml.etree.ElementTree`, which escapes every text and attribute; what XML 1.0
cannot hold at all (control characters, lone surrogates, U+FFFE/U+FFFF) is taken out of every
string first, so no article text, title or question can break the document. Each entry's
content is HTML (``type="html"``, itself escaped as text): the notice's sentences with their
``[n]`` markers, then the articles they cite, each linked only when its URL is http(s).
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from urllib.parse import quote

from newsqa.records import Citation
from newsqa.watch.records import Notice, NoticeKind, Watch, iso

ATOM_NS = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml"
#: How each kind of notice is titled.
KIND_TITLES: dict[NoticeKind, str] = {
    "first": "First answer",
    "new": "New evidence",
    "withdrawn": "A cited article changed",
}
#: What XML 1.0 cannot carry: C0 controls but tab, newline and carriage return; surrogates;
#: U+FFFE and U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_HTTP = re.compile(r"^https?://", re.IGNORECASE)


def xml_text(value: object) -> str:
    """``value`` as text XML 1.0 can hold (the characters it cannot are dropped)."""
    return _NOT_XML.sub("", str(value))


def answer_url(base_url: str, watch_id: str) -> str:
    """The chat page showing the watch's answer: ``<base>/?watch=<id>``."""
    return f"{base_url.rstrip('/')}/?watch={quote(watch_id, safe='')}"


def feed_url(base_url: str, watch_id: str) -> str:
    """The watch's Atom feed: ``<base>/api/watches/<id>/feed.xml``."""
    return f"{base_url.rstrip('/')}/api/watches/{quote(watch_id, safe='')}/feed.xml"


def notice_title(notice: Notice, question: str) -> str:
    """An entry's title: what kind of change, and the question."""
    return f"{KIND_TITLES.get(notice.kind, notice.kind)}: {question}"


def _citation_html(c: Citation) -> str:
    title = html.escape(c.title or c.url or c.article_id)
    if c.url and _HTTP.match(c.url):
        title = f'<a href="{html.escape(c.url, quote=True)}">{title}</a>'
    where = ", ".join(html.escape(str(x)) for x in (c.source, c.published_at) if x)
    return f"<li>[{c.n}] {title}" + (f" ({where})" if where else "") + "</li>"


def notice_html(notice: Notice, link: str) -> str:
    """An entry's content: the notice's sentences with ``[n]``, the articles they cite, and a
    link to the whole answer (all escaped; only http(s) article URLs become links)."""
    parts = [f"<p>{html.escape(notice.text)}</p>"]
    if notice.citations:
        parts.append("<ol>" + "".join(_citation_html(c) for c in notice.citations) + "</ol>")
    parts.append(f'<p><a href="{html.escape(link, quote=True)}">The whole answer</a></p>')
    return "".join(parts)


def _add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: xml_text(v) for k, v in attrs.items()})
    if text is not None:
        el.text = xml_text(text)
    return el


def atom(watch: Watch, notices: Sequence[Notice], base_url: str) -> bytes:
    """The Atom 1.0 document of ``watch``'s ``notices`` (given newest first, as the store
    lists them), linking to the server at ``base_url``; UTF-8 bytes with an XML declaration."""
    link = answer_url(base_url, watch.id)
    feed = ET.Element("feed", xmlns=ATOM_NS)
    _add(feed, "id", f"urn:newsqa:watch:{watch.id}")
    _add(feed, "title", f"newsqa watch: {watch.question}")
    _add(feed, "subtitle", "What changed in the answer to this question as the news arrived")
    newest = max([n.created_at for n in notices] + [watch.created_at])
    _add(feed, "updated", iso(newest) or "1970-01-01T00:00:00+00:00")
    _add(feed, "link", rel="self", type=MEDIA_TYPE, href=feed_url(base_url, watch.id))
    _add(feed, "link", rel="alternate", type="text/html", href=link)
    author = _add(feed, "author")
    _add(author, "name", "newsqa")
    _add(feed, "generator", "newsqa")
    for n in notices:
        entry = _add(feed, "entry")
        _add(entry, "id", f"urn:newsqa:notice:{n.id}")
        _add(entry, "title", notice_title(n, watch.question))
        when = iso(n.created_at) or "1970-01-01T00:00:00+00:00"
        _add(entry, "updated", when)
        _add(entry, "published", when)
        _add(entry, "link", rel="alternate", type="text/html", href=link)
        _add(entry, "category", term=n.kind)
        _add(entry, "content", notice_html(n, link), type="html")
    return bytes(ET.tostring(feed, encoding="utf-8", xml_declaration=True))
