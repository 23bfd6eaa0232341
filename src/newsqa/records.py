"""Plain data records that flow through ingest and query, and the answer they end in.

A field's ``metadata`` may hold its ``description`` (:func:`doc`): the HTTP API derives its
response schemas from these records (:mod:`newsqa.api.derive`) and documents the fields by it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

#: How an answer presents its evidence: a few cited sentences, by publication date, per outlet.
View = Literal["answer", "timeline", "outlets"]
#: How an answer is made: quoted from the articles, or written by a language model.
Mode = Literal["extractive", "generate"]


def doc(description: str) -> dict[str, str]:
    """A field's ``metadata`` documenting it (shown in the API's schemas)."""
    return {"description": description}


def wire(tp: Any, description: str) -> dict[str, Any]:
    """A field's ``metadata`` when its JSON form has the type ``tp`` rather than the record's
    (the API's schemas show ``tp``), documenting it."""
    return {"description": description, "wire": tp}


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
class NotRead(LoadProblem):
    """A file or folder met while walking a folder and passed over: not a supported type, hidden,
    or not news (a README, a LICENSE); ``kind`` groups them in the summary (".pdf", "hidden
    folder", "not news")."""

    kind: str = ""


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
    also_reported_by: list[str] = field(
        default_factory=list, metadata=doc("Other outlets that carried the same story"))

    def to_dict(self) -> dict[str, Any]:
        """JSON form used by the CLI and the HTTP API."""
        return asdict(self)


@dataclass
class Citation:
    """A numbered citation of one article: the quoted sentence(s) (joined by " … ") and the
    article's passage(s) they are in.

    An extractive answer numbers articles: statements that quote different passages of one
    article cite its one number, and ``passage`` joins those passages in article order. A
    generated answer numbers the passages its prompt showed, one citation per passage.
    """

    n: int = field(metadata=doc("The number the answer's [n] markers and segments cite"))
    article_id: str
    chunk_id: int = field(metadata=doc("The id of the passage quoted first"))
    url: str | None
    title: str
    source: str | None
    published_at: str | None
    quote: str = field(metadata=doc(
        "The words quoted, each piece verbatim in `passage` (or the article's title), "
        'joined by " … "'))
    passage: str = field(default="", metadata=doc(
        "The quoted passage; of several passages of one article, all of them in article order "
        "(a repeated sentence where they adjoin written once, \" … \" where they do not)"))

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
    citations: list[int] = field(
        metadata=doc("Numbers (n) of the citations this text rests on"))
    lead: str = field(
        default="", metadata=doc('Label shown before the text ("2023-01-05 — cnn.com: ")'))
    span: tuple[int, int] | None = field(
        default=None, metadata=doc("[start, end) of the text that answers"))
    quotes: list[str] = field(default_factory=list, metadata=doc(
        "Per citation, the passage's verbatim words (or its article's headline) that support "
        "the text"))
    flag: str = field(default="", metadata=doc(
        'Set on a generated sentence the sources do not support ("not supported by the '
        'sources"); such a segment cites nothing'))

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


@dataclass(frozen=True)
class AnswerRequest:
    """One question to answer, as a front end asks it: ``k`` passages (None: the configured
    number), ``filters`` (None: none; ``as_of`` defaults to today), the conversation so far
    (``history``: ``role`` and ``content`` of each earlier turn), the ``view`` and ``mode``."""

    question: str
    k: int | None = None
    filters: Filters | None = None
    history: Sequence[Mapping[str, str]] | None = None
    view: View = "answer"
    mode: Mode = "extractive"


@dataclass
class ClaimStats:
    """What the claim check did with the generated sentences."""

    checked: int = field(
        default=0, metadata=doc("Generated sentences checked against their sources"))
    kept: int = field(default=0, metadata=doc("Supported: shown with their citations"))
    flagged: int = field(
        default=0, metadata=doc('Unsupported, shown marked "not supported by the sources"'))
    dropped: int = field(
        default=0, metadata=doc("Unsupported, left out (NEWSQA_GENERATION__UNSUPPORTED=drop)"))
    withheld: int = field(default=0, metadata=doc(
        "Passage sentences not shown to the model because they address it "
        '("ignore the instructions above…")'))

    def to_dict(self) -> dict[str, int]:
        """JSON form used by the HTTP API and eval."""
        return dict(vars(self))


@dataclass(kw_only=True)
class Answer:
    """A cited answer, or an abstention with the closest passages."""

    question: str
    answer: str = field(metadata=doc(
        "The answer rendered as one string (segments joined, each followed by its [n] markers); "
        "render from `segments` instead of parsing it"))
    segments: list[Segment] = field(
        default_factory=list, metadata=doc("The answer as data: what to show and what it cites"))
    abstained: bool = field(metadata=doc("True when no article answers: see passages instead"))
    view: View = "answer"
    evidence: float = field(metadata=doc(
        "How likely the passages answer the question, 0 to 1: the probability of the evidence "
        "model (or, with the reader on and answering, the reader's); under the configured "
        "threshold the answer abstains. A timeline or outlets view reports the composer's "
        "linear evidence instead"))
    citations: list[Citation]
    passages: list[Passage]
    filters: Filters
    timings_ms: dict[str, float]
    mode: Mode = field(default="extractive", metadata=doc(
        "How the answer was made: generate only when the language model's answer is shown "
        "(else the extractive fallback; see note)"))
    note: str | None = field(default=None, metadata=doc(
        "Why a generated answer was not given (model unreachable, too slow, malformed output, "
        "no supported sentence), or why the model was not asked"))
    claims: ClaimStats | None = field(default=None, metadata=doc(
        "With mode=generate: the generated sentences checked and their fate"))

    def to_dict(self) -> dict[str, Any]:
        """JSON form used by the CLI and the HTTP API (the ``done`` event's data)."""
        return {
            "question": self.question,
            "answer": self.answer,
            "segments": [seg.to_dict() for seg in self.segments],
            "abstained": self.abstained,
            "view": self.view,
            "evidence": self.evidence,
            "citations": [c.to_dict() for c in self.citations],
            "passages": [p.to_dict() for p in self.passages],
            "filters": dict(vars(self.filters)),
            "timings_ms": dict(self.timings_ms),
            "mode": self.mode,
            "note": self.note,
            "claims": self.claims.to_dict() if self.claims is not None else None,
        }
