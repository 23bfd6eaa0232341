"""The events an answer is given as, in order: ``sources`` (the passages), then ``delta`` per
answer segment (with ``token`` and ``claim`` events before them while a language model writes,
and a ``note`` when its answer is withdrawn), and last ``done`` with the whole :class:`Answer`.

Each event is typed; :meth:`AnswerEvent.wire` gives its name and JSON data, as the HTTP API's
Server-Sent Events and the OpenAI-compatible stream carry them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from newsqa.query.compose import Composed, render_text
from newsqa.records import Answer, Passage, Segment

#: An event as it goes over the wire: its name and its JSON data.
WireEvent = tuple[str, dict[str, Any]]


class AnswerEvent:
    """One event of an answer in the making."""

    name: ClassVar[str]

    def data(self) -> dict[str, Any]:
        """The event's JSON data."""
        raise NotImplementedError

    def wire(self) -> WireEvent:
        """The event's name and JSON data."""
        return self.name, self.data()


@dataclass(frozen=True)
class SourcesEvent(AnswerEvent):
    """The passages the answer is made from, in the order to show them."""

    passages: list[Passage]
    name: ClassVar[str] = "sources"

    def data(self) -> dict[str, Any]:
        """``{"passages": [...]}``."""
        return {"passages": [p.to_dict() for p in self.passages]}


@dataclass(frozen=True)
class TokenEvent(AnswerEvent):
    """A piece of the language model's text as it arrives."""

    text: str
    name: ClassVar[str] = "token"

    def data(self) -> dict[str, Any]:
        """``{"text": ...}``."""
        return {"text": self.text}


@dataclass(frozen=True)
class ClaimEvent(AnswerEvent):
    """What the claim check made of one generated sentence: ``status`` is kept, flagged,
    dropped, abstain or ignored; a checked one (kept, flagged, dropped) also carries the
    citation numbers that name no given passage and its similarity to its passage."""

    status: str
    text: str
    reason: str
    rejected: list[int] | None = None
    similarity: float | None = None
    name: ClassVar[str] = "claim"

    def data(self) -> dict[str, Any]:
        """``status``, ``text``, ``reason`` (and ``rejected``, ``similarity`` once checked)."""
        out: dict[str, Any] = {"status": self.status, "text": self.text, "reason": self.reason}
        if self.similarity is not None:
            out["rejected"] = self.rejected
            out["similarity"] = self.similarity
        return out


@dataclass(frozen=True)
class DeltaEvent(AnswerEvent):
    """One answer segment: its text rendered with its ``[n]`` markers, and as data."""

    text: str
    segment: Segment
    name: ClassVar[str] = "delta"

    def data(self) -> dict[str, Any]:
        """``{"text": ..., "segment": {...}}``."""
        return {"text": self.text, "segment": self.segment.to_dict()}


@dataclass(frozen=True)
class NoteEvent(AnswerEvent):
    """Why the generated answer is withdrawn (the extractive answer's deltas follow)."""

    text: str
    name: ClassVar[str] = "note"

    def data(self) -> dict[str, Any]:
        """``{"text": ...}``."""
        return {"text": self.text}


@dataclass(frozen=True)
class DoneEvent(AnswerEvent):
    """The finished answer."""

    answer: Answer
    name: ClassVar[str] = "done"

    def data(self) -> dict[str, Any]:
        """The answer's JSON form."""
        return self.answer.to_dict()


def deltas(composed: Composed) -> Iterator[DeltaEvent]:
    """One ``delta`` event per segment of ``composed``, its text rendered with its ``[n]``
    markers (and the joiner to the next segment)."""
    last = len(composed.segments) - 1
    for i, seg in enumerate(composed.segments):
        piece = render_text([seg]) + (composed.joiner if i < last else "")
        yield DeltaEvent(piece, seg)
