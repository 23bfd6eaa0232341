"""Wire copies: articles that print the same story (often verbatim, from a news agency) are
grouped into one story cluster at ingest, so that retrieval and answers count the story once."""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
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


def assign_clusters(
    index: NewsIndex,
    rows: Sequence[ArticleRow],
    min_cosine: float = 0.9,
    min_resemblance: float = 0.6,
    max_days: int = 7,
) -> int:
    """Put each freshly written article into the story cluster of an earlier near-copy.

    Candidates come from the vector index (the article's first chunk against all chunks) and
    are confirmed on the text itself, so two different stories on one topic are not merged.
    Returns how many articles joined an existing cluster.
    """
    if not rows or len(index.vectors) == 0:
        return 0
    scores, ids = index.vectors.search_many(np.vstack([r.vectors[0] for r in rows]), 8)
    meta = index.chunks(sorted({int(i) for i in ids.ravel() if i >= 0}))
    position = {r.id: i for i, r in enumerate(rows)}
    cluster_of: dict[str, str] = {}  # clusters assigned in this batch
    joined = 0
    for pos, (row, row_scores, row_ids) in enumerate(zip(rows, scores, ids, strict=True)):
        mine: set[int] | None = None
        for s, cid in zip(row_scores, row_ids, strict=True):
            if cid < 0 or s < min_cosine:
                break
            cand = meta.get(int(cid))
            if cand is None or position.get(cand["article_id"], -1) >= pos:
                continue  # only join stories already known: earlier batches or earlier rows
            if not _close_in_time(row.published_at, cand["published_at"], max_days):
                continue
            other = index.article(cand["article_id"])
            if other is None:
                continue
            mine = mine if mine is not None else shingles(row.text)
            if resemblance(mine, shingles(other["text"])) >= min_resemblance:
                cluster = cluster_of.get(cand["article_id"], cand["cluster_id"])
                index.set_cluster(row.id, cluster)
                cluster_of[row.id] = cluster
                joined += 1
                break
    return joined
