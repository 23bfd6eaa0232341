"""The ingest pipeline: load → clean → chunk → embed → index, in atomic batches with progress."""

from __future__ import annotations

import hashlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from itertools import islice
from typing import Any

import numpy as np

from newsqa.embedding.base import Embedder, bulk_work
from newsqa.index.store import ArticleRow, NewsIndex
from newsqa.ingest.chunk import ChunkSpec, chunk_text, embed_text, sentence_spans
from newsqa.ingest.dedupe import assign_clusters
from newsqa.records import Article, LoadProblem, LoadWarning, NotRead

log = logging.getLogger("newsqa.ingest")


@dataclass
class IngestProgress:
    """A progress event: chunks embedded out of those known so far, articles read so far and,
    while inputs are read (stage ``read``), the one being read."""

    stage: str
    articles_read: int
    chunks_done: int
    chunks_total: int
    reading: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON form (HTTP progress events)."""
        return asdict(self)


PROBLEMS_PER_FILE = 20
"""Problems listed per input file; the rest of a file's are counted in ``omitted``."""
PROBLEMS_LISTED = 500
"""Problems listed in all (a JSON body names each item as its own path)."""
ITEMS_LISTED = 10_000
"""Per-article rows kept; the rest are counted in ``items_omitted``."""
PATHS_COUNTED = 1_000
"""Files whose unlisted problems are counted one by one; later ones share one count."""
FIRST_CHUNKS = 32
"""Chunks embedded before the first timed write, when no embedding rate is known yet."""
READ_EVERY = 0.25
"""Seconds between ``read`` progress events while inputs are read."""


@dataclass
class IngestReport:
    """What an ingest did, bounded in memory however large the input.

    ``skipped`` counts the inputs that were reported and skipped and ``warnings`` those kept
    despite a fault (exact counts). ``problems`` lists both kinds (a ``LoadWarning`` is a
    warning), at most ``PROBLEMS_PER_FILE`` per file and ``PROBLEMS_LISTED`` in all;
    ``omitted`` counts, per file, those not listed. ``items`` has one row per article (id,
    status, origin) up to ``ITEMS_LISTED``; ``items_omitted`` counts the rest.
    """

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    chunks: int = 0
    wire_copies: int = 0
    skipped: int = 0
    warnings: int = 0
    problems: list[LoadProblem] = field(default_factory=list)
    omitted: dict[str | None, int] = field(default_factory=dict)
    seconds: float = 0.0
    items: list[dict[str, Any]] = field(default_factory=list)
    items_omitted: int = 0
    #: Articles written (committed) so far: what an interrupted run kept.
    saved: int = 0
    #: What the walk of a folder passed over (not an error), counted by kind (".pdf", "hidden
    #: folder", "not news"), and the first ``PROBLEMS_LISTED`` of them.
    not_read: dict[str, int] = field(default_factory=dict)
    not_read_listed: list[NotRead] = field(default_factory=list)
    _listed: dict[str, int] = field(default_factory=dict, repr=False)

    def add_problem(self, problem: LoadProblem) -> None:
        """Count a problem (or warning) and list it if its file has not had its share yet;
        count a :class:`NotRead` by its kind."""
        if isinstance(problem, NotRead):
            self.not_read[problem.kind] = self.not_read.get(problem.kind, 0) + 1
            if len(self.not_read_listed) < PROBLEMS_LISTED:
                self.not_read_listed.append(problem)
            return
        if isinstance(problem, LoadWarning):
            self.warnings += 1
        else:
            self.skipped += 1
        listed = self._listed.get(problem.path, 0)
        if listed < PROBLEMS_PER_FILE and len(self.problems) < PROBLEMS_LISTED:
            self._listed[problem.path] = listed + 1
            self.problems.append(problem)
            return
        key: str | None = problem.path
        if key not in self.omitted and len(self.omitted) >= PATHS_COUNTED:
            key = None  # "other files"
        self.omitted[key] = self.omitted.get(key, 0) + 1

    def add_item(self, article_id: str, status: str, origin: str) -> None:
        """Record what happened to one article (listed up to ``ITEMS_LISTED``)."""
        if len(self.items) < ITEMS_LISTED:
            self.items.append({"id": article_id, "status": status, "origin": origin})
        else:
            self.items_omitted += 1

    def to_dict(self) -> dict[str, Any]:
        """JSON form used by the CLI and the HTTP API."""
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "warnings": self.warnings,
            "chunks": self.chunks,
            "wire_copies": self.wire_copies,
            "seconds": round(self.seconds, 3),
            "problems": [
                {"path": p.path, "line": p.line, "reason": p.reason,
                 "kind": "warning" if isinstance(p, LoadWarning) else "skipped"}
                for p in self.problems
            ],
            "omitted": [{"path": path, "count": n} for path, n in self.omitted.items()],
            "items": self.items,
            "items_omitted": self.items_omitted,
        }


