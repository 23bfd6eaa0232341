"""BM25 over FTS5 without scoring every match of every word on every query.

FTS5's ``bm25()`` is a sum over the query's phrases: a passage's score for "ukraine OR grain OR
deal" is its one-word score for "ukraine" plus that for "grain" plus that for "deal". So each
word's postings (passage ids and one-word scores) are read from FTS5 once, kept in a bounded
cache, and a query adds up the arrays of its words. The result is FTS5's own ranking, to float
rounding. Common words, whose long posting lists made most of BM25's cost (``bench/latency.py``),
recur across questions and are read once per index generation: any write clears the cache,
since it changes the words' idf and the passages' lengths.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

#: ``(sql, args) -> rows``: runs a read query on the index's database.
Query = Callable[[str, Sequence[object]], list[tuple]]


def fts_phrase(term: str) -> str:
    """``term`` as an FTS5 phrase: quoted, so operators and punctuation in it stay text."""
    return '"' + term.replace('"', "") + '"'


class PostingsCache:
    """One-word BM25 postings per (word, title weight), least recently used dropped past
    ``budget_bytes``; cleared when the index generation changes."""

    def __init__(self, budget_bytes: int = 64 << 20) -> None:
        self.budget_bytes = budget_bytes
        self._items: OrderedDict[tuple[str, float], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._bytes = 0
        self._counts: dict[str, int] = {}
        self._generation = -1
        self._lock = threading.Lock()

    def matches(self, term: str, generation: int) -> int | None:
        """How many passages contain ``term``, when its postings are cached (else None)."""
        with self._lock:
            if generation != self._generation:
                return None
            return self._counts.get(term)

    def postings(
        self, query: Query, term: str, title_weight: float, generation: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Passage ids (ascending) and their one-word BM25 scores (higher is better)."""
        key = (term, float(title_weight))
        with self._lock:
            if generation != self._generation:
                self._items.clear()
                self._counts.clear()
                self._bytes, self._generation = 0, generation
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        try:
            rows = query(
                f"SELECT rowid, bm25(chunks_fts, {float(title_weight)}, 1.0) FROM chunks_fts "
                "WHERE chunks_fts MATCH ? ORDER BY rowid", [fts_phrase(term)],
            )
        except sqlite3.OperationalError:  # a word FTS5 cannot parse matches nothing
            rows = []
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        scores = np.fromiter((-r[1] for r in rows), np.float64, len(rows))
        with self._lock:
            if generation == self._generation and key not in self._items:
                self._items[key] = (ids, scores)
                self._counts[term] = len(ids)
                self._bytes += ids.nbytes + scores.nbytes
                while self._bytes > self.budget_bytes and len(self._items) > 1:
                    (old, _), (i, s) = self._items.popitem(last=False)
                    self._counts.pop(old, None)
                    self._bytes -= i.nbytes + s.nbytes
        return ids, scores


def top_bm25(
    parts: Sequence[tuple[np.ndarray, np.ndarray]], n: int, allowed: np.ndarray | None
) -> list[tuple[int, float]]:
    """The ``n`` best (passage id, summed score) over the words' postings ``parts``, keeping
    only ids in ``allowed`` (ascending; None: all)."""
    parts = [p for p in parts if len(p[0])]
    if not parts or n <= 0:
        return []
    ids, inverse = np.unique(np.concatenate([p[0] for p in parts]), return_inverse=True)
    scores = np.bincount(inverse, weights=np.concatenate([p[1] for p in parts]))
    if allowed is not None:
        if len(allowed) == 0:
            return []
        pos = np.minimum(np.searchsorted(allowed, ids), len(allowed) - 1)
        ok = allowed[pos] == ids
        ids, scores = ids[ok], scores[ok]
    if len(ids) > n:
        best = np.argpartition(-scores, n - 1)[:n]
        ids, scores = ids[best], scores[best]
    order = np.lexsort((ids, -scores))
    return [(int(ids[i]), float(scores[i])) for i in order]
