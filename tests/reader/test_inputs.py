"""What the reader reads: the word pieces its answer head is taught to point at."""

from __future__ import annotations

import pytest

from newsqa.reader.inputs import Candidate, PairTokenizer
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
