"""Plain data records that flow through ingest and query."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Article:
    """One news article as loaded, before chunking.

    ``published_at`` is ISO ``YYYY-MM-DD`` or None; ``source`` is the outlet (defaults to the
    URL's domain); ``origin`` says where it was read from (file path and line) for error reports.
    """

    title: str
    text: str
    url: str | None = None
    source: str | None = None
    published_at: str | None = None
    authors: list[str] = field(default_factory=list)
    id: str | None = None
    origin: str = ""


@dataclass
class LoadProblem:
    """A file or line that could not be read; reported and skipped."""

    path: str
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.reason}"


@dataclass
class LoadWarning(LoadProblem):
    """Something wrong with an input that was kept anyway (an unreadable date, cut text)."""


@dataclass
class Passage:
    """A retrieved chunk with its article's metadata and its fused score."""

    chunk_id: int
    article_id: str
    url: str | None
    title: str
    source: str | None
    published_at: str | None
    text: str
    score: float
    also_reported_by: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON form used by the CLI and the HTTP API."""
        return asdict(self)


@dataclass
class Citation:
    """One numbered citation: the article it points to and the quoted passage."""

    n: int
    article_id: str
    chunk_id: int
    url: str | None
    title: str
    source: str | None
    published_at: str | None
    quote: str
    passage: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON form used by the CLI and the HTTP API."""
        return asdict(self)


@dataclass
class Segment:
    """One statement of an answer: plain text and the numbers of the citations it rests on.

    ``text`` is shown as text (a "[12]" inside it is part of the article, not a citation);
    ``lead`` is a view's label shown before it ("2023-01-05 — cnn.com: "); ``span``, when set,
    is the character range of ``text`` that answers the question (a name, a number, a date);
    ``quotes`` holds, per citation, the passage's verbatim words (or its article's headline)
    that support the statement;
    ``flag``, when set, says why the statement is shown without support (a generated sentence
    the sources do not support: "not supported by the sources").
    """

    text: str
    citations: list[int]
    lead: str = ""
    span: tuple[int, int] | None = None
    quotes: list[str] = field(default_factory=list)
    flag: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON form used by the CLI and the HTTP API."""
        return {
            "text": self.text,
            "citations": list(self.citations),
            "lead": self.lead,
            "span": list(self.span) if self.span else None,
            "quotes": list(self.quotes),
            "flag": self.flag,
        }


@dataclass
class Filters:
    """Restrictions applied before ranking; they fail closed (no match, no results)."""

    since: str | None = None
    until: str | None = None
    sources: list[str] | None = None
    as_of: str | None = None
