"""Fitting the evidence model (:mod:`newsqa.query.silence`): a logistic regression of whether
the archive answers a question on the composer's signals, and the abstention threshold that
keeps a chosen share of answerable questions answered. Numpy only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from newsqa.query.silence import FEATURES, probability


def fit(
    signals: Sequence[Mapping[str, float]], answers: Sequence[bool], l2: float = 1.0,
    iterations: int = 50,
) -> dict[str, float]:
    """Weights (with ``bias``) of the logistic model of ``answers`` (True: the archive answers
    the question) on ``signals``, by :func:`logistic` with an L2 penalty of ``l2``."""
    x = np.array([[s[k] for k in FEATURES] for s in signals], dtype=np.float64)
    w = logistic(x, np.asarray(answers, dtype=np.float64), l2, iterations)
    return {"bias": float(w[0]), **{k: float(v) for k, v in zip(FEATURES, w[1:], strict=True)}}


def logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, iterations: int = 50) -> np.ndarray:
    """Weights, bias first, of the logistic regression of ``y`` (0/1) on the columns of ``x``,
    by Newton's method with an L2 penalty of ``l2`` on every weight but the bias
    (scikit-learn's ``C = 1 / l2``)."""
    x = np.c_[np.ones(len(x)), np.asarray(x, dtype=np.float64).reshape(len(x), -1)]
    w = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -50, 50)))
        grad = x.T @ (p - y) + penalty * w
        hess = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.max(np.abs(step))) < 1e-9:
            break
    return w


def threshold(
    signals: Sequence[Mapping[str, float]], answers: Sequence[bool], weights: Mapping[str, float],
    share: float,
) -> float:
    """The highest probability threshold under which at most ``share`` of the answerable
    questions (``answers`` True) fall, rounded down to 0.01."""
    probs = sorted(probability(s, weights) for s, a in zip(signals, answers, strict=True) if a)
    if not probs:
        return 0.0
    allowed = int(share * len(probs))
    return float(np.floor(probs[min(allowed, len(probs) - 1)] * 100) / 100)
