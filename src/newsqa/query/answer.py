"""The answer pipeline: plan → retrieve → gather evidence → compose → (optionally) generate.

Each stage is a method of :class:`AnswerPipeline` with typed inputs and outputs, so a benchmark
can run any of them as the product does; :meth:`AnswerPipeline.run` chains them for one
:class:`~newsqa.records.AnswerRequest`, yielding typed events (:mod:`newsqa.query.events`) that
end in one :class:`~newsqa.records.Answer`. The pipeline owns nothing: the service hands it the
index, the embedders and the configs it holds.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import get_args

import numpy as np

from newsqa.embedding.base import Embedder
from newsqa.index.store import NewsIndex
from newsqa.language import not_english_note
from newsqa.query.claims import Encode
from newsqa.query.compose import (
    ABSTAIN_TEXT,
    VIEWS,
    ComposeConfig,
    Composed,
    Scored,
    considered_passages,
    score_candidates,
)
from newsqa.query.events import AnswerEvent, DoneEvent, NoteEvent, SourcesEvent, deltas
from newsqa.query.evidence import Evidence, compose_evidence
from newsqa.query.generate import GenerateConfig, GeneratedAnswer
from newsqa.query.llm import ChatClient, GeneratorError
from newsqa.query.plan import QueryPlan, plan_query
from newsqa.query.read import ReadConfig, Scorer, read_passages
from newsqa.query.retrieve import RetrievalConfig, retrieve
from newsqa.records import Answer, AnswerRequest, ClaimStats, Filters, Mode, Passage, Segment
from newsqa.text import query_terms

MODES: tuple[str, ...] = get_args(Mode)


class RequestError(ValueError):
    """A request the service cannot serve as asked (an unknown view, generation while no
    language model is configured); the HTTP API answers it with 422."""


def resolve_filters(filters: Filters | None) -> Filters:
    """A copy of ``filters`` (none: no restriction) with ``as_of`` defaulting to today."""
    f = Filters(**vars(filters)) if filters else Filters()
    if not f.as_of:
        f.as_of = date.today().isoformat()
    return f


@dataclass(frozen=True)
class Written:
    """What the generate stage gives: the answer shown, how it was made, why a generated one
    was not (``note``) and what the claim check did (``claims``, once the model was asked)."""

    composed: Composed
    mode: Mode = "extractive"
    note: str | None = None
    claims: ClaimStats | None = None


@dataclass(frozen=True)
class AnswerPipeline:
    """The stages of an answer over one index.

    ``embedder`` embeds questions for search (and the claim check's sentences unless
    ``claim_encode`` does);
    ``sentence_embedder`` embeds answer sentences, and ``sentence_encode`` is its (cached)
    encode that composition calls.
    """

    index: NewsIndex
    embedder: Embedder
    sentence_embedder: Embedder
    sentence_encode: Encode
    retrieval: RetrievalConfig
    composition: ComposeConfig
    untimed_share: float
    reader: Scorer | None = None
    read_config: ReadConfig = field(default_factory=ReadConfig)
    chat: ChatClient | None = None
    generation: GenerateConfig = field(default_factory=GenerateConfig)
    claim_encode: Encode | None = None

    def check(self, view: str, mode: str) -> None:
        """Raise :class:`RequestError` for a view, mode or language model that is not available."""
        if view not in VIEWS:
            raise RequestError(f"view must be one of {', '.join(VIEWS)}")
        if mode not in MODES:
            raise RequestError(f"mode must be one of {', '.join(MODES)}")
        if mode == "generate" and self.chat is None:
            raise RequestError(
                "mode 'generate' needs a language model server: set NEWSQA_GENERATOR__URL"
            )
        if mode == "generate" and view != "answer":
            raise RequestError("mode 'generate' writes the answer view only")

    # ------------------------------------------------------------------ stages
    def plan(
        self,
        question: str,
        filters: Filters,
        history: Sequence[Mapping[str, str]] | None = None,
        asked_as_of: bool = False,
    ) -> QueryPlan:
        """How ``question`` will be retrieved (search text, time window, recency weight)."""
        return plan_query(
            question,
            history,
            date.fromisoformat(filters.as_of or date.today().isoformat()),
            asked_as_of=asked_as_of,
            recency_weight=self.retrieval.recency_weight,
            untimed_share=self.untimed_share,
        )

    def embed_query(self, text: str) -> np.ndarray:
        """``text`` as search embeds it."""
        return self.embedder.encode([text])[0]

    def retrieve(
        self, plan: QueryPlan, k: int, filters: Filters, qvec: np.ndarray
    ) -> list[Passage]:
        """The top ``k`` passages for ``plan`` (``qvec``: its text embedded)."""
        cfg = replace(self.retrieval, recency_weight=plan.recency_weight)
        return retrieve(self.index, qvec, plan.text, k, filters, cfg, plan.window)

    def evidence(
        self,
        question: str,
        plan: QueryPlan,
        qvec: np.ndarray,
        passages: list[Passage],
        view: str = "answer",
        cfg: ComposeConfig | None = None,
    ) -> Evidence:
        """What composition weighs ``passages`` with: the stored sentence vectors of those it
        considers (under ``cfg``, default the pipeline's), the archive's idf of the question's
        words and the question's vector."""
        considered = considered_passages(passages, cfg or self.composition, view)
        stored = self.index.sentence_vectors([p.chunk_id for p in considered])
        qvec_answer = self.answer_query_vector(question, plan, qvec, stored, considered)
        idf = self.index.term_idf(query_terms(question))
        return Evidence(question, passages, stored, idf, qvec_answer)

    def answer_query_vector(
        self, question: str, plan: QueryPlan, qvec: np.ndarray,
        stored: Mapping[int, np.ndarray], passages: Sequence[Passage],
    ) -> np.ndarray:
        """The question as the sentences it is compared with were embedded: the search vector
        when they agree, or when every passage composition weighs has its sentence vectors
        stored (no model runs on them, so none runs for the question either); else as the
        sentence embedder sees it. A follow-up is compared as asked, not as rewritten for
        search."""
        if self.sentence_embedder is self.embedder or all(p.chunk_id in stored for p in passages):
            return self.embed_query(question) if plan.follow_up else qvec
        return self.sentence_embedder.encode([question if plan.follow_up else plan.text])[0]

    def scored(
        self, question: str, plan: QueryPlan, qvec: np.ndarray, passages: Sequence[Passage],
        depth: int, every: bool = False,
    ) -> Scored | None:
        """The composer's scores of the candidate sentences of the first ``depth`` passages
        (what the reader's logits are fused with; ``every``: all of them, not a shortlist)."""
        cfg = replace(self.composition, passages_considered=depth)
        e = self.evidence(question, plan, qvec, list(passages), "answer", cfg)
        return score_candidates(question, passages[:depth], self.sentence_encode,
                                e.query_vector, cfg, e.idf, e.stored, every)

    def weighed(self, passages: Sequence[Passage]) -> list[Passage]:
        """The passages an answer's sentences may come from: the ones the reader reads when it
        is on, else the ones composition weighs (what a cited article must be among)."""
        if self.reader is not None:
            return list(passages[: self.read_config.passages])
        return list(considered_passages(passages, self.composition, "answer"))

    def compose(
        self, question: str, plan: QueryPlan, qvec: np.ndarray, passages: list[Passage],
        view: str,
    ) -> tuple[Composed, list[Passage]]:
        """The answer of ``view`` from ``passages`` and the passages in the order to show them:
        read by the reader when it is on (answers; the passages it read reordered by it when
        ``NEWSQA_READER__RERANK`` is on), else composed from the hand-weighted signals."""
        if self.reader is not None and view == "answer":
            rc = self.read_config
            cfg = replace(self.composition, passages_considered=rc.passages)
            scored = self.scored(question, plan, qvec, passages, rc.passages)
            reading = read_passages(question, passages, self.reader, cfg, rc, scored)
            return reading.composed, reading.reranked(passages) if rc.rerank else passages
        evidence = self.evidence(question, plan, qvec, passages, view)
        return compose_evidence(evidence, self.sentence_encode, self.composition, view), passages

    def generate(
        self,
        question: str,
        passages: Sequence[Passage],
        filters: Filters,
        extractive: Composed,
        timings: dict[str, float],
    ) -> Generator[AnswerEvent, None, Written]:
        """The model's checked answer, or the extractive one with a note saying why; its
        events as it is written (``timings["generate"]``: how long the model took)."""
        if extractive.abstained:
            yield from deltas(extractive)
            return Written(extractive, note="No passage answers the question, so the language "
                           "model was not asked.")
        assert self.chat is not None
        t = time.perf_counter()
        gen = GeneratedAnswer(
            question, passages, filters.as_of or date.today().isoformat(), self.chat,
            self.claim_encode or self.embedder.encode, self.generation,
        )
        try:
            yield from gen.run()
            note = None if gen.composed else "No sentence the language model wrote is supported " \
                "by the sources; this is the extractive answer."
        except GeneratorError as exc:
            note = f"The language model failed ({exc}); this is the extractive answer."
        timings["generate"] = (time.perf_counter() - t) * 1000
        if gen.composed is not None and note is None:
            return Written(gen.composed, "generate", None, gen.stats)
        assert note is not None
        yield NoteEvent(note)
        yield from deltas(extractive)
        return Written(extractive, "extractive", note, gen.stats)

    # ------------------------------------------------------------------ the whole answer
    def search(self, query: str, k: int, filters: Filters | None = None) -> list[Passage]:
        """Ranked passages for ``query`` (plan and retrieve, no answer)."""
        return self.searched(query, k, filters)[2]

    def searched(
        self, query: str, k: int, filters: Filters | None = None,
        vector: np.ndarray | None = None,
    ) -> tuple[QueryPlan, np.ndarray, list[Passage]]:
        """:meth:`search` with the plan and the query vector it retrieved with (what
        :meth:`scored` needs to weigh the passages as an answer does). ``vector``: ``query``
        as :meth:`embed_query` embeds it, used when the plan searches for ``query`` itself."""
        f = resolve_filters(filters)
        plan = self.plan(query, f, asked_as_of=bool(filters and filters.as_of))
        qvec = vector if vector is not None and plan.text == query else self.embed_query(plan.text)
        return plan, qvec, self.retrieve(plan, k, f, qvec)

    def run(self, request: AnswerRequest) -> Iterator[AnswerEvent]:
        """Answer ``request``: a ``sources`` event, the answer's events, last ``done`` with the
        :class:`~newsqa.records.Answer` (``timings_ms``: embed, retrieve, compose, generate
        and total, in milliseconds)."""
        r, f = request, resolve_filters(request.filters)
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        asked_as_of = bool(r.filters and r.filters.as_of)
        plan = self.plan(r.question, f, r.history, asked_as_of=asked_as_of)
        qvec = self.embed_query(plan.text)
        timings["embed"] = (time.perf_counter() - t0) * 1000
        t1 = time.perf_counter()
        got = self.retrieve(plan, r.k or self.retrieval.k, f, qvec)
        timings["retrieve"] = (time.perf_counter() - t1) * 1000
        t2 = time.perf_counter()
        composed, got = self.compose(r.question, plan, qvec, got, r.view)
        if composed.abstained and (english := not_english_note(r.question)):
            composed = replace(composed, segments=[Segment(f"{ABSTAIN_TEXT} {english}", [])])
        timings["compose"] = (time.perf_counter() - t2) * 1000
        yield SourcesEvent(got)
        if r.mode == "generate":
            written = yield from self.generate(r.question, got, f, composed, timings)
        else:
            yield from deltas(composed)
            written = Written(composed)
        timings["total"] = (time.perf_counter() - t0) * 1000
        shown = written.composed
        yield DoneEvent(Answer(
            question=r.question, answer=shown.answer, segments=shown.segments,
            abstained=shown.abstained, view=r.view, evidence=round(shown.evidence, 4),
            citations=shown.citations, passages=got, filters=f,
            timings_ms={k_: round(v, 1) for k_, v in timings.items()},
            mode=written.mode, note=written.note, claims=written.claims,
        ))
