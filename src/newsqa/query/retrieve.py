"""Retrieval: dense (FAISS) and lexical (FTS5 BM25) candidates under filters, fused and reranked."""

from __future__ import annotations

import math
from datetime import date

import numpy as np

from newsqa.index.store import NewsIndex
from newsqa.query.config import RetrievalConfig
from newsqa.query.fuse import rrf
from newsqa.query.timeexpr import TimeWindow, shift
from newsqa.records import Filters, Passage
from newsqa.text import query_terms


def _days_between(a: str | None, b: str | None) -> float | None:
    if not a or not b:
        return None
    try:
        return float((date.fromisoformat(b[:10]) - date.fromisoformat(a[:10])).days)
    except ValueError:
        return None


def retrieve(
    index: NewsIndex,
    qvec: np.ndarray,
    query: str,
    k: int,
    filters: Filters | None,
    cfg: RetrievalConfig,
    window: TimeWindow | None = None,
) -> list[Passage]:
    """Top ``k`` passages for ``query``; filters apply before ranking and fail closed.

    Dates then shape the ranking: a recency prior relative to ``as_of`` (or to the newest
    article, when the archive ends before it) and a boost for passages inside ``window``, the
    period a temporal expression in the question points at.
    """
    index.refresh()
    dense, lexical = index.candidates(
        qvec, query_terms(query), cfg.candidates, cfg.title_weight, filters
    )
    if not dense and not lexical:
        return []
    fused = rrf(
        [[c for c, _ in dense], [c for c, _ in lexical]],
        k=cfg.rrf_k,
        weights=[cfg.dense_weight, cfg.lexical_weight],
    )
    order = sorted(fused, key=lambda c: -fused[c])[: max(cfg.candidates, k * 4)]
    rows = index.chunk_meta(order)
    order = [c for c in order if c in rows]  # deleted by another writer since the search
    _lead_prior(order, rows, fused, cfg.lead_weight)
    _date_prior(order, rows, fused, filters, cfg, window, index)
    order.sort(key=lambda c: -fused[c])

    vecs = index.vectors_of(order)
    picked: list[int] = []
    per_article: dict[str, int] = {}
    story: dict[str, str] = {}  # cluster id -> the one article that speaks for the story
    for i, cid in enumerate(order):
        row = rows[cid]
        cluster = row["cluster_id"] or row["article_id"]
        if cfg.one_per_story and story.setdefault(cluster, row["article_id"]) != row["article_id"]:
            continue
        if per_article.get(row["article_id"], 0) >= cfg.per_article:
            continue
        # Wire copies: a passage nearly identical to one already picked is the same text.
        if picked and float(np.max(vecs[picked] @ vecs[i])) >= cfg.duplicate_cosine:
            continue
        picked.append(i)
        per_article[row["article_id"]] = per_article.get(row["article_id"], 0) + 1
        if len(picked) == k:
            break
    shown = index.chunks([order[i] for i in picked])
    picked = [i for i in picked if order[i] in shown]  # deleted since the ranking read
    members = index.cluster_sources(rows[order[i]]["cluster_id"] for i in picked)

    def also(row: dict) -> list[str]:
        own = row["source"] or ""
        return sorted({s for a, s in members.get(row["cluster_id"], []) if s and s != own})

    return [
        Passage(
            chunk_id=order[i],
            article_id=shown[order[i]]["article_id"],
            url=shown[order[i]]["url"],
            title=shown[order[i]]["title"],
            source=shown[order[i]]["source"],
            published_at=shown[order[i]]["published_at"],
            text=shown[order[i]]["text"],
            score=round(fused[order[i]], 6),
            also_reported_by=also(shown[order[i]]),
        )
        for i in picked
    ]


def _lead_prior(
    order: list[int], rows: dict[int, dict], fused: dict[int, float], weight: float
) -> None:
    """Lift each article's first passage: a news lead states who, what, when and where."""
    if weight > 0:
        for cid in order:
            if rows[cid]["ord"] == 0:
                fused[cid] *= 1.0 + weight


def _date_prior(
    order: list[int],
    rows: dict[int, dict],
    fused: dict[int, float],
    filters: Filters | None,
    cfg: RetrievalConfig,
    window: TimeWindow | None,
    index: NewsIndex,
) -> None:
    """Scale fused scores in place by the recency prior and the question's time window."""
    as_of = filters.as_of if filters else None
    if cfg.recency_weight > 0 and as_of:
        latest = index.latest_date(filters)
        ref = min(as_of, latest) if latest else as_of
        for cid in order:
            age = _days_between(rows[cid]["published_at"], ref)
            if age is not None:
                prior = math.exp(-max(age, 0.0) * math.log(2) / cfg.recency_half_life_days)
                fused[cid] *= 1.0 + cfg.recency_weight * prior
    if window is not None and cfg.window_weight > 0:
        lo = shift(window.since, -cfg.window_slack_days).isoformat()
        hi = shift(window.until, 1).isoformat()
        for cid in order:
            published = rows[cid]["published_at"]
            if published and lo <= published <= hi:
                fused[cid] *= 1.0 + cfg.window_weight
