"""The signals of the evidence model, on hand-made passages (exact: no model runs)."""

from __future__ import annotations

import math

import pytest

from newsqa.query.sentences import absent_share, analyse, match
from newsqa.query.silence import FEATURES, probability, signals
from newsqa.records import Passage


def _passage(title: str, text: str, score: float) -> Passage:
    return Passage(1, "a1", "https://x/1", title, "x.com", "2023-01-01", text, score)


def test_signals_of_a_number_question_over_a_passage_without_the_number() -> None:
    q = analyse("How much did the coffin cost?")
    p = _passage("Pele laid to rest", "Crowds filed past the coffin in Santos.", 0.5)
    cands = [(0, 0, "Crowds filed past the coffin in Santos.")]
    got = signals(q, cands, [match(q, s) for _, _, s in cands], [0.4], [0.3], [p],
                  absent_share(q, [f"{p.title} {p.text}"]))
    assert set(got) == set(FEATURES)
    assert got["best"] == 0.4 and got["meaning"] == 0.3
    assert got["typed"] == 0.0  # no sentence holds a number
    # "much", "coffin", "cost" weigh the same; only "coffin" is there
    assert got["covered"] == pytest.approx(1 / 3) and got["missing"] == pytest.approx(2 / 3)


def test_the_headline_counts_toward_what_a_sentence_covers() -> None:
    q = analyse("When was the coffin carried to Santos?")
    p = _passage("Coffin carried to Santos", "It arrived on Tuesday morning.", 0.1)
    cands = [(0, 0, "It arrived on Tuesday morning.")]
    got = signals(q, cands, [match(q, s) for _, _, s in cands], [0.2], [0.1], [p],
                  absent_share(q, [f"{p.title} {p.text}"]))
    assert got["typed"] == 0.2 and got["covered"] == pytest.approx(1.0)


def test_probability_is_the_logistic_of_the_weighted_signals() -> None:
    assert probability({"best": 1.0, "covered": 2.0}, {"bias": -1.0, "best": 2.0}) == (
        pytest.approx(1 / (1 + math.exp(-1.0))))
    assert probability({"best": 1e9}, {"best": 1.0}) == pytest.approx(1.0)
