"""Text a chat client renders as Markdown, made safe: no images, and no links but http(s) ones.

Answers quote articles, and an article's text is written by whoever published it: a quoted
``![](http://tracker/pixel)`` would load when shown, a ``[click](javascript:…)`` would run when
clicked. ``/v1`` replies are Markdown to most chat clients, so every text they carry goes
through :func:`safe_markdown` (a whole text) or :class:`MarkdownStream` (a text that arrives
in pieces). A link is kept only when its destination starts with ``http://`` or ``https://``
(an allow-list: entity tricks such as ``javascript&colon;`` and relative links are dropped too);
an image keeps its alt text. The rules need no opening bracket, so a link whose text and
destination arrive in different pieces is caught as well.
"""

from __future__ import annotations

import re

_WEB = r"\s*<?\s*https?://"
#: ``![alt](anything)``: an image, kept as its alt text.
_IMAGE = re.compile(r"!\[([^\[\]]{0,1000})\]\([^)]*\)")
#: ``](destination …)`` whose destination is not a web address: the destination goes.
_LINK_TARGET = re.compile(rf"\]\((?!{_WEB})[^)]*\)", re.I)
#: ``[label]:`` at a line's start opens a reference definition: unless a web address follows,
#: its colon is escaped (it reads the same, and defines nothing).
_REFERENCE = re.compile(r"^( {0,3}\[[^\]\n]+\]):", re.M)
#: ``<scheme:…>``, an autolink: kept only for a web address.
_AUTOLINK = re.compile(r"<([A-Za-z][A-Za-z0-9+.\-]{1,31}:[^\s<>]*)>")
#: Raw HTML images, and tags whose URL attribute is not a web address.
_HTML_IMAGE = re.compile(r"<img\b[^>]*>", re.I)
_HTML_URL = re.compile(
    rf"<[A-Za-z][^>]*?\b(?:href|src|srcset|action|formaction|data|poster)\s*=\s*"
    rf"(?![\"']?{_WEB})[^>]*>", re.I,
)


def _reference(match: re.Match[str]) -> str:
    if re.match(_WEB, match.string[match.end():], re.I):
        return match.group(0)
    return match.group(1) + "\\:"


def _autolink(match: re.Match[str]) -> str:
    return match.group(0) if re.match(_WEB, match.group(1), re.I) else match.group(1)


def safe_markdown(text: str) -> str:
    """``text`` with images replaced by their alt text, link destinations other than http(s)
    removed (the link's text stays), non-web autolinks and reference definitions defused, and
    HTML images and tags pointing elsewhere than the web removed."""
    text = _IMAGE.sub(r"\1", text)
    text = text.replace("![", "[")  # a reference image, or one whose parts arrive apart
    text = _LINK_TARGET.sub("]", text)
    text = _REFERENCE.sub(_reference, text)
    text = _AUTOLINK.sub(_autolink, text)
    text = _HTML_IMAGE.sub("", text)
    return _HTML_URL.sub("", text)


def _pending(text: str) -> int:
    """Where a construct the next piece could complete starts at the end of ``text``: a final
    ``!`` or ``]``, a ``](``, ``![`` or ``<`` not yet closed, or a line that may be a reference
    definition (``len(text)`` when there is none)."""
    cuts = [len(text)]
    if text.endswith(("!", "]")):
        cuts.append(len(text) - 1)
    for opener, closer in (("](", ")"), ("![", ")"), ("<", ">")):
        opened = text.find(opener, text.rfind(closer) + 1)
        if opened >= 0:
            cuts.append(opened)
    line = text.rfind("\n") + 1
    if re.match(r" {0,3}\[", text[line:]):
        cuts.append(line)
    return min(cuts)


class MarkdownStream:
    """:func:`safe_markdown` for a text that arrives in pieces: what may still become an image
    or a link is held back until the piece that decides it (or :meth:`end`)."""

    def __init__(self) -> None:
        self._held = ""

    def feed(self, piece: str) -> str:
        """The safe text that ``piece`` releases (possibly empty)."""
        text = self._held + piece
        cut = _pending(text)
        self._held = text[cut:]
        return safe_markdown(text[:cut])

    def end(self) -> str:
        """The text still held, made safe: the stream is over."""
        text, self._held = self._held, ""
        return safe_markdown(text)
