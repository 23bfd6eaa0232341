"""Fitting the evidence model: the logistic fit and the abstention threshold it is paired with."""

from __future__ import annotations

import numpy as np
import pytest

from newsqa.query.silence import FEATURES, probability
from newsqa.training.evidence import fit, threshold


def _signals(rng: np.random.Generator, n: int) -> tuple[list[dict[str, float]], list[bool]]:
    """Questions whose answerability depends on ``covered`` only (the others are noise)."""
    rows, labels = [], []
    for _ in range(n):
        row = {k: float(rng.normal()) for k in FEATURES}
        rows.append(row)
        labels.append(bool(rng.random() < 1 / (1 + np.exp(-(0.5 + 3.0 * row["covered"])))))
    return rows, labels


def test_the_fit_recovers_the_signal_that_decides() -> None:
    rows, labels = _signals(np.random.default_rng(7), 4000)
    w = fit(rows, labels, l2=0.1)
    assert set(w) == {"bias", *FEATURES}
    assert w["covered"] == pytest.approx(3.0, abs=0.4) and w["bias"] == pytest.approx(0.5, abs=0.2)
    assert all(abs(w[k]) < 0.2 for k in FEATURES if k != "covered")


def test_the_l2_penalty_shrinks_weights_but_not_the_bias() -> None:
    rows, labels = _signals(np.random.default_rng(8), 500)
    loose, tight = fit(rows, labels, l2=0.01), fit(rows, labels, l2=1000.0)
    assert abs(tight["covered"]) < abs(loose["covered"]) / 5
    share = sum(labels) / len(labels)
    assert 1 / (1 + np.exp(-tight["bias"])) == pytest.approx(share, abs=0.05)


def test_the_threshold_keeps_the_share_of_answerable_questions_asked_for() -> None:
    weights = {"bias": 0.0, "covered": 1.0}
    rows = [{"covered": float(np.log(p / (1 - p)))} for p in (0.1, 0.2, 0.35, 0.5, 0.8, 0.9)]
    answers = [True, True, True, True, True, False]
    # 1 of the 5 answerable ones may fall under it: the 2nd lowest probability, rounded down
    cut = threshold(rows, answers, weights, share=0.2)
    assert cut == 0.2
    assert sum(probability(r, weights) < cut for r, a in zip(rows, answers, strict=True) if a) <= 1
    assert threshold(rows, answers, weights, share=0.0) == 0.1
    assert threshold([], [], weights, 0.02) == 0.0
