"""How a reader's logits are judged and fused on the lists kept apart: top-1 answer hit by
depth, the composer weight and rank penalty of the fusion, the calibration whose probability
decides abstention, and what a reader records of those choices. Pure numpy; training only."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from newsqa.eval import contains_answer
from newsqa.query.config import ComposeConfig
from newsqa.query.read import fuse, select_sentences

#: Passages an answer reads by default (``NEWSQA_READER__PASSAGES``): the epoch and the
#: calibration are chosen at this depth; dev lists are scored to ``DEV_DEPTH``.
SERVE_DEPTH = 3
DEV_DEPTH = 5


def shallow(item: dict[str, Any], depth: int = DEV_DEPTH) -> dict[str, Any]:
    """``item`` with only the candidates of its first ``depth`` passages."""
    return {**item, "candidates": [c for c in item["candidates"] if c["rank"] < depth]}


def top_hit(item: dict[str, Any], scores: np.ndarray, depth: int | None = None) -> bool:
    """Whether the best-scored candidate (of the first ``depth`` passages) names the answer."""
    cands = item["candidates"]
    idx = [i for i, c in enumerate(cands) if depth is None or c["rank"] < depth]
    if not idx or not item.get("answer"):
        return False
    best = max(idx, key=lambda i: scores[i])
    return contains_answer(cands[best]["sentence"], item["answer"])


def composer_scores(item: dict[str, Any]) -> np.ndarray:
    """The composer's score of each candidate of a list (0 where the list has none)."""
    return np.array([c.get("composer", 0.0) for c in item["candidates"]], dtype=np.float32)


def fused(
    items: Sequence[dict[str, Any]], logits: Sequence[np.ndarray], weight: float, penalty: float
) -> list[np.ndarray]:
    """Each list's logits fused as an answer fuses them (:func:`newsqa.query.read.fuse`)."""
    return [fuse(lg, composer_scores(it), [c["rank"] for c in it["candidates"]], weight, penalty)
            for it, lg in zip(items, logits, strict=True)]


def best_fusion(
    items: Sequence[dict[str, Any]], logits: Sequence[np.ndarray], weights: Sequence[float],
    penalties: Sequence[float],
) -> tuple[float, float]:
    """The composer weight and the penalty per passage place that give the best top-1 answer
    hit at the serving depth (the smallest of equals)."""
    def hit(choice: tuple[float, float]) -> tuple[float, float, float]:
        got = dev_report(items, fused(items, logits, *choice))[f"top1@{SERVE_DEPTH}"]
        return got, -choice[1], -choice[0]

    grid = [(w, p) for w in sorted(set(weights)) for p in sorted(penalties)]
    return max(grid, key=hit)


def best_logits(
    items: Sequence[dict[str, Any]], scores: Sequence[np.ndarray], depth: int = SERVE_DEPTH
) -> list[tuple[dict[str, Any], np.ndarray, float, float]]:
    """(list, scores, best score at ``depth``, composer evidence at ``depth``) of each list
    with a candidate in its first ``depth`` passages."""
    out = []
    for item, sc in zip(items, scores, strict=True):
        at = [i for i, c in enumerate(item["candidates"]) if c["rank"] < depth]
        if at:
            ev = float(item.get("evidence", {}).get(str(depth), 0.0))
            out.append((item, sc, float(np.max(sc[at])), ev))
    return out


def calibrate(
    items: Sequence[dict[str, Any]], scores: Sequence[np.ndarray], with_evidence: bool = True
) -> tuple[float, float, float]:
    """Logistic fit of whether each list's best candidate names the answer on its best score
    and the composer's evidence: (scale, evidence weight, bias) with P(right) =
    sigmoid(scale * (score + evidence weight * evidence) + bias)."""
    rows = best_logits(items, scores)
    ys = [1.0 if top_hit(it, sc, SERVE_DEPTH) else 0.0 for it, sc, _, _ in rows]
    if not rows or len(set(ys)) < 2:
        return 1.0, 0.0, 0.0
    x = np.array([[b, e if with_evidence else 0.0, 1.0] for _, _, b, e in rows])
    y = np.array(ys)
    w = np.zeros(3)
    for _ in range(200):  # Newton's method on the (lightly regularised) log-likelihood
        p = 1 / (1 + np.exp(-(x @ w)))
        g = x.T @ (p - y) + 1e-4 * w
        h = (x * np.maximum(p * (1 - p), 1e-6)[:, None]).T @ x + 1e-4 * np.eye(3)
        step = np.linalg.solve(h, g)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    scale = float(w[0]) if abs(w[0]) > 1e-6 else 1e-6
    return scale, float(w[1]) / scale, float(w[2])


