"""How the reader's logits are fused with the composer's scores, fit on exact hand-made lists:
the grid choice on the dev lists, and the
calibration that lets the composer's evidence move the probability."""

from __future__ import annotations

from typing import Any

import numpy as np

from newsqa.query.read import select_sentences
from newsqa.training.fusion import (
    answer_reports,
    answer_sentences,
    best_fusion,
    best_keep_share,
    calibrate,
    dev_report,
    fused,
    probability,
)
from newsqa.training.rebuild import in_spans


def _list(answer: str | None, cands: list[tuple[str, float, int]], ev: float = 0.5,
          ) -> dict[str, Any]:
    return {"question": "q", "answer": answer, "evidence": {"3": ev}, "candidates": [
        {"sentence": s, "composer": c, "rank": r, "label": int(bool(answer) and answer in s)}
        for s, c, r in cands]}


def test_the_grid_picks_the_fusion_that_puts_the_answer_first() -> None:
    items = [_list("Bills", [("Bills won", 0.0, 0), ("Rain fell", 1.0, 0)]),
             _list("Chiefs", [("Rain fell", 0.0, 0), ("Chiefs won", 0.2, 1)])]
    logits = [np.array([1.0, 0.0]), np.array([0.0, 0.5])]
    assert dev_report(items, fused(items, logits, 4.0, 0.0))["top1@3"] == 0.5
    weight, penalty = best_fusion(items, logits, (0.0, 4.0), (0.0, 1.0))
    assert (weight, penalty) == (0.0, 0.0)
    assert dev_report(items, fused(items, logits, weight, penalty))["top1@3"] == 1.0


def test_calibration_weighs_the_composer_evidence() -> None:
    # The best logit is the same everywhere; only the evidence says which lists are right.
    items = ([_list("Bills", [("Bills won", 0.0, 0)], ev=0.9)] * 20
             + [_list("Bills", [("Rain fell", 0.0, 0)], ev=0.1)] * 20
             + [_list("Bills", [("Bills won", 0.0, 0)], ev=0.1)] * 2
             + [_list("Bills", [("Rain fell", 0.0, 0)], ev=0.9)] * 2)
    scores = [np.array([1.0 + 0.01 * (i % 3)]) for i in range(len(items))]
    cal = calibrate(items, scores)
    assert cal[0] * cal[1] > 0  # evidence raises the probability
    assert probability(1.0, 0.9, cal) > 0.8 > 0.2 > probability(1.0, 0.1, cal)
    flat = calibrate(items, scores, with_evidence=False)
    assert flat[1] == 0.0


def test_dev_spans() -> None:
    spans = [("2023-05-01", "2023-06-30"), ("2024-11-01", "2024-12-31")]
    assert in_spans("2023-05-01", spans) and in_spans("2024-12-31", spans)
    assert not in_spans("2023-07-01", spans) and not in_spans("2024-10-31", spans)


def test_hard_negatives_come_from_those_the_composer_rates_best() -> None:
    import random

    from newsqa.training.train import _group

    item = {"candidates": [{"label": 1, "composer": 0.0}] + [
        {"label": 0, "composer": float(i)} for i in range(1, 21)]}
    for seed in range(5):
        got = _group(item, 5, random.Random(seed), hard=1.0)
        assert got[0] == 0 and len(got) == 5 and len(set(got)) == 5
        assert all(i >= 13 for i in got[1:])  # the 8 best-rated negatives are 13..20
    mixed = _group(item, 9, random.Random(1), hard=0.5)
    assert sum(i >= 13 for i in mixed[1:5]) == 4 and len(set(mixed)) == 9


def test_answer_sentences_follow_the_reader_rules() -> None:
    item = _list("Bills", [("Rain fell on the city today", 0.0, 0),
                           ("The Bills won the cup on Sunday", 0.0, 1),
                           ("Rain fell on the city today again", 0.0, 2),
                           ("The Bills won it in 2023, a long-awaited cup win", 0.0, 5)])
    scores = np.array([3.0, 2.0, 2.9, 9.0])
    cal = (1.0, 0.0, 0.0)
    # rank 5 is past the serving depth; the restated sentence is skipped
    assert answer_sentences(item, scores, cal, 0.0) == [
        "Rain fell on the city today", "The Bills won the cup on Sunday"]
    # the second sentence needs most of the best probability: sigmoid(2) / sigmoid(3) = 0.92
    assert answer_sentences(item, scores, cal, 0.95) == ["Rain fell on the city today"]
    # the length budget: a further sentence must fit in what the first leaves
    texts = [c["sentence"] for c in item["candidates"]]
    assert select_sentences(texts, [0.9, 0.8, 0.85, 0.1], [0, 2, 1], 0.0, 3, 8) == [0]
    assert select_sentences(texts, [0.9, 0.8, 0.85, 0.1], [0, 2, 1], 0.0, 1, 80) == [0]


def test_the_keep_share_is_the_one_that_names_the_answer_most_tersely() -> None:
    items = [_list("Bills", [("Rain fell on the city today", 0.0, 0),
                             ("The Bills won the cup on Sunday", 0.0, 1)])] * 2
    close = [np.array([3.0, 2.9])] * 2
    first = [np.array([-3.0, 3.0])] * 2
    cal = (1.0, 0.0, 0.0)
    reports = answer_reports(items, close, cal)
    assert reports[1.0] == {"answer_hit": 0.0, "words": 6.0}
    assert reports[0.0] == {"answer_hit": 1.0, "words": 13.0}
    assert best_keep_share(reports) == 0.7  # the largest share that still names it
    # nothing gained: the shortest answers
    assert best_keep_share(answer_reports(items, first, cal)) == 1.0
