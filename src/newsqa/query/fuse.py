"""Reciprocal rank fusion of several rankings."""

from __future__ import annotations

from collections.abc import Sequence

# k damps the head of each ranking so that one retriever's first place cannot outvote agreement
# between retrievers further down. Cormack et al. (2009) use 60; the service's default (settings
# rrf_k=30) was measured on the news benchmark, where the heads of both rankings are reliable.
RRF_K = 60


def rrf(
    rankings: Sequence[Sequence[int]],
    k: int = RRF_K,
    weights: Sequence[float] | None = None,
) -> dict[int, float]:
    """Fused score per id: sum over rankings of weight / (k + rank), rank starting at 1."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[int, float] = {}
    for ranking, w in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + w / (k + rank)
    return scores
