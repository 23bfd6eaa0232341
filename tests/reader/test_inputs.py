"""What the reader reads: a candidate's sentence alone, in word pieces cut to the model's
length."""

from __future__ import annotations

import numpy as np
import pytest

from newsqa.reader.inputs import Candidate, PairTokenizer, candidate_text
from newsqa.reader.runtime import tokenizer_path


def test_a_candidate_is_read_as_its_sentence_alone() -> None:
    c = Candidate("  The Bills won. ", "Bills beat Jets", "It rained all day.")
    assert candidate_text(c) == candidate_text(c, "sentence") == "The Bills won."
    with pytest.raises(ValueError, match="unknown reader context"):
        candidate_text(c, "headline+before")
    with pytest.raises(ValueError, match="unknown reader context"):
        PairTokenizer(tokenizer_path(), context="headline")
    tok = PairTokenizer(tokenizer_path())
    assert np.array_equal(tok.encode_candidates([c])[0],
                          tok.encode_texts(["The Bills won."])[0])


def test_texts_are_padded_into_one_batch_and_cut_to_max_pieces() -> None:
    tok = PairTokenizer(tokenizer_path(), max_pieces=8)
    ids, mask, types = tok.encode_texts(["Who won?", "one two three four five six seven eight"])
    assert ids.shape == mask.shape == types.shape == (2, 8)
    assert mask[0].tolist() == [1] * int(mask[0].sum()) + [0] * (8 - int(mask[0].sum()))
    assert mask[1].sum() == 8 and not types.any()
