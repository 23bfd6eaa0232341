"""One directory = one index: a catalogue (:mod:`newsqa.index.catalogue`: ``news.sqlite`` and
``manifest.json``, or a schema of a PostgreSQL database), a search backend
(:mod:`newsqa.index.search`: ``local`` holds a FAISS copy and snapshots it to
``vectors.faiss`` + ``vectors.gen``; ``milvus`` a shared collection) and the writer lock
(:mod:`newsqa.index.lock`). :class:`NewsIndex` is the facade the service uses.

One writer at a time: every change (ingest, upload, delete) holds the writer lock and is one
catalogue transaction that bumps the write generation and logs the chunk ids it added and
removed; the backend then takes the write in. The catalogue is the source of truth: before a
query the backend compares its generation with the catalogue's and catches up from the log, so
every process sees every write. A kill at any moment leaves whole transactions and a snapshot
that is either complete and stamped or ignored. Readers write no index file but
``postings.npz`` (:mod:`newsqa.index.postings`), derived data stamped with the state it was read
from and replaced whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from newsqa.index.catalogue import FORMAT_VERSION, make_catalogue, open_manifest
from newsqa.index.errors import IndexBusyError, IndexMismatchError
from newsqa.index.filters import CompiledFilter, normalize_source
from newsqa.index.local import LocalSearch
from newsqa.index.lock import WriterLock
from newsqa.index.manifest import IndexManifest
from newsqa.index.rows import ArticleRow
from newsqa.index.search import Hits, SearchBackend, make_search
from newsqa.records import Filters

__all__ = [
    "FORMAT_VERSION", "ArticleRow", "IndexBusyError", "IndexMismatchError", "NewsIndex",
    "normalize_source",
]


class NewsIndex:
    """Articles, chunks, lexical and vector search of one directory; safe across threads."""

    def __init__(
        self,
        path: Path,
        manifest: IndexManifest,
        search_uri: str | None = None,
        search_token: str | None = None,
        vector_codec: str = "flat",
        catalog_url: str | None = None,
        catalog_timeout: float | None = None,
    ) -> None:
        self.path = Path(path)
        self.manifest = manifest
        self.dim = manifest.dim
        self.vector_codec = vector_codec
        #: Where articles, chunks and the change log live: ``news.sqlite`` in the directory
        #: (``catalog_url`` None) or the PostgreSQL schema ``catalog_url`` names.
        self.catalogue = make_catalogue(self.path, self.dim, catalog_url, catalog_timeout)
        self.lock = WriterLock(self.path, self.catalogue.cross_lock)
        #: Where chunks are searched: the manifest's ``backend`` (``local`` by default).
        self.search: SearchBackend = make_search(
            self.catalogue, manifest, search_uri, search_token, vector_codec
        )
        self.refresh()

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls,
        path: str | Path,
        manifest: IndexManifest,
        create: bool = True,
        search_uri: str | None = None,
        search_token: str | None = None,
        vector_codec: str = "flat",
        catalog_url: str | None = None,
        catalog_timeout: float | None = None,
    ) -> NewsIndex:
        """Open the index at ``path``; create it with ``manifest`` if missing and ``create``.

        ``catalog_url`` (``postgresql://user:pw@host/db?schema=name``) keeps the catalogue
        and the manifest in that PostgreSQL schema (``newsqa`` by default) instead of
        ``news.sqlite``; the directory then holds only caches a process can rebuild, and the
        writer lock is an advisory lock of that database. The stored manifest says
        ``catalog: postgres``; ``catalog_timeout`` is how many seconds a read or write waits
        for one of its pooled connections before the catalogue counts as unavailable.

        The manifest's ``backend`` (``local`` or ``milvus``) picks where chunks are searched;
        ``search_uri`` is the Milvus URI (default: ``milvus.db`` in the index directory) and
        ``search_token`` its credentials. ``vector_codec`` (``flat`` or ``fp16``) is how this
        process holds the vectors it searches locally; the catalogue keeps float32 either way.

        Raises :class:`IndexMismatchError` when the stored manifest names another model,
        dimension or tokenizer or an unknown format (format 1 is upgraded in place, under the
        writer lock), and FileNotFoundError when it is missing.
        """
        path = Path(path)
        stored = IndexManifest.from_dict(
            open_manifest(path, manifest.to_dict(), create, catalog_url)
        )
        index = cls(
            path, stored, search_uri, search_token, vector_codec, catalog_url, catalog_timeout
        )
        index.sync_search()
        return index

    def close(self) -> None:
        """Close the backend's and the catalogue's connections."""
        self.search.close()
        self.catalogue.close()

    @property
    def generation(self) -> int:
        """Write counter of the catalogue; bumps in every write transaction."""
        return self.catalogue.generation()

    @property
    def loaded_generation(self) -> int:
        """The generation that the search backend reflects."""
        return self.search.loaded_generation

    @property
    def vectors(self) -> Any:
        """The local backend's in-memory vectors (a :class:`~newsqa.index.vectors.GuardedStore`)."""
        return getattr(self.search, "vectors", None)

    # ------------------------------------------------------------------ keeping in step
    def refresh(self) -> None:
        """Bring the search backend up to date with the catalogue (cheap when it is).

        Changes are read through a connection of their own and applied in one guarded step, so
        other queries keep using the catalogue meanwhile. Never writes a file.
        """
        self.search.refresh()

    def save_snapshot(self) -> None:
        """Persist what the backend holds and prune the change log up to it, under the writer
        lock (a writer calls it at the end of an ingest): ``local`` writes ``vectors.faiss``
        stamped with its generation, ``milvus`` brings the collection up to the log."""
        with self.lock.held():
            self.search.checkpoint()

    def sync_search(self) -> None:
        """Complete a write to a shared backend that a killed writer left behind (nothing for
        ``local``). Runs only when the writer lock is free at once; otherwise the writer holding
        it will."""
        if self.search.in_process:
            return
        try:
            with self.lock.held():
                self.search.resume()
        except IndexBusyError:
            pass

    # ------------------------------------------------------------------ writing
    @contextmanager
    def writer(self) -> Iterator[None]:
        """Hold the index's writer lock: one ingest or delete at a time, across threads and
        processes. Raises :class:`IndexBusyError` at once when another holds it."""
        with self.lock.hold():
            yield

    def existing(
        self, ids: Sequence[str], urls: Sequence[str | None]
    ) -> dict[str, tuple[str, str]]:
        """Map each given id or url that is stored to (article id, content hash)."""
        return self.catalogue.existing(ids, urls)

    def write(self, rows: Iterable[ArticleRow]) -> int:
        """Insert or replace articles with their chunks and story clusters in one transaction,
        under the writer lock; returns the number of chunks added."""
        rows = list(rows)
        if not rows:
            return 0
        with self.lock.held(), self.search.updating():
            gen, added, removed = self.catalogue.write(rows)
            vecs = np.vstack([np.asarray(r.vectors, dtype=np.float32) for r in rows])
            self.search.written(gen, added, vecs, removed)
        return len(added)

    def delete(self, id_or_url: str) -> bool:
        """Remove an article (by id or URL) with its chunks, lexical rows and vectors.

        Takes the writer lock (:class:`IndexBusyError` while another ingest or delete writes).
        No file is rewritten: the change log carries the removal to every process.
        """
        with self.lock.held(), self.search.updating():
            done = self.catalogue.delete(id_or_url)
            if done is None:
                return False
            gen, removed = done
            self.search.written(gen, [], np.zeros((0, self.dim), np.float32), removed)
        return True

    def add_sentence_vectors(self, rows: Sequence[tuple[int, np.ndarray]]) -> int:
        """Store the title and sentence vectors of chunks already indexed, under the writer
        lock. What is searched does not change, so no new generation; a chunk deleted
        meanwhile is skipped. Returns the chunks stored."""
        with self.lock.held():
            return self.catalogue.add_sentence_vectors(rows)

    # ------------------------------------------------------------------ searching
    @staticmethod
    def is_restrictive(f: Filters | None) -> bool:
        """Whether any filter is set."""
        return CompiledFilter.of(f).restrictive

    def allowed_chunk_ids(self, f: Filters | None) -> np.ndarray | None:
        """Chunk ids that pass the filters (None: no filter at all), as the local backend
        restricts both its retrievers."""
        if not isinstance(self.search, LocalSearch):
            raise TypeError(f"the {self.search.name} backend filters by expression, not by ids")
        return self.search.allowed_chunk_ids(CompiledFilter.of(f))

    def candidates(
        self, qvec: np.ndarray, terms: Sequence[str], n: int, title_weight: float,
        f: Filters | None,
    ) -> tuple[Hits, Hits]:
        """Dense and lexical top ``n`` (chunk id, score) under the filters, from the index's
        search backend; the filters fail closed (nothing passes: nothing is returned)."""
        return self.search.candidates(qvec, terms, n, title_weight, CompiledFilter.of(f))

    def neighbours(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` (cosines, ids) of stored chunks per query row, unfiltered (-1: none)."""
        return self.search.neighbours(queries, k)

    def vectors_of(self, ids: list[int]) -> np.ndarray:
        """The stored vectors of these chunk ids, in order (zeros for one not stored)."""
        return self.search.vectors_of(ids)

    def lexical(
        self,
        terms: Sequence[str],
        n: int,
        title_weight: float = 1.0,
        allowed: np.ndarray | None = None,
    ) -> list[tuple[int, float]]:
        """BM25 (FTS5) top ``n`` chunks matching any of ``terms``; higher score is better.

        ``allowed`` (ascending chunk ids from :meth:`allowed_chunk_ids`; None: every chunk)
        restricts the result, so the filter has one definition for both retrievers. Each
        word's postings come from FTS5 once and are carried across writes
        (:mod:`newsqa.index.postings`, :mod:`newsqa.index.rescore`).
        """
        return self.search.lexicon.search(terms, n, title_weight, allowed)

    def warm_lexical(
        self, title_weight: float, words: int | None = None, sample: int = 10_000,
        budget_bytes: int = 96 << 20, stop: Any = None,
    ) -> int:
        """Make the BM25 postings of the archive's common words resident: the ``words`` (None:
        as many as ``budget_bytes`` holds) most common content words of the newest ``sample``
        passages, whose long posting lists are what a question pays for. They are loaded from
        ``postings.npz`` when it was written for the index as it is now, else read through a
        connection of its own (questions are not held up) and written there for the next start
        (:func:`~newsqa.index.postings.freeze`). Stops early when ``stop`` (a threading.Event)
        is set. Returns the words resident."""
        return self.search.lexicon.warm(title_weight, words, sample, budget_bytes, stop)

    @property
    def warm_generation(self) -> int | None:
        """The generation whose common words' postings are resident (None: none are)."""
        return self.search.lexicon.warm_generation

    def term_idf(self, terms: Sequence[str]) -> dict[str, float]:
        """Inverse document frequency of each term over the indexed passages (BM25's idf),
        matched as the lexical index matches it; cached until the index changes by a tenth."""
        return self.search.lexicon.idf(terms)

    # ------------------------------------------------------------------ reading the catalogue
    def sentence_vectors(self, chunk_ids: Sequence[int]) -> dict[int, np.ndarray]:
        """The title and sentence vectors stored with each of these chunks, by chunk id
        (:mod:`newsqa.index.sentvec`); a chunk stored without them is left out."""
        return self.catalogue.sentence_vectors(chunk_ids)

    def chunks_without_sentences(self, limit: int) -> tuple[int, list[tuple[int, str, str]]]:
        """How many chunks are stored without sentence vectors, and (chunk id, article title,
        chunk text) of up to ``limit`` of them, newest first."""
        return self.catalogue.chunks_without_sentences(limit)

    def latest_date(self, f: Filters | None = None) -> str | None:
        """Publication date of the newest article that passes the filters."""
        return self.catalogue.latest_date(CompiledFilter.of(f))

    def chunks(self, chunk_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Chunk text with its article's metadata, keyed by chunk id."""
        return self.catalogue.chunk_rows(
            "c.ord, c.text, a.id AS article_id, a.url, a.title, a.source, a.published_at, "
            "a.cluster_id", chunk_ids,
        )

    def chunk_meta(self, chunk_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """What ranking needs of each chunk, keyed by chunk id: ``ord`` (its place in the
        article) and the article's ``article_id``, ``source``, ``published_at`` and
        ``cluster_id``. Only the passages shown need their text (:meth:`chunks`): on the full
        2023 index, 200 search candidates and the 10 texts take 2.5 ms against 2.9 ms for 200
        texts, and 200 random chunks 5.8 against 10.8 ms."""
        return self.catalogue.chunk_rows(
            "c.ord, a.id AS article_id, a.source, a.published_at, a.cluster_id", chunk_ids
        )

    def article(self, id_or_url: str) -> dict[str, Any] | None:
        """One article with its full text, by id or URL."""
        return self.catalogue.article(id_or_url)

    def list_articles(
        self, f: Filters | None = None, offset: int = 0, limit: int = 20
    ) -> tuple[int, list[dict[str, Any]]]:
        """A page of article metadata, newest first, and the total matching the filters."""
        return self.catalogue.list_articles(CompiledFilter.of(f), offset, limit)

    def cluster_sources(self, cluster_ids: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
        """For each story cluster, its members as (article id, source)."""
        return self.catalogue.cluster_sources(cluster_ids)

    def stats(self) -> dict[str, Any]:
        """Counts and date range of what is indexed (the backend brought up to date first)."""
        self.refresh()
        counts = self.catalogue.counts()
        return {
            "index": str(self.path),
            "articles": counts["articles"],
            "stories": counts["stories"],
            "chunks": counts["chunks"],
            "vectors": self.search.held(),
            "sources": counts["sources"],
            "earliest": counts["earliest"],
            "latest": counts["latest"],
            "generation": self.generation,
            "manifest": self.manifest.to_dict(),
        }

