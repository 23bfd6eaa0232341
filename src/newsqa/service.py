"""The one service object behind every front end (CLI, HTTP API, web chat)."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from newsqa import __version__
from newsqa.assemble import Parts, assemble, load
from newsqa.embedding.base import Embedder, bulk_work
from newsqa.embedding.cache import VectorCache
from newsqa.ingest.chunk import ChunkSpec, embed_text, sentence_spans
from newsqa.ingest.pipeline import Ingestor, IngestProgress, IngestReport
from newsqa.query.answer import AnswerPipeline, RequestError
from newsqa.query.events import AnswerEvent, DoneEvent
from newsqa.records import Answer, AnswerRequest, Article, Filters, LoadProblem, Passage
from newsqa.settings import Settings, get_settings
from newsqa.watch.watches import Watches

ProgressFn = Callable[[IngestProgress], None]
#: Articles per write when Ray embeds: one Ray Data pass (and one start of its worker actors)
#: per this many articles, each still written in one transaction.
RAY_BATCH_ARTICLES = 4000


class NewsQA:
    """Ingest, search and answer over one index directory."""

    def __init__(self, settings: Settings, parts: Parts) -> None:
        self.settings = settings
        self.index = parts.index
        self.embedder = parts.embedder
        #: Embeds candidate answer sentences and the question they are compared with.
        self.sentence_embedder = parts.sentence_embedder
        self._sentence_vectors = VectorCache(self.sentence_embedder)
        self._ingest_backend = parts.ingest_backend
        #: Set once an answer has been given (a server warms its caches after the first one).
        self.answered = threading.Event()
        self._closing = threading.Event()
        m = parts.index.manifest
        self.spec = ChunkSpec(m.chunk_tokens, m.chunk_overlap, m.max_wordpieces)
        self.retrieval = settings.retrieval
        self.composition = settings.composition
        self.reader, self.read_config = parts.reader, parts.read_config
        #: The language model that writes generated answers (None when they are off).
        self.chat = parts.chat
        self.claim_encode = parts.claim_encode
        #: Watched questions, asked again when the archive changes (:mod:`newsqa.watch`).
        self.watches = Watches(self)

    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        *,
        create: bool = True,
        embedder: Embedder | None = None,
    ) -> NewsQA:
        """Open (or create) the index named by ``settings.index.path`` with the configured model
        (``embedder``, a test's fake, replaces it); :func:`newsqa.assemble.assemble` makes
        the parts."""
        settings = settings or get_settings()
        return cls(settings, assemble(settings, create=create, embedder=embedder))

    def close(self) -> None:
        """Release the index."""
        self._closing.set()
        self.watches.close()
        self.index.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called (background work ends at its next round)."""
        return self._closing.is_set()

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
        include_all: bool = False,
    ) -> IngestReport:
        """Ingest files and folders in any supported format (``include_all``: also the text
        files of a folder that are not news, such as a README; see ``iter_articles``).

        ``ray`` (``auto`` or a cluster address) embeds with Ray Data on that cluster's workers
        (``ray_workers`` of them; the ``scale`` extra), writing through this index as usual.
        Raises :class:`~newsqa.index.store.IndexBusyError` at once while another ingest or
        delete (in this or another process) writes to the index.
        """
        return self.ingest_records(self.load(paths, include_all), progress, ray, ray_workers)

    def load(
        self, paths: Sequence[str | Path], include_all: bool = False
    ) -> Iterator[Article | LoadProblem]:
        """The articles and problems of files and folders, read lazily within the ingest
        settings' limits (what :meth:`ingest` writes)."""
        from newsqa.ingest.load import iter_articles

        s = self.settings.ingest
        return iter_articles(
            paths, s.max_article_bytes,
            max_file_bytes=s.max_file_bytes, max_line_bytes=s.max_line_bytes,
            include_all=include_all,
        )

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
        embedder, batch = self.ingest_embedder(), self.settings.ingest.batch_articles
        seconds: float | None = self.settings.ingest.commit_seconds
        if ray:
            embedder, batch = self._ray_embedder(ray, ray_workers), RAY_BATCH_ARTICLES
            seconds = None  # Ray spreads one large batch over its workers
        report = Ingestor(
            self.index, embedder, self.spec, batch,
            sentence_vectors=self.settings.embedding.sentence_vectors, snapshot=snapshot,
            commit_seconds=seconds,
        ).run(records, progress)
        if report.added or report.updated:
            self.check_watches()
        return report

    def check_watches(self) -> int:
        """Ask again the watched questions the archive's latest changes concern (a failure is
        logged, never raised: the change itself is done). Returns the notices recorded."""
        try:
            return len(self.watches.check())
        except Exception:  # noqa: BLE001 - an ingest or delete must not fail on its watches
            logging.getLogger("newsqa.watch").exception("checking the watches failed")
            return 0

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
                with bulk_work():
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

        s = self.settings.embedding
        base = self.ingest_embedder()
        return ray_embedder(
            base, address, workers, s.model_path, s.batch_size,
            s.precision, base.backend,
            str(s.cache_dir) if s.cache_dir else None,
        )

    def delete(self, id_or_url: str) -> bool:
        """Remove an article by id or URL; False when there is none.

        Raises :class:`~newsqa.index.store.IndexBusyError` while another ingest or delete writes.
        """
        deleted = self.index.delete(id_or_url)
        if deleted:
            self.check_watches()
        return deleted

    # ------------------------------------------------------------------ query
    def pipeline(self) -> AnswerPipeline:
        """The answer pipeline's stages over this service's index, embedders and configs (as
        they are now: a test may have swapped one)."""
        return AnswerPipeline(
            self.index, self.embedder, self.sentence_embedder, self._sentence_vectors.encode,
            self.retrieval, self.composition, self.retrieval.recency_untimed_share,
            self.reader, self.read_config, self.chat, self.settings.generation, self.claim_encode,
        )

    def search(
        self, query: str, k: int | None = None, filters: Filters | None = None
    ) -> list[Passage]:
        """Ranked passages for ``query`` (no answer composition)."""
        return self.pipeline().search(query, k or self.retrieval.k, filters)

    def answer(self, request: AnswerRequest) -> Answer:
        """Answer ``request`` with cited sentences, or abstain (the JSON form, ``to_dict()``, is
        in the README); raises :class:`RequestError` as :meth:`answer_events` does."""
        for event in self.answer_events(request):
            if isinstance(event, DoneEvent):
                return event.answer
        raise AssertionError("the answer pipeline ended without an answer")

    def answer_events(self, request: AnswerRequest) -> Iterator[AnswerEvent]:
        """The answer as typed events (:mod:`newsqa.query.events`; ``event.wire()`` is the name
        and JSON data the API streams): ``sources`` (passages), one ``delta`` per answer
        segment, last ``done`` with the :class:`~newsqa.records.Answer`.

        ``view`` is ``answer`` (a few cited sentences), ``timeline`` (evidence by publication
        date) or ``outlets`` (evidence grouped by outlet). ``mode="generate"`` has the
        configured language model write the answer: then ``token`` events carry its text as it
        arrives, a ``claim`` event per sentence says whether the sources support it, and a
        ``note`` event says that the extractive answer follows instead (what was shown of the
        generated one is withdrawn). Raises :class:`RequestError` at once, before any event,
        for a view, mode or language model that is not available.
        """
        pipeline = self.pipeline()
        pipeline.check(request.view, request.mode)
        return self._answered(pipeline.run(request))

    def _answered(self, events: Iterator[AnswerEvent]) -> Iterator[AnswerEvent]:
        for event in events:
            if isinstance(event, DoneEvent):
                self.answered.set()
            yield event

    @property
    def generator_model(self) -> str | None:
        """The configured language model's name, None when generated answers are off."""
        return self.settings.generator.model if self.chat else None

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

