"""bench/claims_model.py pairs the verdicts of two encoders on one replayed text, and a model
that replays another's pieces writes the same text."""

from __future__ import annotations

import pytest

from bench.claims_model import Replay, paired, summary
from newsqa.query.events import ClaimEvent


def _e(status: str, text: str, sim: float | None = None) -> ClaimEvent:
    return ClaimEvent(status, text, "", None, sim)


def test_only_sentences_both_runs_checked_are_paired_in_order() -> None:
    runs = {
        "embedder": [_e("ignored", "Question: who?"), _e("kept", "A won.", 0.9),
                     _e("kept", "B said so.", 0.55), _e("abstain", "No answer.")],
        "reader": [_e("ignored", "Question: who?"), _e("kept", "A won.", 0.88),
                   _e("flagged", "B said so.", 0.41)],
    }
    rows = paired(runs)
    assert [(c.text, c.verdicts["embedder"][0], c.verdicts["reader"][0]) for c in rows] == [
        ("A won.", "kept", "kept"), ("B said so.", "kept", "flagged")]
    assert summary([rows, []], ["embedder", "reader"]) == {
        "embedder": {"checked": 2, "kept": 2, "answers_kept": 1},
        "reader": {"checked": 2, "kept": 1, "answers_kept": 1}}


def test_runs_of_different_texts_are_refused() -> None:
    with pytest.raises(ValueError, match="diverge"):
        paired({"a": [_e("kept", "A won.", 0.9)], "b": [_e("kept", "B won.", 0.9)]})


def test_a_replay_writes_the_recorded_pieces_whatever_it_is_asked() -> None:
    assert "".join(Replay(["A ", "won [1]."]).stream([{"role": "user", "content": "?"}])) == \
        "A won [1]."
