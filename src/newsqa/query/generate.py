"""Generated answers: a language model writes the answer from the numbered passages, and every
sentence it writes is checked against the passage it cites before it is shown.

:class:`GeneratedAnswer` streams the model's tokens, cuts them into sentences as they complete,
checks each (:mod:`newsqa.query.claims`) and keeps, flags or drops it. Citation numbers are the
passages' numbers in the prompt, so the tokens, the checked segments and the citation list agree.
"""

from __future__ import annotations

from collections.abc import Generator as Gen
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from newsqa.query.claims import (
    ClaimCheck,
    ClaimChecker,
    Encode,
    SentenceStream,
    is_abstention,
    normalise,
)
from newsqa.query.claims import parse_claim as parse
from newsqa.query.compose import Composed, abstention, citation, render_text
from newsqa.query.config import GenerateConfig
from newsqa.query.events import AnswerEvent, ClaimEvent, DeltaEvent, TokenEvent
from newsqa.query.llm import ChatClient
from newsqa.query.prompt import (
    PromptPassage,
    build_messages,
    header,
    outside_passages,
    prompt_passages,
)
from newsqa.records import Citation, ClaimStats, Passage, Segment

FLAG_TEXT = "not supported by the sources"


@dataclass
class GeneratedAnswer:
    """One generated answer in the making; :meth:`run` yields its events, then ``composed``
    holds the checked answer (``None`` when nothing the model wrote could be shown)."""

    question: str
    passages: Sequence[Passage]
    as_of: str
    chat: ChatClient
    encode: Encode
    cfg: GenerateConfig = field(default_factory=GenerateConfig)
    composed: Composed | None = None
    stats: ClaimStats = field(default_factory=ClaimStats)
    _carry: list[int] = field(default_factory=list)
    _scaffold: str = ""

    def run(self) -> Iterator[AnswerEvent]:
        """``token`` events as the model writes, a ``claim`` event per finished sentence and a
        ``delta`` for each sentence shown. Raises :class:`~newsqa.query.llm.GeneratorError`."""
        given = prompt_passages(self.passages[: self.cfg.passages])
        self.stats.withheld = sum(pp.withheld for pp in given)
        checker = ClaimChecker(given, self.encode, self.question, self.cfg.min_similarity)
        messages = build_messages(self.question, given, self.as_of, self.cfg.max_sentences)
        # what a model may parrot that is not a claim: the rules, the question, the headers
        scaffold = " ".join([outside_passages(messages), *(header(pp) for pp in given)])
        self._scaffold = f" {normalise(scaffold)} "  # padded: matches whole words only
        stream = SentenceStream()
        segments: list[Segment] = []
        abstained = False
        for piece in self.chat.stream(messages):
            yield TokenEvent(piece)
            for raw in stream.feed(piece):
                abstained |= yield from self._sentence(raw, checker, segments)
            if self._enough(segments):
                break  # the answer is long enough: leaving the loop closes the stream
        else:
            for raw in stream.flush():
                abstained |= yield from self._sentence(raw, checker, segments)
        kept = [s for s in segments if not s.flag]
        if kept:
            self.composed = Composed(segments, False, _citations(segments, given), 1.0)
        elif abstained:
            self.composed = abstention(0.0)

    def _enough(self, segments: list[Segment]) -> bool:
        kept = sum(not s.flag for s in segments)
        return kept >= self.cfg.max_sentences or self.stats.checked >= 2 * self.cfg.max_sentences

    def _sentence(
        self, raw: str, checker: ClaimChecker, segments: list[Segment]
    ) -> Gen[AnswerEvent, None, bool]:
        claim = parse(raw)
        if not claim.text:
            # "[2] The bridge opened…": marks that open a line cite the sentences after them
            self._carry = claim.cited
            return False
        if is_abstention(claim.text):
            yield ClaimEvent("abstain", claim.text, "")
            return True
        if f" {normalise(claim.text)} " in self._scaffold:
            yield ClaimEvent("ignored", claim.text, "repeats the prompt")
            return False
        if claim.cited:
            self._carry = []
        else:
            claim.cited = list(self._carry)
        verdict = checker.check(claim)
        self.stats.checked += 1
        status = self._status(verdict)
        seg = _segment(verdict) if status != "dropped" else None
        yield ClaimEvent(
            status, claim.text, verdict.reason, verdict.rejected, round(verdict.similarity, 4)
        )
        if seg is not None:
            text = (" " if segments else "") + render_text([seg])
            segments.append(seg)
            yield DeltaEvent(text, seg)
        return False

    def _status(self, verdict: ClaimCheck) -> str:
        if verdict.supported:
            self.stats.kept += 1
            return "kept"
        if self.cfg.unsupported == "drop":
            self.stats.dropped += 1
            return "dropped"
        self.stats.flagged += 1
        return "flagged"


def _segment(verdict: ClaimCheck) -> Segment:
    if verdict.supported:
        return Segment(verdict.claim.text, list(verdict.cited), quotes=list(verdict.quotes))
    return Segment(verdict.claim.text, [], flag=FLAG_TEXT)


def _citations(segments: Sequence[Segment], given: Sequence[PromptPassage]) -> list[Citation]:
    """One citation per cited passage, numbered as in the prompt, quotes joined by " … "."""
    by_n = {pp.n: pp.passage for pp in given}
    quotes: dict[int, list[str]] = {}
    for seg in segments:
        for n, q in zip(seg.citations, seg.quotes, strict=True):
            if q not in quotes.setdefault(n, []):
                quotes[n].append(q)
    return [citation(n, by_n[n], " … ".join(quotes[n])) for n in sorted(quotes)]
