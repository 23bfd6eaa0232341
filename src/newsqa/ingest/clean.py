"""Small, pure helpers that turn raw article fields into clean values.

Everything here is total: bad input gives ``None`` or an empty string, never an exception.
"""

from __future__ import annotations

import codecs
import html
import re
import time
import unicodedata
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

import charset_normalizer
from dateutil import parser as date_parser
from lxml import etree
from lxml import html as lxml_html

_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:$|[T ])")
_EPOCH = re.compile(r"\d{9,10}(?:\.\d+)?|\d{13}")
_COMPACT_DATE = re.compile(r"\d{8}")
_DEFAULTS = (datetime(2000, 1, 1), datetime(2004, 2, 2))  # two defaults expose missing fields


def normalize_date(value: object) -> str | None:
    """Return ``value`` as an ISO ``YYYY-MM-DD`` date, or None when it is not a full date.

    Accepts ISO 8601 strings, RFC 2822 (``Sat, 30 Nov 2013 06:00:00 +0900``), free forms such
    as ``November 30, 2013, 06:00`` or ``2013/11/30``, ``datetime``/``date`` objects,
    ``time.struct_time`` and Unix epochs (seconds or milliseconds, read as UTC). The calendar
    date is kept as written: no time-zone conversion is applied to strings. Partial dates
    (``November 2013``) give None.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime | date):
        return _checked(value.year, value.month, value.day)
    if isinstance(value, time.struct_time):
        return _checked(value.tm_year, value.tm_mon, value.tm_mday)
    if isinstance(value, int | float):
        return _from_epoch(float(value))
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 100:
        return None
    iso = _ISO_DATE.match(text)
    if iso:
        return _checked(*(int(part) for part in iso.groups()))
    if _EPOCH.fullmatch(text):
        return _from_epoch(float(text))
    if _COMPACT_DATE.fullmatch(text):
        return _checked(int(text[:4]), int(text[4:6]), int(text[6:]))
    try:
        first, second = (date_parser.parse(text, default=d) for d in _DEFAULTS)
    except (ValueError, OverflowError, TypeError):
        return None
    if first.date() != second.date():
        return None  # the string lacks a year, month or day
    return _checked(first.year, first.month, first.day)


def _checked(year: int, month: int, day: int) -> str | None:
    """ISO form of a real calendar date in a plausible range, else None."""
    try:
        parsed = date(year, month, day)
    except ValueError:
        return None
    return parsed.isoformat() if 1000 <= parsed.year <= 2999 else None


def _from_epoch(seconds: float) -> str | None:
    """UTC date of a Unix time in seconds (values above 1e11 are taken as milliseconds)."""
    if seconds > 1e11:
        seconds /= 1000
    try:
        moment = datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return _checked(moment.year, moment.month, moment.day)


_OTHER_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*:(?!\d)", re.IGNORECASE)


def source_from_url(url: str | None) -> str | None:
    """The outlet's domain from a URL, lower-cased and without ``www.``.

    ``"https://www.cnn.com/x"`` gives ``"cnn.com"``; a bare ``"cnn.com/x"`` works too. Returns None
    when there is no usable host (one without a dot, such as ``"N/A"``, does not count).
    """
    if not url or not isinstance(url, str):
        return None
    url = url.strip()
    if "://" not in url:
        if _OTHER_SCHEME.match(url):
            return None  # urn:, mailto:, tag: ... name no web host
        url = "//" + url.lstrip("/")
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    if not host or "." not in host or any(ch.isspace() for ch in host):
        return None
    host = host.rstrip(".")
    return host.removeprefix("www.") or None


_ODD_NEWLINE = re.compile(r"[\r\x0b\x0c\x85\u2028\u2029]")
_NEWLINES = re.compile(r"\r\n?|[\x0b\x0c\x85\u2028\u2029]")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u200b\ufeff]")


def clean_text(text: str) -> str:
    """Normalise article text: NFC, no control characters, single spaces, at most one blank line.

    Line breaks are kept (paragraphs stay separated by one blank line); tabs and exotic spaces
    become plain spaces; leading and trailing whitespace is removed from every line and from the
    whole text.
    """
    if not text:
        return ""
    text = unicodedata.normalize("NFC", text)
    if _ODD_NEWLINE.search(text):
        text = _NEWLINES.sub("\n", text)
    text = _CONTROL.sub("", text)
    lines: list[str] = []
    for line in text.split("\n"):
        line = " ".join(line.split())  # str.split() knows every Unicode space
        if line or (lines and lines[-1]):
            lines.append(line)
    return "\n".join(lines).strip()


def one_line(text: str) -> str:
    """``clean_text`` squeezed onto one line (for titles, sources, authors)."""
    return " ".join(clean_text(text).split())


def decode_bytes(data: bytes) -> str:
    """Decode file bytes to text; legacy encodings are decoded, never rejected.

    Order: UTF-8 (a BOM is dropped; UTF-16/32 BOMs are honoured), then, for non-UTF-8 bytes,
    Windows-1252 when ``charset_normalizer`` finds it plausible (it is by far the most common
    legacy encoding of Western news text, and the detector's own first guess on short Latin text
    is often a wrong code page), else the detector's best guess, else cp1252, else Latin-1.
    """
    for bom, codec in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                       (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                       (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                break
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    western = charset_normalizer.from_bytes(data, cp_isolation=["cp1252"]).best()
    best = western or charset_normalizer.from_bytes(data).best()
    if best is not None:
        return str(best)
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


_BINARY_SAMPLE = 64 * 1024
_CONTROL_BYTES = bytes(range(0x00, 0x09)) + bytes(range(0x0E, 0x1B)) + bytes(range(0x1C, 0x20))
_UNICODE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
BINARY_SHARE = 0.02
"""Share of control (or non-text) characters above which content is taken for binary."""


def binary_reason(data: bytes) -> str | None:
    """Why ``data`` (the start of a file) is binary rather than text, or None when it is text.

    Looks at the first 64 KiB: NUL bytes (outside UTF-16/32 text, which starts with its byte order
    mark) or more than ``BINARY_SHARE`` of C0 control bytes other than tab, line breaks and escape
    mean binary. Legacy 8-bit encodings pass; :func:`text_binary_reason` judges them once decoded.
    """
    sample = data[:_BINARY_SAMPLE]
    if not sample or sample.startswith(_UNICODE_BOMS):
        return None
    if b"\x00" in sample:
        return "binary file (contains NUL bytes)"
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if controls > BINARY_SHARE * len(sample):
        return f"binary file ({controls / len(sample):.0%} control characters)"
    return None


def text_binary_reason(text: str) -> str | None:
    """Why decoded ``text`` is not text (more than ``BINARY_SHARE`` of control, surrogate,
    private-use or replacement characters: bytes no encoding reads as text), or None."""
    sample = text[:_BINARY_SAMPLE]
    if not sample:
        return None
    odd = len(_ODD_CHARS.findall(sample))
    if odd > BINARY_SHARE * len(sample):
        return f"binary file ({odd / len(sample):.0%} of its characters are not text)"
    return None


# C0/C1 controls (not tab, line breaks or escape), surrogates, private use, U+FFFD.
_ODD_CHARS = re.compile(
    "[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f-\x9f\ud800-\uf8ff\ufffd\U000f0000-\U0010ffff]"
)


def decode_text(data: bytes) -> str:
    """:func:`decode_bytes`, refusing binary content with :class:`BinaryContentError`."""
    reason = binary_reason(data)
    if reason is None:
        text = decode_bytes(data)
        reason = text_binary_reason(text)
        if reason is None:
            return text
    raise BinaryContentError(reason)


class BinaryContentError(ValueError):
    """Content that is binary, not text; the message is the reason reported."""


_BLOCK_TAGS = ("p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
               "pre", "table", "tr", "section", "article", "header", "footer", "figure", "dd", "dt")
_TAG = re.compile(r"<[^>]*>")
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*(?=\s)")


def html_to_text(markup: str) -> str:
    """Plain text of an HTML fragment or page, with block elements as paragraphs.

    Scripts, styles and the page head are dropped. Falls back to stripping tags with a regex when
    lxml cannot parse the markup.
    """
    if "<" not in markup:
        return clean_text(html.unescape(markup))
    try:
        root = lxml_html.fromstring(markup)
    except (etree.ParserError, ValueError):
        return clean_text(html.unescape(_TAG.sub(" ", markup)))
    for junk in root.xpath("//script | //style | //head | //noscript"):
        junk.drop_tree()
    for br in root.iter("br"):
        br.tail = "\n" + (br.tail or "")
    for block in root.iter(*_BLOCK_TAGS):
        block.text = "\n\n" + (block.text or "")
        block.tail = "\n\n" + (block.tail or "")
    return clean_text(root.text_content())


def truncate_text(text: str, max_bytes: int) -> str:
    """Cut ``text`` to at most ``max_bytes`` UTF-8 bytes at a character boundary.

    Prefers the last paragraph or sentence end before the limit (or else the last space), as long
    as that keeps at least half of what fits; otherwise cuts hard. Text within the limit is
    returned unchanged.
    """
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    cut = data[:max_bytes].decode("utf-8", errors="ignore")
    floor = len(cut) // 2
    paragraph = cut.rfind("\n\n")
    sentence = max((m.end() for m in _SENTENCE_END.finditer(cut, floor)), default=-1)
    best = max(paragraph, sentence)
    if best >= floor:
        return cut[:best].rstrip()
    space = cut.rfind(" ")
    return cut[:space].rstrip() if space >= floor else cut


_AUTHOR_SPLIT = re.compile(r"\s*(?:;|,|\||&|\band\b)\s*", re.IGNORECASE)


def split_authors(value: object) -> list[str]:
    """Author names from a string (``"By A and B"``, ``"A; B"``) or a list of strings/objects.

    Objects contribute their ``name``; a leading ``By`` is dropped; duplicates are removed.
    """
    if isinstance(value, str):
        parts = _AUTHOR_SPLIT.split(value)
    elif isinstance(value, list | tuple):
        parts = []
        for item in value:
            if isinstance(item, dict):
                item = item.get("name")
            if isinstance(item, str):
                parts.extend(_AUTHOR_SPLIT.split(item))
    else:
        return []
    names: list[str] = []
    for part in parts:
        name = re.sub(r"^by\s+", "", one_line(part), flags=re.IGNORECASE)
        if name and name not in names:
            names.append(name)
    return names