class IngestInterrupted(KeyboardInterrupt):
    """An ingest stopped by the user (Ctrl-C); ``report.saved`` articles were committed and stay
    (each write is one transaction), and running the ingest again skips them."""

    def __init__(self, report: IngestReport) -> None:
        super().__init__()
        self.report = report


@contextmanager
def _held_interrupt() -> Iterator[None]:
    """Hold back Ctrl-C (SIGINT) until the block ends, in the main thread: a batch is written
    and counted as saved together, so an interrupted ingest says exactly what it kept."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        if callable(previous):
            previous(signal.SIGINT, None)
        elif previous == signal.SIG_DFL:
            raise KeyboardInterrupt


def content_hash(a: Article) -> str:
    """Fingerprint of everything that, when changed, makes a re-ingest replace the article."""
    parts = [a.title, a.text, a.published_at or "", a.source or "", "|".join(a.authors)]
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()


def article_id(a: Article, digest: str) -> str:
    """Stable id: the given one, else derived from the URL, else from the content."""
    if a.id:
        return str(a.id)
    key = a.url or f"sha1:{digest}"
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def _batched(items: Iterable[Any], n: int) -> Iterator[list[Any]]:
    it = iter(items)
    while batch := list(islice(it, n)):
        yield batch


def _latest_records(
    window: Sequence[Article | LoadProblem], report: IngestReport
) -> list[tuple[Article, str, str]]:
    """The articles of ``window`` as (article, id, content hash), problems moved to ``report``.

    When two records name the same article (same URL or same id) the later one wins, as an
    update would, and the earlier is reported, never dropped silently; a verbatim repeat counts
    as unchanged.
    """
    todo: dict[int, tuple[Article, str, str]] = {}
    slot_of: dict[str, int] = {}  # URL or article id -> position in todo
    for n, rec in enumerate(window):
        if isinstance(rec, LoadProblem):
            report.add_problem(rec)  # reported once, by whoever shows the report
            continue
        digest = content_hash(rec)
        aid = article_id(rec, digest)
        keys = [k for k in (rec.url, aid) if k]
        for slot in {slot_of[k] for k in keys if k in slot_of}:
            earlier, _, earlier_digest = todo.pop(slot)
            if earlier_digest == digest:  # a verbatim repeat: nothing is lost
                report.unchanged += 1
                continue
            report.add_problem(
                LoadProblem(
                    earlier.origin,
                    f"same article as a later record ({rec.origin}), which replaces it",
                )
            )
        for k in keys:
            slot_of[k] = n
        todo[n] = (rec, aid, digest)
    return list(todo.values())


class Ingestor:
    """Turns loaded articles into index rows, batch by batch (each batch one transaction)."""

    def __init__(
        self,
        index: NewsIndex,
        embedder: Embedder,
        spec: ChunkSpec,
        batch_articles: int = 128,
        window: int = 4000,
        sentence_vectors: bool = True,
        snapshot: bool = True,
        commit_seconds: float | None = None,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.spec = spec
        self.batch_articles = batch_articles
        self.window = window
        #: Store each chunk's title and sentence vectors (read in the same forward pass).
        self.sentence_vectors = sentence_vectors
        #: Write the vector snapshot at the end (a feed follower making many small ingests
        #: writes it now and then instead: the change log keeps the index whole meanwhile).
        self.snapshot = snapshot
        #: Write after about this many seconds of embedding (at the rate measured so far), so
        #: an interrupted run loses at most that much; None: after ``batch_articles`` only.
        self.commit_seconds = commit_seconds

    def run(
        self,
        records: Iterable[Article | LoadProblem],
        progress: Callable[[IngestProgress], None] | None = None,
    ) -> IngestReport:
        """Ingest every article; report problems; call ``progress`` as inputs are read and
        chunks embedded. An interrupt (Ctrl-C) raises :class:`IngestInterrupted`, whose report
        counts the articles already committed."""
        report = IngestReport()
        try:
            with self.index.writer():
                return self._run(records, progress, report)
        except IngestInterrupted:
            raise
        except KeyboardInterrupt:
            raise IngestInterrupted(report) from None

    def _pieces(self, rows: list[ArticleRow], rate: float | None) -> tuple[int, int]:
        """How many of ``rows`` (at most ``batch_articles``) make the next write, and their
        chunks: about ``commit_seconds`` of embedding at ``rate`` chunks/s."""
        if self.commit_seconds is None:
            budget = float("inf")
        else:
            budget = FIRST_CHUNKS if rate is None else max(1.0, rate * self.commit_seconds)
        n = chunks = 0
        while n < min(len(rows), self.batch_articles):
            if n and chunks + len(rows[n].chunks) > budget:
                break
            chunks += len(rows[n].chunks)
            n += 1
        return n, chunks

    def _embed(
        self, batch: Sequence[ArticleRow], texts: list[str], tick: Callable[[int], None]
    ) -> tuple[np.ndarray, list[np.ndarray] | None]:
        """The chunks' vectors and, where the embedder reads them in the same pass
        (``encode_spans``), each chunk's title and sentence vectors."""
        spans_of = getattr(self.embedder, "encode_spans", None)
        with bulk_work():  # queries sharing this embedder go first, batch by batch
            if spans_of is None or not self.sentence_vectors:
                return self.embedder.encode(texts, progress=tick), None
            spans = [sentence_spans(r.title, c) for r in batch for c in r.chunks]
            vecs, sentences = spans_of(texts, spans, progress=tick)
        return vecs, sentences

    def _run(
        self,
        records: Iterable[Article | LoadProblem],
        progress: Callable[[IngestProgress], None] | None,
        report: IngestReport,
    ) -> IngestReport:
        t0 = time.perf_counter()
        read = done = total = 0
        rate: float | None = None

        def reading(recs: Iterable[Article | LoadProblem]) -> Iterator[Article | LoadProblem]:
            nonlocal read
            last = 0.0
            for rec in recs:
                if isinstance(rec, LoadProblem):
                    origin = rec.path
                else:
                    read += 1
                    origin = rec.origin
                if progress and time.monotonic() - last >= READ_EVERY:
                    last = time.monotonic()
                    progress(IngestProgress("read", read, done, total, origin))
                yield rec

        for window in _batched(reading(records), self.window):
            todo = _latest_records(window, report)
            known = self.index.existing(
                [aid for _, aid, _ in todo], [a.url for a, _, _ in todo]
            )
            rows: list[ArticleRow] = []
            for art, aid, digest in todo:
                hit = known.get(art.url or "") or known.get(aid)
                if hit and hit[1] == digest:
                    report.unchanged += 1
                    report.add_item(hit[0], "unchanged", art.origin)
                    continue
                if hit:
                    aid = hit[0]
                chunks = chunk_text(art.text, self.spec, art.title, self.embedder.count_wordpieces)
                if not chunks:
                    report.add_problem(LoadProblem(art.origin, "no text to index"))
                    continue
                rows.append(
                    ArticleRow(
                        id=aid,
                        url=art.url,
                        title=art.title,
                        source=art.source,
                        published_at=art.published_at,
                        authors=list(art.authors),
                        text=art.text,
                        content_hash=digest,
                        origin=art.origin,
                        chunks=chunks,
                        vectors=None,  # type: ignore[arg-type]
                    )
                )
                status = "updated" if hit else "added"
                report.add_item(aid, status, art.origin)
                if hit:
                    report.updated += 1
                else:
                    report.added += 1
            total += sum(len(r.chunks) for r in rows)
            if progress:
                progress(IngestProgress("embed", read, done, total))
            while rows:
                n, n_chunks = self._pieces(rows, rate)
                batch, rows = rows[:n], rows[n:]
                started = time.perf_counter()
                texts = [embed_text(r.title, c) for r in batch for c in r.chunks]

                def tick(n: int, read: int = read, total: int = total) -> None:
                    nonlocal done
                    done += n
                    if progress:
                        progress(IngestProgress("embed", read, done, total))

                vecs, sentences = self._embed(batch, texts, tick)
                rate = n_chunks / max(time.perf_counter() - started, 1e-6)
                pos = 0
                for r in batch:
                    r.vectors = vecs[pos : pos + len(r.chunks)]
                    if sentences is not None:
                        r.sentence_vectors = sentences[pos : pos + len(r.chunks)]
                    pos += len(r.chunks)
                # Clusters are decided before the write so they are stored in its transaction.
                report.wire_copies += assign_clusters(self.index, batch)
                with _held_interrupt():
                    report.chunks += self.index.write(batch)
                    report.saved += len(batch)
        if self.snapshot:
            self.index.save_snapshot()
        report.seconds = time.perf_counter() - t0
        if progress:
            progress(IngestProgress("done", read, done, total))
        return report
