"""A watch, the answer last shown for it, and the notices it has given (one definition each;
the API's schemas are derived from them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from newsqa.records import Citation, Filters, Segment, doc, wire

#: Why a notice was given: a first answer where there was none, new articles in the answer, or
#: an article the answer cited deleted or updated.
NoticeKind = Literal["first", "new", "withdrawn"]


def iso(ts: float | None) -> str | None:
    """Unix seconds as ISO 8601 UTC (None for none)."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds") if ts else None


@dataclass
class Shown:
    """The answer last shown for a watch: what a change is measured against."""

    abstained: bool
    #: Article id → content hash of every article the answer cites.
    sources: dict[str, str]
    #: The statements shown, in order.
    statements: list[str]
    #: The whole answer (``Answer.to_dict()``).
    answer: dict[str, Any]
    at: float

    def to_json(self) -> dict[str, Any]:
        """What the store keeps."""
        return {"abstained": self.abstained, "sources": self.sources,
                "statements": self.statements, "answer": self.answer, "at": self.at}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Shown:
        """The inverse of :meth:`to_json`."""
        return cls(bool(d["abstained"]), dict(d["sources"]), list(d["statements"]),
                   dict(d["answer"]), float(d["at"]))


@dataclass
class Watch:
    """A watched question of one owner (an API key, a browser, or ``local`` for the CLI)."""

    id: str = field(metadata=doc("The watch's id (unguessable: its Atom feed's URL holds it)"))
    owner: str = field(metadata=doc("Whose watch it is"))
    question: str
    filters: Filters
    created_at: float
    #: The highest chunk id the watch has been checked against.
    checked: int
    webhook: str | None = field(default=None, metadata=doc(
        "Where each notice is POSTed as JSON (retried with back-off)"))
    shown: Shown | None = None
    notices: int = field(default=0, metadata=doc("Notices given"))
    unread: int = field(default=0, metadata=doc("Notices not marked read"))
    #: Bumped by every check recorded: what a check's outcome is written against.
    rev: int = 0

    def to_dict(self, answer: bool = False) -> dict[str, Any]:
        """JSON form (``/api/watches``, ``newsqa watch list --json``); ``answer`` adds the
        answer last shown."""
        out: dict[str, Any] = {
            "id": self.id,
            "question": self.question,
            "filters": {k: v for k, v in vars(self.filters).items() if v},
            "created_at": iso(self.created_at),
            "webhook": self.webhook,
            "notices": self.notices,
            "unread": self.unread,
            "answered": bool(self.shown and not self.shown.abstained),
            "shown_at": iso(self.shown.at) if self.shown else None,
        }
        if answer:
            out["answer"] = self.shown.answer if self.shown else None
        return out


@dataclass
class Notice:
    """What changed in a watch's answer, in one or two cited sentences."""

    id: str
    watch_id: str
    seq: int = field(metadata=doc("1 for the watch's first notice, then 2, 3, …"))
    created_at: float = field(metadata=wire(str, "When it was recorded (ISO 8601, UTC)"))
    kind: NoticeKind = field(metadata=doc(
        "first: an answer where there was none; new: articles not cited before now make the "
        "answer; withdrawn: an article the answer cited was deleted or updated"))
    text: str = field(metadata=doc("The notice as one string, each sentence with its [n]"))
    segments: list[Segment]
    citations: list[Citation] = field(metadata=doc("The articles the notice cites, 1, 2, …"))
    read: bool = False
    webhook: str | None = field(default=None, metadata=wire(
        Literal["pending", "delivered", "failed"] | None,
        "Its webhook delivery: pending, delivered or failed (null: the watch has none)"))

    def to_dict(self) -> dict[str, Any]:
        """JSON form (API, SSE, webhook body)."""
        return {
            "id": self.id,
            "watch_id": self.watch_id,
            "seq": self.seq,
            "created_at": iso(self.created_at),
            "kind": self.kind,
            "text": self.text,
            "segments": [s.to_dict() for s in self.segments],
            "citations": [c.to_dict() for c in self.citations],
            "read": self.read,
            "webhook": self.webhook,
        }

    def body(self) -> dict[str, Any]:
        """What the store keeps of the notice's content."""
        return {"text": self.text, "segments": [s.to_dict() for s in self.segments],
                "citations": [c.to_dict() for c in self.citations]}


def segment_of(d: dict[str, Any]) -> Segment:
    """A :class:`Segment` from its JSON form."""
    span = d.get("span")
    return Segment(d["text"], list(d["citations"]), d.get("lead", ""),
                   (int(span[0]), int(span[1])) if span else None, list(d.get("quotes", [])),
                   d.get("flag", ""))


def citation_of(d: dict[str, Any]) -> Citation:
    """A :class:`Citation` from its JSON form."""
    return Citation(**d)


def filters_of(d: dict[str, Any]) -> Filters:
    """:class:`Filters` from their JSON form."""
    return Filters(since=d.get("since"), until=d.get("until"), sources=d.get("sources"))
