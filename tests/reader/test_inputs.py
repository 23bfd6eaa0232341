"""What the reader reads: the word pieces its answer head is taught to point at."""

from __future__ import annotations

import numpy as np
import pytest

from newsqa.reader.inputs import Candidate, PairTokenizer, candidate_text
from newsqa.reader.runtime import tokenizer_path


@pytest.fixture(scope="module")
def tok() -> PairTokenizer:
    return PairTokenizer(tokenizer_path())


def _marked(tok: PairTokenizer, question: str, cands: list[Candidate], answer: str) -> list:
    ids, _, _ = tok.encode(question, cands)
    labels = tok.answer_tokens(question, cands, answer, ids.shape[1])
    return [[tok._tok.id_to_token(int(t)) for t, y in zip(row, lab, strict=True) if y]
            for row, lab in zip(ids, labels, strict=True)]


def test_answer_pieces_are_marked_wherever_the_candidate_writes_the_answer(
    tok: PairTokenizer,
) -> None:
    cands = [Candidate("The Kansas  City Chiefs won on Sunday.", "Chiefs win again"),
             Candidate("Rain fell all day.", "KANSAS CITY CHIEFS parade"),
             Candidate("Nobody names the team here.", "Final")]
    got = _marked(tok, "Which Kansas City team won?", cands, "Kansas City Chiefs")
    # spacing and case ignored; the question's own words are never marked
    assert got == [["kansas", "city", "chiefs"], ["kansas", "city", "chiefs"], []]


def test_an_empty_or_odd_answer_marks_nothing(tok: PairTokenizer) -> None:
    cands = [Candidate("Prices rose (sharply) by 5%.")]
    assert _marked(tok, "What rose?", cands, "") == [[]]
    assert _marked(tok, "What rose?", cands, "(sharply") == [["(", "sharply"]]
    assert _marked(tok, "What rose?", cands, "5%") == [["5", "%"]]


def test_a_candidate_is_read_with_the_context_chosen_for_the_model() -> None:
    c = Candidate("The Bills won.", "Bills beat Jets", "It rained all day.")
    assert candidate_text(c) == "The Bills won. | Bills beat Jets | It rained all day."
    assert candidate_text(c, "headline") == "The Bills won. | Bills beat Jets"
    assert candidate_text(c, "before") == "The Bills won. | It rained all day."
    assert candidate_text(c, "sentence") == "The Bills won."
    # a headline that is the sentence itself is not read twice
    assert candidate_text(Candidate("Bills win", "Bills win"), "headline") == "Bills win"
    with pytest.raises(ValueError, match="unknown reader context"):
        candidate_text(c, "everything")
    with pytest.raises(ValueError, match="unknown reader context"):
        PairTokenizer(tokenizer_path(), context="everything")
    bare = PairTokenizer(tokenizer_path(), context="sentence")
    assert np.array_equal(bare.encode("Who won?", [c])[0],
                          bare.encode("Who won?", [Candidate("The Bills won.")])[0])
    assert not np.array_equal(PairTokenizer(tokenizer_path()).encode("Who won?", [c])[0],
                              bare.encode("Who won?", [c])[0])
