"""The local search backend: this process's FAISS copy of the chunk vectors and BM25 over the
catalogue's FTS5 table, both restricted by one filter mask.

The copy is brought up to date from the catalogue's change log before a query (cheap when it
is current) without holding the lock other queries need; a writer snapshots it to
``vectors.faiss`` + ``vectors.gen`` (its generation) after which the log up to it is pruned.
Opening loads the snapshot and replays the log after it, and rebuilds from the vectors in the
catalogue only when the snapshot is missing, stale or corrupt. The stamp is removed before the
snapshot is replaced and written after, so a crash leaves no stamp (rebuild) rather than a
stamp that lies.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from newsqa.index.catalogue.base import Catalogue
from newsqa.index.catalogue.log import LogView
from newsqa.index.catalogue.schema import write_atomic
from newsqa.index.filters import CompiledFilter
from newsqa.index.lexicon import Lexicon
from newsqa.index.vectors import FaissStore, GuardedStore

log = logging.getLogger("newsqa.index")

Hits = list[tuple[int, float]]


def _read_stamp(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


class LocalSearch:
    """FAISS over this process's copy of the vectors and FTS5 in the catalogue."""

    name = "local"
    in_process = True

    def __init__(self, catalogue: Catalogue, vector_codec: str = "flat") -> None:
        self.catalogue = catalogue
        self.path = catalogue.path
        self.dim = catalogue.dim
        self.vector_codec = vector_codec
        self.vectors = GuardedStore(FaissStore(self.dim, codec=vector_codec))
        self.lexicon = Lexicon(catalogue)
        self.loaded_generation = -1  # the generation the vectors reflect
        self.snapshot_codec: str | None = None  # that of the vectors.faiss last read
        self._refresh_lock = threading.Lock()  # orders catch-ups and own writes on the copy
        self._table: tuple[int, np.ndarray, np.ndarray, np.ndarray] | None = None

    # ------------------------------------------------------------------ keeping in step
    def refresh(self) -> None:
        """Bring the vectors up to date with the catalogue (cheap when they are)."""
        if self.catalogue.generation() == self.loaded_generation:
            return
        with self._refresh_lock:
            self._catch_up()

    @contextmanager
    def updating(self) -> Iterator[None]:
        """Hold the copy current while a write lands (the caller holds the writer lock)."""
        with self._refresh_lock:
            self._catch_up()
            yield

    def written(
        self, gen: int, added: Sequence[int], vecs: np.ndarray, removed: Sequence[int]
    ) -> None:
        """Apply a write the catalogue committed as ``gen`` (FTS5 rows were written in it)."""
        self.vectors.apply(
            np.array(added, dtype=np.int64), vecs, np.array(removed, dtype=np.int64)
        )
        self.loaded_generation = gen

    def resume(self) -> None:
        """Nothing to complete: this process's copy catches up by itself."""

    def checkpoint(self) -> None:
        """Write the snapshot stamped with its generation and prune the log up to it (the
        caller holds the writer lock). A current snapshot is rewritten only when it was read in
        another codec than this process's."""
        with self._refresh_lock:
            self._catch_up()
            gen = self.loaded_generation
            stamp_path = self.path / "vectors.gen"
            current = _read_stamp(stamp_path) == gen and (self.path / "vectors.faiss").exists()
            if current and self.snapshot_codec in (None, self.vector_codec):
                return
            stamp_path.unlink(missing_ok=True)
            self.vectors.save(self.path / "vectors.faiss")
            self.snapshot_codec = self.vector_codec
            write_atomic(stamp_path, str(gen))
            self.catalogue.prune_log(gen)

    def _catch_up(self) -> None:
        """Apply the logged changes since the loaded generation (holding ``_refresh_lock``)."""
        with self.catalogue.view() as view:
            gen = view.generation()
            if gen == self.loaded_generation:
                return
            log_start = view.log_start()
            n_chunks = view.chunk_count()
            if log_start <= self.loaded_generation < gen:
                d = view.delta(self.loaded_generation, gen)
                self.vectors.apply(d.add_ids, d.add_vectors, d.remove_ids)
                if len(self.vectors) == n_chunks:
                    self.loaded_generation = gen
                    return
                log.warning("vectors disagree with the database after replay: rebuilding")
            store = self._load_snapshot(view, log_start, gen, n_chunks)
            if store is None:
                log.info("rebuilding the vectors of %s from the database", self.path)
                store = FaissStore(self.dim, codec=self.vector_codec)
                for ids, vecs in view.vectors():
                    store.add(ids, vecs)
            self.vectors.swap(store)
            self.loaded_generation = gen

    def _load_snapshot(
        self, view: LogView, log_start: int, gen: int, n_chunks: int
    ) -> FaissStore | None:
        """The snapshot brought to ``gen`` by the log; None when it is missing, stale or bad."""
        stamp_path = self.path / "vectors.gen"
        stamp = _read_stamp(stamp_path)
        if stamp is None or not log_start <= stamp <= gen:
            return None
        try:
            store = FaissStore.load(self.path / "vectors.faiss", self.dim)
        except (RuntimeError, ValueError, OSError):
            return None
        if _read_stamp(stamp_path) != stamp:  # a writer replaced it while we read
            return None
        self.snapshot_codec = store.codec
        if store.codec != self.vector_codec:
            if store.codec != "flat":  # fp16 values are not the float32 ones: read the database
                return None
            store = store.converted(self.vector_codec)
        d = view.delta(stamp, gen)
        store.remove(d.remove_ids)
        store.add(d.add_ids, d.add_vectors)
        return store if len(store) == n_chunks else None

    # ------------------------------------------------------------------ searching
    def allowed_chunk_ids(self, f: CompiledFilter) -> np.ndarray | None:
        """Chunk ids that pass the filters (None: no filter at all)."""
        if not f.restrictive:
            return None
        if f.only_as_of:
            latest = self.catalogue.latest_date(CompiledFilter())
            if latest is None or latest <= str(f.as_of):
                return None  # "as of" a moment after everything indexed restricts nothing
        ids, dates, sources = self._chunk_table()
        return ids[f.mask(dates, sources)]

    def _chunk_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every chunk id with its article's date and outlet key, read once per write
        generation, so filters cost array compares, not a join over every chunk per query."""
        gen = self.catalogue.generation()
        cached = self._table
        if cached is not None and cached[0] == gen:
            return cached[1], cached[2], cached[3]
        table = self.catalogue.chunk_table()
        self._table = table
        return table[1], table[2], table[3]

    def candidates(
        self, qvec: np.ndarray, terms: Sequence[str], n: int, title_weight: float,
        f: CompiledFilter,
    ) -> tuple[Hits, Hits]:
        """Both retrievers restricted to the chunk ids that pass the filters."""
        allowed = self.allowed_chunk_ids(f)
        if allowed is not None and len(allowed) == 0:
            return [], []
        return (
            self.vectors.search(qvec, n, allowed),
            self.lexicon.search(terms, n, title_weight, allowed),
        )

    def neighbours(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """FAISS's unfiltered top ``k`` (cosines, ids) per row; -1 where there is none."""
        if len(self.vectors) == 0:
            return (np.full((len(queries), k), -1.0, np.float32),
                    np.full((len(queries), k), -1, np.int64))
        return self.vectors.search_many(queries, k)

    def vectors_of(self, ids: list[int]) -> np.ndarray:
        """From the in-memory FAISS copy, in order (zeros for one not stored)."""
        return self.vectors.reconstruct(ids)

    def held(self) -> int:
        """Vectors held in this process."""
        return len(self.vectors)

    def close(self) -> None:
        """Nothing to release: the catalogue owns the connections."""
