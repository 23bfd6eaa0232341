"""Wire copies: articles that print the same story (often verbatim, from a news agency) are
grouped into one story cluster at ingest, so that retrieval and answers count the story once."""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from newsqa.index.store import ArticleRow, NewsIndex

_WORD = re.compile(r"\w+")


def shingles(text: str, n: int = 5) -> set[int]:
    """Hashed word n-grams of ``text`` (lower-cased)."""
    words = _WORD.findall(text.lower())
    if len(words) < n:
        return {zlib.crc32(" ".join(words).encode())} if words else set()
    return {zlib.crc32(" ".join(words[i : i + n]).encode()) for i in range(len(words) - n + 1)}


def resemblance(a: set[int], b: set[int]) -> float:
    """Overlap of two shingle sets relative to the smaller one (a trimmed copy still matches)."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def _close_in_time(a: str | None, b: str | None, days: int) -> bool:
    if not a or not b:
        return True
    try:
        return abs((date.fromisoformat(a) - date.fromisoformat(b)).days) <= days
    except ValueError:
        return True


@dataclass(frozen=True)
class _Candidate:
    """An earlier article whose chunk is close to a new article's first chunk."""

    score: float
    article_id: str
    cluster_id: str
    published_at: str | None
    text: str | None  # known for rows of the batch; read from the index for stored articles


def _stored_candidates(
    index: NewsIndex, rows: Sequence[ArticleRow], min_cosine: float, depth: int
) -> list[list[_Candidate]]:
    """Per row, stored articles (outside this batch) whose chunks pass ``min_cosine``."""
    scores, ids = index.neighbours(np.vstack([r.vectors[0] for r in rows]), depth)
    meta = index.chunk_meta(sorted({int(i) for i in ids.ravel() if i >= 0}))
    replaced = {r.id for r in rows}  # their stored versions are about to be replaced
    out: list[list[_Candidate]] = []
    for row_scores, row_ids in zip(scores, ids, strict=True):
        found: list[_Candidate] = []
        for s, cid in zip(row_scores, row_ids, strict=True):
            cand = meta.get(int(cid))
            if cid < 0 or s < min_cosine or cand is None or cand["article_id"] in replaced:
                continue
            cluster = cand["cluster_id"] or cand["article_id"]
            found.append(
                _Candidate(float(s), cand["article_id"], cluster, cand["published_at"], None)
            )
        out.append(found)
    return out


def _batch_similarity(rows: Sequence[ArticleRow]) -> np.ndarray:
    """``sim[i, j]``: best cosine of row ``i``'s first chunk against any chunk of row ``j``."""
    chunks = [np.asarray(r.vectors, dtype=np.float32) for r in rows]
    starts = np.cumsum([0] + [len(c) for c in chunks[:-1]])
    firsts = np.vstack([c[0] for c in chunks])
    return np.maximum.reduceat(firsts @ np.vstack(chunks).T, starts, axis=1)


def _batch_candidates(
    rows: Sequence[ArticleRow], pos: int, sim: np.ndarray, min_cosine: float
) -> list[_Candidate]:
    """Earlier rows of the batch whose chunks pass ``min_cosine`` against row ``pos`` (exact)."""
    return [
        _Candidate(float(sim[pos, j]), o.id, o.cluster_id or o.id, o.published_at, o.text)
        for j, o in enumerate(rows[:pos])
        if sim[pos, j] >= min_cosine
    ]


def assign_clusters(
    index: NewsIndex,
    rows: Sequence[ArticleRow],
    min_cosine: float = 0.9,
    min_resemblance: float = 0.6,
    max_days: int = 7,
) -> int:
    """Set ``cluster_id`` on each row that is a near-copy of an earlier article, before the
    batch is written (so the cluster is stored in the batch's own transaction).

    Candidates are earlier articles whose chunks are close to the row's first chunk: stored
    ones through the vector index, earlier rows of the same batch by brute force. They are
    confirmed on the text itself, so two different stories on one topic are not merged. Returns
    how many rows joined an existing story.
    """
    if not rows:
        return 0
    stored = _stored_candidates(index, rows, min_cosine, depth=16)
    sim = _batch_similarity(rows)
    joined = 0
    for pos, row in enumerate(rows):
        cands = sorted(
            stored[pos] + _batch_candidates(rows, pos, sim, min_cosine), key=lambda c: -c.score
        )
        mine: set[int] | None = None
        tried: set[str] = set()
        for cand in cands:
            if cand.article_id in tried or cand.article_id == row.id:
                continue
            tried.add(cand.article_id)
            if not _close_in_time(row.published_at, cand.published_at, max_days):
                continue
            text = cand.text
            if text is None:
                other = index.article(cand.article_id)
                if other is None:
                    continue
                text = str(other["text"])
            mine = mine if mine is not None else shingles(row.text)
            if resemblance(mine, shingles(text)) >= min_resemblance:
                row.cluster_id = cand.cluster_id
                joined += 1
                break
    return joined
