"""``bench/silence_joint.py`` compares abstention scores from two answer-quality runs: pure,
hand-made rows here, no model and no index."""

from __future__ import annotations

import numpy as np

from bench.silence_joint import compare, joined, log_odds, unanswerable_at


def _row(qid: str, answerable: bool, evidence: float | None, abstained: bool = False) -> dict:
    return {"id": qid, "answerable": answerable, "evidence": evidence, "abstained": abstained}


def test_unanswerable_share_at_the_cut_of_an_answerable_share() -> None:
    s = np.array([0.1, 0.2, 0.3, 0.4, 0.05, 0.25, 0.9])
    answerable = np.array([True, True, True, True, False, False, False])
    # 25 % of four answerable rows: the cut is the second lowest (0.2), one unanswerable under it.
    assert unanswerable_at(s, answerable, 0.25) == 1 / 3
    assert unanswerable_at(s, answerable, 0.0) == 1 / 3
    assert unanswerable_at(s, answerable, 0.99) == 2 / 3


def test_rows_join_by_id_and_abstaining_in_both_runs_is_hard() -> None:
    on = [_row("20230501_1", True, 0.8), _row("20230501_2", False, 0.3, abstained=True),
          _row("20230501_3", False, None), _row("20230501_9", True, 0.5)]
    off = [_row("20230501_1", True, 0.6), _row("20230501_2", False, 0.1, abstained=True),
           _row("20230501_3", False, 0.2)]
    rows = joined(on, off)
    assert [r["id"] for r in rows] == ["20230501_1", "20230501_2", "20230501_3"]
    assert [r["hard"] for r in rows] == [False, True, True]
    assert rows[0]["reader"] == log_odds(0.8) and rows[0]["evidence"] == log_odds(0.6)
    assert log_odds(None) == log_odds(0.0) < log_odds(0.5) == 0.0


def test_the_joint_model_uses_a_score_the_other_lacks() -> None:
    # The evidence model cannot tell the halves of each set apart; the reader can.
    rng = np.random.default_rng(0)
    on, off = [], []
    for month in ("202305", "202308"):
        for i in range(200):
            answerable = i % 2 == 0
            qid = f"{month}01_{i}"
            on.append(_row(qid, answerable, float(rng.uniform(0.6, 0.9) if answerable
                                                  else rng.uniform(0.1, 0.4))))
            off.append(_row(qid, answerable, float(rng.uniform(0.2, 0.8))))
    table = {(r["scorer"], r["half"]): r for r in compare(joined(on, off))}
    held = "Jul–Dec (held out)"
    assert table[("joint", held)]["0.048"] > 0.9
    assert table[("reader", held)]["0.048"] > 0.9
    assert table[("evidence model", held)]["0.048"] < 0.2
