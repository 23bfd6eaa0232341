"""The lexical half of the local search backend over the catalogue's lexical index (FTS5 for
SQLite, a postings table scored as FTS5 scores for PostgreSQL): BM25 top ``n`` from cached
postings (:mod:`newsqa.index.postings`; carried across writes by :mod:`newsqa.index.rescore`),
the common words' postings made resident, and each word's idf, which query planning and
composition weigh words by."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

import numpy as np

from newsqa.index.catalogue.base import Catalogue
from newsqa.index.postings import PostingsCache, freeze, top_bm25


class Lexicon:
    """Postings and idf of one catalogue's passages; safe across threads."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.postings = PostingsCache()
        self._lock = threading.Lock()
        self._idf: dict[str, float] = {}
        self._idf_basis = 0  # the highest passage id when the idf cache was started
        self._idf_n = 0  # passages then

    def search(
        self,
        terms: Sequence[str],
        n: int,
        title_weight: float = 1.0,
        allowed: np.ndarray | None = None,
    ) -> list[tuple[int, float]]:
        """BM25 (FTS5) top ``n`` chunks matching any of ``terms``; higher score is better.

        ``allowed`` (ascending chunk ids; None: every chunk) restricts the result. Each word's
        postings come from FTS5 once, and are carried across writes.
        """
        if not terms:
            return []
        gen = self.catalogue.generation()
        parts = [self.postings.postings(self.catalogue, t, title_weight, gen) for t in terms]
        return top_bm25(parts, n, allowed)

    def warm(
        self, title_weight: float, words: int | None = None, sample: int = 10_000,
        budget_bytes: int = 96 << 20, stop: threading.Event | None = None,
    ) -> int:
        """Make the BM25 postings of the archive's common words resident (see
        :meth:`newsqa.index.store.NewsIndex.warm_lexical`); returns the words resident."""
        frozen = freeze(
            self.catalogue.lexical_view(), self.catalogue.path, title_weight, words, sample,
            budget_bytes, stop,
        )
        if frozen is None:
            return 0
        self.postings.install(frozen)
        return len(frozen.spans)

    @property
    def warm_generation(self) -> int | None:
        """The generation whose common words' postings are resident (None: none are)."""
        frozen = self.postings.frozen
        return None if frozen is None else frozen.stamp[0]

    def idf(self, terms: Sequence[str]) -> dict[str, float]:
        """Inverse document frequency of each term over the indexed passages (BM25's idf:
        ``ln(1 + (N - df + 0.5) / (df + 0.5))``), matched as the lexical index matches it.

        Cached per term until the index changes by a tenth of its passages.
        """
        with self._lock:
            top = self.catalogue.top_chunk_id()
            if abs(top - self._idf_basis) > max(self._idf_basis, 1) * 0.1:
                self._idf.clear()
                self._idf_basis = top
                self._idf_n = self.catalogue.chunk_count()
            n = self._idf_n
            gen = self.catalogue.generation()
            for t in terms:
                if t not in self._idf:
                    if len(self._idf) >= 100_000:
                        self._idf.clear()
                    df = self._matches(t, gen)
                    self._idf[t] = math.log(1 + (n - df + 0.5) / (df + 0.5))
            return {t: self._idf[t] for t in terms}

    def _matches(self, term: str, gen: int) -> int:
        """Passages containing ``term``: from the cached postings, else counted by the
        catalogue."""
        df = self.postings.matches(term, gen)
        return df if df is not None else self.catalogue.term_matches(term)
