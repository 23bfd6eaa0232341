"""Sentence scoring: rarity-weighted overlap, phrases, answer type and the answering span."""

from __future__ import annotations

import pytest

from newsqa.query.sentences import (
    UNSEEN_IDF,
    analyse,
    answer_span,
    answer_type_fit,
    focus,
    match,
    new_names,
    question_kind,
)

Q = "Which country in Southeast Asia became the first to recognize same-sex marriage?"
IDF = {"country": 1.0, "southeast": 4.0, "asia": 3.0, "became": 1.0, "first": 1.0,
       "recognize": 2.0, "sex": 3.0, "marriage": 3.0}
THAILAND = (
    "Thailand edged closer to becoming the first place in Southeast Asia to legalize same-sex "
    "unions."
)
JAPAN = "A Japanese court said a ban on same-sex marriage in Japan was unconstitutional."


def test_question_kinds() -> None:
    assert question_kind("How many people died?") == "number"
    assert question_kind("When did the strike end?") == "time"
    assert question_kind("What year did it open?") == "time"
    assert question_kind("She resigned this week. She had served since when?") == "time"
    assert question_kind(Q) == "name"
    assert question_kind("What does China think about it?") == "other"


def test_weights_are_shares_of_the_questions_rarity() -> None:
    q = analyse(Q, IDF)
    assert sum(q.weights.values()) == pytest.approx(1.0)
    assert q.weights["southe"] == pytest.approx(4.0 / 18.0)
    assert q.weights["first"] == pytest.approx(1.0 / 18.0)
    # without statistics every content word weighs the same
    assert list(analyse(Q).weights.values()) == pytest.approx([1.0 / 8] * 8)
    # a word the archive never holds weighs the most
    unseen = analyse("Which zorbly team won?", {"team": 2.0, "won": 2.0})
    assert unseen.weights["zorbly"] == pytest.approx(UNSEEN_IDF / (UNSEEN_IDF + 4.0))


def test_rare_words_beat_common_ones() -> None:
    q = analyse(Q, IDF)
    thai, japan = match(q, THAILAND), match(q, JAPAN)
    # Thailand: southeast, asia, first, sex (becoming -> becom, not "became")
    assert thai.overlap == pytest.approx((4.0 + 3.0 + 1.0 + 3.0) / 18.0)
    assert japan.overlap == pytest.approx((3.0 + 3.0) / 18.0)
    assert thai.phrase == pytest.approx(1 / 7)  # "southeast asia"
    assert japan.phrase == pytest.approx(1 / 7)  # "sex marriage"
    # a name the question lacks is what "which country" asks for: one is enough
    assert thai.fit == japan.fit == 1.0


def test_answer_type_fit() -> None:
    def fit(question: str, sentence: str) -> float:
        return answer_type_fit(analyse(question), sentence)

    assert fit("How many people died?", "At least 12 people died.") == 1.0
    assert fit("How many people died?", "Many people died.") == 0.0
    assert fit("When did the strike end?", "The strike ended on Monday.") == 1.0
    assert fit("When did the strike end?", "The strike ended after talks.") == 0.0
    assert fit("Which team does Hamlin play for?", "Hamlin plays for the Buffalo Bills.") == 1.0
    assert fit("Which team does Hamlin play for?", "He plays for a team in Hamlin.") == 0.0
    assert fit("What does China think?", "Anything at all.") == 0.5


def test_names_skip_common_sentence_openers_but_keep_names_that_open_one() -> None:
    q = analyse("Which team does Hamlin play for?")
    s = "The Buffalo Bills said Hamlin was awake."
    assert [s[a:b] for a, b in new_names(q, s)] == ["Buffalo Bills"]
    assert [THAILAND[a:b] for a, b in new_names(analyse(Q), THAILAND)] == ["Thailand"]
    assert new_names(q, "However, Hamlin played.") == []


def test_the_asking_sentence_weighs_more_and_decides_the_kind() -> None:
    q = "Rescue efforts continue in Turkey after an earthquake. What was its magnitude?"
    assert focus(q) == "What was its magnitude?"
    plain, focused = analyse(q), analyse(q, focus_weight=2.0)
    # six words, one of them in the asking sentence; it weighs three times as much when focused
    assert plain.weights["magnit"] == pytest.approx(1 / 6)
    assert focused.weights["magnit"] == pytest.approx(3 / 8)
    assert focused.kind == "other"  # "what was …" asks for a statement, not a name
    assert analyse("Ardern resigned. She had served since when?").kind == "time"


def test_novelty_is_the_share_of_a_sentence_the_question_lacks() -> None:
    q = analyse("Which team won the final?")
    assert match(q, "The team won the final.").novelty == 0.0
    assert match(q, "The Bills won the final on Sunday.").novelty == pytest.approx(2 / 4)


def test_answer_span_marks_what_answers() -> None:
    s = "At least 12,000 people died, officials said."
    a, b = answer_span(analyse("How many people died?"), s)  # type: ignore[misc]
    assert s[a:b] == "12,000"
    s = "The strike ended on March 3, 2023 after talks."
    a, b = answer_span(analyse("When did the strike end?"), s)  # type: ignore[misc]
    assert s[a:b] == "March 3, 2023"
    a, b = answer_span(analyse(Q), THAILAND)  # type: ignore[misc]
    assert THAILAND[a:b] == "Thailand"
    assert answer_span(analyse("What does China think?"), THAILAND) is None
