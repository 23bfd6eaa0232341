"""The one service object behind every front end (CLI, HTTP API, web chat)."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from collections.abc import Generator as Generator_
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from newsqa import __version__
from newsqa.embedding.base import Embedder
from newsqa.embedding.cache import VectorCache
from newsqa.embedding.factory import (
    backend_precision,
    check_backend,
    embed_backends,
    index_backend,
    load,
    sentence_embedder,
    stored_manifest,
)
from newsqa.index.store import FORMAT_VERSION, IndexMismatchError, NewsIndex
from newsqa.ingest.chunk import ChunkSpec, embed_text, sentence_spans
from newsqa.ingest.pipeline import Ingestor, IngestProgress, IngestReport
from newsqa.models import Article, Filters, LoadProblem, Passage
from newsqa.query.compose import (
    VIEWS,
    ComposeConfig,
    Composed,
    compose,
    considered_passages,
    render_text,
)
from newsqa.query.generate import Event, GenerateConfig, GeneratedAnswer
from newsqa.query.llm import Generator, GeneratorConfig, GeneratorError
from newsqa.query.plan import QueryPlan, plan_query
from newsqa.query.read import ReadConfig, Scorer, read_passages
from newsqa.query.retrieve import RetrievalConfig, retrieve
from newsqa.settings import Settings, get_settings
from newsqa.text import query_terms

ProgressFn = Callable[[IngestProgress], None]
MODES = ("extractive", "generate")
#: Articles per write when Ray embeds: one Ray Data pass (and one start of its worker actors)
#: per this many articles, each still written in one transaction.
RAY_BATCH_ARTICLES = 4000


class RequestError(ValueError):
    """A request the service cannot serve as asked (an unknown view, generation while no
    language model is configured); the HTTP API answers it with 422."""


def search_manifest(settings: Settings, stored: dict[str, Any]) -> dict[str, str]:
    """The manifest keys of the search backend: ``backend`` (that of the ``stored`` manifest
    unless ``NEWSQA_BACKEND`` says otherwise, ``local`` for a new index) and, for ``milvus``,
    the name of the collection this index owns."""
    backend = settings.backend or stored.get("backend") or "local"
    if backend == "local":
        return {"backend": "local"}
    collection = stored.get("milvus_collection") or f"newsqa_{uuid.uuid4().hex[:16]}"
    return {"backend": backend, "milvus_collection": collection}


log = logging.getLogger("newsqa")


def configured_reader(settings: Settings) -> tuple[Scorer | None, ReadConfig]:
    """The reader ``settings`` ask for: the one in ``NEWSQA_READER_DIR``, else the package's
    (None when ``NEWSQA_READER=off``, or when neither exists, which is logged), and how answers
    use it."""
    read = ReadConfig(passages=settings.reader_passages, rerank=settings.reader_rerank)
    if settings.reader == "off":
        return None, read
    from newsqa.reader.runtime import load_reader, shipped

    if settings.reader_dir is None and not shipped():
        log.info("NEWSQA_READER=on but the package holds no reader: sentence scoring is used")
        return None, read
    reader = load_reader(settings.reader_dir)
    below = settings.reader_abstain_below
    read.abstain_below = reader.info.abstain_below if below is None else below
    read.rank_penalty = reader.info.rank_penalty
    return reader, read


class NewsQA:
    """Ingest, search and answer over one index directory."""

    def __init__(
        self,
        settings: Settings,
        index: NewsIndex,
        embedder: Embedder,
        sentence_embedder: Embedder | None = None,
        ingest_backend: str | None = None,
    ) -> None:
        self.settings = settings
        self.index = index
        self.embedder = embedder
        #: Embeds candidate answer sentences and the question they are compared with.
        self.sentence_embedder = sentence_embedder or embedder
        self._sentence_vectors = VectorCache(self.sentence_embedder)
        self._ingest_backend = ingest_backend or embedder.backend
        #: Set once an answer has been given (a server warms its caches after the first one).
        self.answered = threading.Event()
        self._closing = threading.Event()
        m = index.manifest
        self.spec = ChunkSpec(
            int(m["chunk_tokens"]), int(m["chunk_overlap"]), int(m["max_wordpieces"])
        )
        s = settings
        self.retrieval = RetrievalConfig(
            candidates=s.candidates,
            rrf_k=s.rrf_k,
            lexical_weight=s.lexical_weight,
            title_weight=s.title_weight,
            recency_weight=s.recency_weight,
            recency_half_life_days=s.recency_half_life_days,
            window_weight=s.window_weight,
            lead_weight=s.lead_weight,
        )
        self.composition = ComposeConfig(
            max_sentences=s.answer_max_sentences,
            max_words=s.answer_max_words,
            abstain_threshold=s.abstain_threshold,
            coverage_penalty=s.coverage_penalty,
            absence_penalty=s.absence_penalty,
        )
        self.reader, self.read = configured_reader(s)
        self.generator = (
            Generator(GeneratorConfig(
                s.generator_url, s.generator_model, s.generator_key, s.generator_timeout,
                s.generator_max_tokens,
            ))
            if s.generator_url else None
        )
        self.generation = GenerateConfig(
            s.generator_passages, s.answer_max_sentences, s.claim_min_similarity,
            s.unsupported_claims,
        )

    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        *,
        create: bool = True,
        embedder: Embedder | None = None,
    ) -> NewsQA:
        """Open (or create) the index named by ``settings.index`` with the configured model."""
        settings = settings or get_settings()
        stored = stored_manifest(Path(settings.index))
        query_backend, ingest_backend = embed_backends(
            settings, index_backend(Path(settings.index), stored)
        )
        given = embedder
        embedder = embedder or load(settings, query_backend)
        if given is not None or embedder.backend == "hash":
            ingest_backend = embedder.backend
        manifest = {
            "model": embedder.name,
            "dim": embedder.dim,
            "embed_backend": ingest_backend,
            "embed_precision": embedder.precision if ingest_backend == embedder.backend
            else backend_precision(ingest_backend, settings.embed_precision),
            "tokenizer": "cl100k_base",
            "chunk_tokens": settings.chunk_tokens,
            "chunk_overlap": settings.chunk_overlap,
            "max_wordpieces": embedder.max_seq_length,
            "format_version": FORMAT_VERSION,
            "newsqa_version": __version__,
            **search_manifest(settings, stored),
        }
        index = NewsIndex.open(
            Path(settings.index), manifest, create=create, search_uri=settings.milvus_uri,
            search_token=settings.milvus_token, vector_codec=settings.vector_codec,
        )
        try:
            check_backend(index.manifest, embedder, Path(settings.index))
        except IndexMismatchError:
            index.close()
            raise
        # An embedder handed in (a test's fake) embeds everything itself.
        sentences = sentence_embedder(settings, embedder) if given is None else embedder
        return cls(settings, index, embedder, sentences, ingest_backend)

    def close(self) -> None:
        """Release the index."""
        self._closing.set()
        self.index.close()

    def warm(self, after_first_answer: float = 30.0) -> int:
        """Make the BM25 postings of the archive's common words resident, once the first answer
        is out (or ``after_first_answer`` seconds have passed), so the start is not slowed:
        loaded from the index's postings file, or read and that file written (about 40 s for
        a year of news). Returns the words resident (0 once closed)."""
        self.answered.wait(after_first_answer)
        if self._closing.is_set():
            return 0
        try:
            return self.index.warm_lexical(self.retrieval.title_weight, stop=self._closing)
        except sqlite3.Error:  # closed under it: warming is only ever a head start
            return 0

    def keep_warm(self, quiet: float = 10.0) -> None:
        """:meth:`warm`, then warm again whenever the archive has changed (here or in another
        process) and then stayed unchanged for ``quiet`` seconds, until closed: a server
        calls this in a thread."""
        self.warm()
        last = None
        while not self._closing.wait(quiet):
            try:
                gen = self.index.generation
            except sqlite3.Error:
                return
            if gen == last and gen != self.index.warm_generation:
                self.warm(after_first_answer=0)
            last = gen

    # ------------------------------------------------------------------ ingest
    def ingest(
        self,
        paths: Sequence[str | Path],
        progress: ProgressFn | None = None,
        ray: str | None = None,
        ray_workers: int | None = None,
    ) -> IngestReport:
        """Ingest files and folders in any supported format.

        ``ray`` (``auto`` or a cluster address) embeds with Ray Data on that cluster's workers
        (``ray_workers`` of them; the ``scale`` extra), writing through this index as usual.
        Raises :class:`~newsqa.index.store.IndexBusyError` at once while another ingest or
        delete (in this or another process) writes to the index.
        """
        from newsqa.ingest.load import iter_articles

        s = self.settings
        records = iter_articles(
            paths, s.max_article_bytes,
            max_file_bytes=s.max_file_bytes, max_line_bytes=s.max_line_bytes,
        )
        return self.ingest_records(records, progress, ray, ray_workers)

    def ingest_records(
        self,
        records: Sequence[Article | LoadProblem] | Iterator[Article | LoadProblem],
        progress: ProgressFn | None = None,
        ray: str | None = None,
        ray_workers: int | None = None,
        snapshot: bool = True,
    ) -> IngestReport:
        """Ingest already-loaded articles (problems among them are reported and skipped).

        ``snapshot=False`` leaves the vector snapshot as it was (the change log keeps the index
        whole; a feed follower writes the snapshot now and then rather than after every poll).
        """
        embedder, batch = self.ingest_embedder(), self.settings.ingest_batch_articles
        if ray:
            embedder, batch = self._ray_embedder(ray, ray_workers), RAY_BATCH_ARTICLES
        return Ingestor(
            self.index, embedder, self.spec, batch,
            sentence_vectors=self.settings.sentence_vectors, snapshot=snapshot,
        ).run(records, progress)

    def add_sentence_vectors(
        self, progress: Callable[[int, int], None] | None = None, batch: int = 256
    ) -> int:
        """Store title and sentence vectors for the chunks of an index made before they were
        (or with them off), newest first, so its answers need no model run per sentence; the
        vectors come from the answer-sentence embedder, reading each chunk once. Holds the
        writer lock; ``progress(done, total)`` after each batch. Returns the chunks done.

        Raises :class:`RequestError` when no embedder here can make them (the hash fake can).
        """
        embedder = self.sentence_embedder
        spans_of = getattr(embedder, "encode_spans", None)
        if spans_of is None:
            raise RequestError(f"the {embedder.backend} embedder cannot make sentence vectors")
        done = 0
        with self.index.writer():
            total, rows = self.index.chunks_without_sentences(batch)
            while rows and not self._closing.is_set():
                texts = [embed_text(title, text) for _, title, text in rows]
                spans = [sentence_spans(title, text) for _, title, text in rows]
                _, vectors = spans_of(texts, spans)
                done += self.index.add_sentence_vectors(
                    [(cid, v) for (cid, _, _), v in zip(rows, vectors, strict=True)])
                if progress is not None:
                    progress(done, total)
                _, rows = self.index.chunks_without_sentences(batch)
        return done

    def ingest_embedder(self) -> Embedder:
        """The embedder of new passages, loaded on the first ingest: for fp32 vectors torch,
        faster than ONNX Runtime on batches of long texts (~30 against ~27 chunks/s here), so
        a process that only answers never loads torch; else the query embedder."""
        if self._ingest_backend == self.embedder.backend:
            return self.embedder
        return load(self.settings, self._ingest_backend)

    def _ray_embedder(self, address: str, workers: int | None) -> Embedder:
        from newsqa.ingest.distributed import ray_embedder

        s = self.settings
        base = self.ingest_embedder()
        return ray_embedder(
            base, address, workers, s.model_path, s.embed_batch_size,
            s.embed_precision, base.backend,
            str(s.cache_dir) if s.cache_dir else None,
        )

    def delete(self, id_or_url: str) -> bool:
        """Remove an article by id or URL; False when there is none.

        Raises :class:`~newsqa.index.store.IndexBusyError` while another ingest or delete writes.
        """
        return self.index.delete(id_or_url)

    # ------------------------------------------------------------------ query
    def _filters(self, filters: Filters | None) -> Filters:
        f = Filters(**vars(filters)) if filters else Filters()
        if not f.as_of:
            f.as_of = date.today().isoformat()
        return f

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
            untimed_share=self.settings.recency_untimed_share,
        )

    def _retrieve(self, plan: QueryPlan, k: int, f: Filters, qvec: np.ndarray) -> list[Passage]:
        cfg = replace(self.retrieval, recency_weight=plan.recency_weight)
        return retrieve(self.index, qvec, plan.text, k, f, cfg, plan.window)

    def _embed_query(self, text: str) -> np.ndarray:
        return self.embedder.encode([text])[0]

    def _answer_query_vector(
        self, question: str, plan: QueryPlan, qvec: np.ndarray,
        stored: Mapping[int, np.ndarray], passages: Sequence[Passage],
    ) -> np.ndarray:
        """The question as the sentences it is compared with were embedded: the search vector
        when they agree, or when every passage composition weighs has its sentence vectors
        stored (no model runs on them, so none runs for the question either); else as the
        sentence embedder sees it. A follow-up is compared as asked, not as rewritten for
        search."""
        if self.sentence_embedder is self.embedder or all(p.chunk_id in stored for p in passages):
            return self._embed_query(question) if plan.follow_up else qvec
        return self.sentence_embedder.encode([question if plan.follow_up else plan.text])[0]

    def search(
        self, query: str, k: int | None = None, filters: Filters | None = None
    ) -> list[Passage]:
        """Ranked passages for ``query`` (no answer composition)."""
        f = self._filters(filters)
        plan = self.plan(query, f, asked_as_of=bool(filters and filters.as_of))
        return self._retrieve(plan, k or self.settings.k, f, self._embed_query(plan.text))

    def ask(
        self,
        question: str,
        k: int | None = None,
        filters: Filters | None = None,
        history: Sequence[Mapping[str, str]] | None = None,
        view: str = "answer",
        mode: str = "extractive",
    ) -> dict[str, Any]:
        """Answer ``question`` with cited sentences, or abstain; see README for the shape."""
        result: dict[str, Any] = {}
        for event, data in self.ask_stream(question, k, filters, history, view, mode):
            if event == "done":
                result = data
        return result

    def ask_stream(
        self,
        question: str,
        k: int | None = None,
        filters: Filters | None = None,
        history: Sequence[Mapping[str, str]] | None = None,
        view: str = "answer",
        mode: str = "extractive",
    ) -> Iterator[Event]:
        """Answer as events: ``sources`` (passages), one ``delta`` per answer segment, ``done``.

        ``view`` is ``answer`` (a few cited sentences), ``timeline`` (evidence by publication
        date) or ``outlets`` (evidence grouped by outlet). ``mode="generate"`` has the
        configured language model write the answer: then ``token`` events carry its text as it
        arrives, a ``claim`` event per sentence says whether the sources support it, and a
        ``note`` event says that the extractive answer follows instead (what was shown of the
        generated one is withdrawn). Raises :class:`RequestError` at once, before any event,
        for a view, mode or generator that is not available.
        """
        self._check_mode(view, mode)
        return self._ask_events(question, k, filters, history, view, mode)

    def _ask_events(
        self,
        question: str,
        k: int | None,
        filters: Filters | None,
        history: Sequence[Mapping[str, str]] | None,
        view: str,
        mode: str,
    ) -> Iterator[Event]:
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        f = self._filters(filters)
        plan = self.plan(question, f, history, asked_as_of=bool(filters and filters.as_of))
        qvec = self._embed_query(plan.text)
        timings["embed"] = (time.perf_counter() - t0) * 1000
        t1 = time.perf_counter()
        got = self._retrieve(plan, k or self.settings.k, f, qvec)
        timings["retrieve"] = (time.perf_counter() - t1) * 1000
        t2 = time.perf_counter()
        composed, got = self._compose(question, plan, qvec, got, view)
        timings["compose"] = (time.perf_counter() - t2) * 1000
        passages = [p.to_dict() for p in got]
        yield "sources", {"passages": passages}
        extra: dict[str, Any] = {"mode": "extractive", "note": None, "claims": None}
        if mode == "generate":
            composed = yield from self._generated(question, got, f, composed, extra, timings)
        else:
            yield from _deltas(composed)
        timings["total"] = (time.perf_counter() - t0) * 1000
        self.answered.set()
        yield "done", {**self._result(question, view, f, composed, passages, timings), **extra}

    def _compose(
        self, question: str, plan: QueryPlan, qvec: np.ndarray, got: list[Passage], view: str
    ) -> tuple[Composed, list[Passage]]:
        """The answer of ``view`` from ``got`` and the passages in the order to show them: read
        by the reader when it is on (answers; the passages it read reordered by it when
        ``NEWSQA_READER_RERANK`` is on), else composed from the hand-weighted signals."""
        if self.reader is not None and view == "answer":
            reading = read_passages(question, got, self.reader, self.composition, self.read)
            return reading.composed, reading.reranked(got) if self.read.rerank else got
        considered = considered_passages(got, self.composition, view)
        stored = self.index.sentence_vectors([p.chunk_id for p in considered])
        qvec_answer = self._answer_query_vector(question, plan, qvec, stored, considered)
        idf = self.index.term_idf(query_terms(question))
        return compose(
            question, got, self._sentence_vectors.encode, qvec_answer, self.composition, view,
            idf, stored,
        ), got

    def _check_mode(self, view: str, mode: str) -> None:
        if view not in VIEWS:
            raise RequestError(f"view must be one of {', '.join(VIEWS)}")
        if mode not in MODES:
            raise RequestError(f"mode must be one of {', '.join(MODES)}")
        if mode == "generate" and self.generator is None:
            raise RequestError(
                "mode 'generate' needs a language model server: set NEWSQA_GENERATOR_URL"
            )
        if mode == "generate" and view != "answer":
            raise RequestError("mode 'generate' writes the answer view only")

    def _generated(
        self,
        question: str,
        got: Sequence[Passage],
        f: Filters,
        extractive: Composed,
        extra: dict[str, Any],
        timings: dict[str, float],
    ) -> Generator_[Event, None, Composed]:
        """The model's checked answer, or the extractive one with a note saying why."""
        if extractive.abstained:
            extra["note"] = "No passage answers the question, so the language model was not asked."
            yield from _deltas(extractive)
            return extractive
        assert self.generator is not None
        t = time.perf_counter()
        gen = GeneratedAnswer(
            question, got, f.as_of or date.today().isoformat(), self.generator,
            self.embedder.encode, self.generation,
        )
        try:
            yield from gen.run()
            note = None if gen.composed else "No sentence the language model wrote is supported " \
                "by the sources; this is the extractive answer."
        except GeneratorError as exc:
            note = f"The language model failed ({exc}); this is the extractive answer."
        timings["generate"] = (time.perf_counter() - t) * 1000
        extra["claims"] = gen.stats.to_dict()
        if gen.composed is not None and note is None:
            extra["mode"] = "generate"
            return gen.composed
        extra["note"] = note
        yield "note", {"text": note}
        yield from _deltas(extractive)
        return extractive

    @staticmethod
    def _result(
        question: str,
        view: str,
        f: Filters,
        composed: Composed,
        passages: list[dict[str, Any]],
        timings: dict[str, float],
    ) -> dict[str, Any]:
        return {
            "question": question,
            "answer": composed.answer,
            "segments": [seg.to_dict() for seg in composed.segments],
            "abstained": composed.abstained,
            "view": view,
            "evidence": round(composed.evidence, 4),
            "citations": [c.to_dict() for c in composed.citations],
            "passages": passages,
            "filters": vars(f),
            "timings_ms": {k_: round(v, 1) for k_, v in timings.items()},
        }

    @property
    def generator_model(self) -> str | None:
        """The configured language model's name, None when generated answers are off."""
        return self.settings.generator_model if self.generator else None

    # ------------------------------------------------------------------ browse
    def article(self, id_or_url: str) -> dict[str, Any] | None:
        """One article with metadata and full text."""
        return self.index.article(id_or_url)

    def list_articles(
        self, filters: Filters | None = None, offset: int = 0, limit: int = 20
    ) -> dict[str, Any]:
        """A page of articles, newest first: ``{"total", "offset", "limit", "items"}``."""
        total, items = self.index.list_articles(filters, offset, limit)
        return {"total": total, "offset": offset, "limit": limit, "items": items}

    def stats(self) -> dict[str, Any]:
        """Index counts, date range, manifest."""
        return self.index.stats()

    def health(self) -> dict[str, Any]:
        """Liveness plus index size, model and version."""
        st = self.index.stats()
        return {
            "status": "ok",
            "version": __version__,
            "model": self.embedder.name,
            "index": st["index"],
            "articles": st["articles"],
            "chunks": st["chunks"],
            "generator": self.generator_model,
        }


def _deltas(composed: Composed) -> Iterator[Event]:
    """One ``delta`` event per segment, its text rendered with its ``[n]`` markers."""
    last = len(composed.segments) - 1
    for i, seg in enumerate(composed.segments):
        piece = render_text([seg]) + (composed.joiner if i < last else "")
        yield "delta", {"text": piece, "segment": seg.to_dict()}