def probability(score: float, evidence: float, cal: tuple[float, float, float]) -> float:
    """The calibrated chance (see :func:`calibrate`) for a best ``score`` and ``evidence``."""
    z = cal[0] * (score + cal[1] * evidence) + cal[2]
    return 1 / (1 + math.exp(-z)) if z > -50 else 0.0


def abstain_threshold(
    items: Sequence[dict[str, Any]], scores: Sequence[np.ndarray], cal: tuple[float, float, float],
    max_share: float = 0.04,
) -> float:
    """The highest calibrated probability under which at most ``max_share`` of the answerable
    lists' best candidates fall (those answers would abstain)."""
    best = sorted(probability(b, e, cal) for it, _, b, e in best_logits(items, scores)
                  if it.get("answer"))
    if not best:
        return 0.0
    return float(best[int(max_share * len(best))])


def dev_report(items: Sequence[dict[str, Any]], scores: Sequence[np.ndarray]) -> dict[str, float]:
    """Top-1 answer hit of the reader on the answerable dev lists, by passage depth."""
    answerable = [(it, sc) for it, sc in zip(items, scores, strict=True) if it.get("answer")]
    n = max(len(answerable), 1)
    return {f"top1@{d or 'all'}": sum(top_hit(it, sc, d) for it, sc in answerable) / n
            for d in (1, SERVE_DEPTH, DEV_DEPTH)}


#: Shares of the best candidate's probability a further answer sentence needs, tried on dev.
KEEP_SHARES = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)


def answer_sentences(
    item: dict[str, Any], scores: np.ndarray, cal: tuple[float, float, float], keep_share: float,
    depth: int = SERVE_DEPTH,
) -> list[str]:
    """The sentences an answer with the reader would hold for one list, abstention aside
    (:func:`newsqa.query.read.select_sentences` over its first ``depth`` passages, within the
    default answer length of :class:`newsqa.query.config.ComposeConfig`)."""
    cands = item["candidates"]
    ranked = sorted((i for i, c in enumerate(cands) if c["rank"] < depth),
                    key=lambda i: -scores[i])
    if not ranked:
        return []
    ev = float(item.get("evidence", {}).get(str(depth), 0.0))
    texts = [c["sentence"] for c in cands]
    probs = [probability(float(x), ev, cal) for x in scores]
    size = ComposeConfig()
    return [texts[i] for i in select_sentences(texts, probs, ranked, keep_share,
                                               size.max_sentences, size.max_words)]


def answer_reports(
    items: Sequence[dict[str, Any]], scores: Sequence[np.ndarray],
    cal: tuple[float, float, float], shares: Sequence[float] = KEEP_SHARES,
) -> dict[float, dict[str, float]]:
    """For each keep share, the answer hit (the answer's sentences name the gold answer) and
    mean words of the answers to the answerable lists, abstention aside."""
    out = {}
    for k in shares:
        hits, words = [], []
        for it, sc in zip(items, scores, strict=True):
            if not it.get("answer"):
                continue
            got = answer_sentences(it, sc, cal, k)
            hits.append(any(contains_answer(s, it["answer"]) for s in got))
            words.append(sum(len(s.split()) for s in got))
        n = max(len(hits), 1)
        out[k] = {"answer_hit": sum(hits) / n, "words": sum(words) / n}
    return out


def best_keep_share(reports: dict[float, dict[str, float]]) -> float:
    """The keep share of :func:`answer_reports` with the best answer hit (the largest of
    equals: the shortest answers)."""
    return max(reports, key=lambda k: (reports[k]["answer_hit"], k))


def chosen_on_dev(
    dev: Sequence[dict[str, Any]], raw: Sequence[np.ndarray], weights: Sequence[float],
    penalties: Sequence[float], log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """What ``reader.json`` records of the dev lists' choices for the logits ``raw`` of their
    candidates: the composer weight (of ``weights``) and rank penalty (of ``penalties``) of
    the fusion, the calibration, the abstention threshold and the keep share."""
    weight, penalty = best_fusion(dev, raw, weights, penalties)
    scores = fused(dev, raw, weight, penalty)
    log(f"composer weight {weight}, rank penalty {penalty}: {json.dumps(dev_report(dev, scores))}")
    cal = calibrate(dev, scores)
    below = abstain_threshold(dev, scores, cal)
    answers = answer_reports(dev, scores, cal)
    keep = best_keep_share(answers)
    log(f"answers by keep share (dev): {json.dumps(answers)}; keep share {keep}")
    return {"calibration": {"scale": cal[0], "bias": cal[2]}, "abstain_below": round(below, 4),
            "rank_penalty": penalty, "keep_share": keep, "dev_answers": answers,
            "fusion": {"composer_weight": weight, "evidence_weight": cal[1]}}
