"""One word's BM25 postings carried from one state of the archive to a later one, without
reading its old matches again (FTS5 scores every matching passage: milliseconds per thousand,
and a write used to send every word of the next questions back to it).

FTS5's ``bm25()`` of a one-word query, for a passage of ``D`` tokens (all columns) in which the
word weighs ``f`` (its count in each column times that column's weight), is
``idf · f·(k1+1) / (f + k1·(1 − b + b·D/avgdl))``, where ``idf = ln((N − n + 0.5)/(n + 0.5))``
(``1e-6`` where that is not positive), ``N`` passages, ``n`` of them matching, ``avgdl`` their
mean length, ``k1 = 1.2`` and ``b = 0.75``. A write changes ``N``, ``n`` and ``avgdl``, never the
``D`` or ``f`` of a passage it keeps: passages are only added and removed, and their ids are
never reused. So :func:`carry` turns a state's scores back into ``f``, drops the passages
removed since, scores the kept ones for the new state and appends the added ones, read alone
(ids past the old state's highest): FTS5's own scores, to float rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

K1, B = 1.2, 0.75


@dataclass(frozen=True)
class Basis:
    """What the one-word BM25 scores of one state depend on besides the word's matches."""

    generation: int
    #: Passages in the lexical index.
    rows: int
    #: Their tokens, all columns together.
    tokens: int
    #: The highest passage id.
    top: int

    @property
    def avgdl(self) -> float:
        """The mean passage length."""
        return self.tokens / self.rows if self.rows else 1.0


@dataclass(frozen=True)
class Postings:
    """One word's passage ids (ascending), their one-word BM25 scores (higher is better) and
    the state they were read in (None where the catalogue cannot tell: never carried)."""

    ids: np.ndarray
    scores: np.ndarray
    basis: Basis | None = None

    @property
    def nbytes(self) -> int:
        """Memory the arrays take."""
        return int(self.ids.nbytes + self.scores.nbytes)


def fts_idf(rows: int, hits: int) -> float:
    """FTS5's idf of a word that ``hits`` of ``rows`` passages hold."""
    idf = math.log((rows - hits + 0.5) / (hits + 0.5)) if rows else 0.0
    return idf if idf > 0.0 else 1e-6


def _norm(lengths: np.ndarray, basis: Basis) -> np.ndarray:
    return K1 * (1.0 - B + B * lengths.astype(np.float64) / basis.avgdl)


def weights_of(scores: np.ndarray, lengths: np.ndarray, basis: Basis) -> np.ndarray:
    """The word's weighted count ``f`` in each passage, from its scores in ``basis``'s state
    (``lengths``: each passage's tokens; every passage that holds the word is given)."""
    idf = fts_idf(basis.rows, len(scores))
    s = scores.astype(np.float64)
    return s * _norm(lengths, basis) / np.maximum(idf * (K1 + 1.0) - s, 1e-300)


def scores_of(weights: np.ndarray, lengths: np.ndarray, basis: Basis, hits: int) -> np.ndarray:
    """One-word BM25 scores in ``basis``'s state of passages where the word weighs
    ``weights``, ``hits`` passages holding it in all."""
    idf = fts_idf(basis.rows, hits)
    return idf * weights * (K1 + 1.0) / (weights + _norm(lengths, basis))


def carry(
    old: Postings, lengths: np.ndarray, alive: np.ndarray | None, added: Postings,
) -> Postings:
    """``old`` in the state of ``added``: the word's postings among the passages added since
    ``old`` was read (ids above its basis's ``top``, scored in the new state). ``lengths`` is
    indexed by passage id (at least up to ``old``'s top); ``alive`` the ascending ids that
    exist now, or None when no passage of ``old``'s state was removed since."""
    assert old.basis is not None and added.basis is not None
    ids = old.ids.astype(np.int64, copy=False)
    weights = weights_of(old.scores, lengths[ids], old.basis)
    if alive is not None and len(ids):
        pos = np.minimum(np.searchsorted(alive, ids), max(len(alive) - 1, 0))
        keep = alive[pos] == ids if len(alive) else np.zeros(len(ids), bool)
        ids, weights = ids[keep], weights[keep]
    scores = scores_of(weights, lengths[ids], added.basis, len(ids) + len(added.ids))
    return Postings(
        np.concatenate([ids, added.ids.astype(np.int64, copy=False)]),
        np.concatenate([scores, added.scores.astype(np.float64, copy=False)]),
        added.basis,
    )


def varints(blob: bytes) -> list[int]:
    """The SQLite varints of ``blob`` (how FTS5 stores its sizes and totals)."""
    out: list[int] = []
    i, n = 0, len(blob)
    while i < n:
        value = 0
        for j in range(9):
            byte = blob[i]
            i += 1
            if j == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80 or i >= n:
                break
        out.append(value)
    return out


def size_sum(blob: bytes) -> int:
    """The sum of the varints of ``blob`` (a passage's tokens, from its column sizes)."""
    return sum(blob) if blob.isascii() else sum(varints(blob))
