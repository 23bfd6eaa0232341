"""Query planning: follow-up detection, retrieval text, time window and recency weight."""

from __future__ import annotations

from datetime import date

import pytest

from newsqa.query.plan import is_follow_up, plan_query

AS_OF = date(2023, 3, 15)
SEED = "What does the Korean government fear about Japan's right of collective self-defense?"
HISTORY = [{"role": "user", "content": SEED}, {"role": "assistant", "content": "… [1]"}]


@pytest.mark.parametrize(
    "question",
    [
        "And what did China say?",
        "what about the United States?",
        "Why?",
        "So what happens next?",
        "What did she say next?",
        "How did they respond?",
        "Is it legal?",
        "What did it cost Japan?",  # the pronoun comes before any name
    ],
)
def test_real_cues_make_a_follow_up(question: str) -> None:
    assert is_follow_up(question)


@pytest.mark.parametrize(
    "question",
    [
        "When did the central bank raise rates?",
        "Who won the election?",
        "How many people died in the earthquake in Turkey?",
        "Did Biden say he would run again?",  # "he" is resolved by the name before it
        "Whyte Avenue reopened when?",  # not "why"
        "Andrew Tate was arrested where?",  # not "and"
    ],
)
def test_self_contained_questions_stand_alone(question: str) -> None:
    assert not is_follow_up(question)


def plan(question: str, history: list[dict[str, str]] | None = HISTORY, asked: bool = False):  # type: ignore[no-untyped-def]
    return plan_query(
        question, history, AS_OF, asked_as_of=asked, recency_weight=1.0, untimed_share=0.1
    )


def test_a_follow_up_is_retrieved_with_the_previous_question() -> None:
    p = plan("And what did China say?")
    assert p.follow_up and p.text == f"{SEED} And what did China say?"
    assert p.question == "And what did China say?"


def test_a_self_contained_question_is_retrieved_alone_even_when_short() -> None:
    p = plan("When did the central bank raise rates?")
    assert not p.follow_up and p.text == "When did the central bank raise rates?"


def test_without_history_nothing_is_a_follow_up() -> None:
    p = plan("And what did China say?", history=None)
    assert not p.follow_up and p.text == "And what did China say?"
    assert not plan("Why?", history=[{"role": "assistant", "content": "x"}]).follow_up


def test_recency_counts_fully_only_when_time_is_named() -> None:
    assert plan("Who won the election?").recency_weight == pytest.approx(0.1)
    assert plan("Who won the election?", asked=True).recency_weight == 1.0
    timed = plan("Who won the election this week?")
    assert timed.recency_weight == 1.0
    assert timed.window is not None
    assert (timed.window.since, timed.window.until) == (date(2023, 3, 8), AS_OF)


def test_a_follow_up_inherits_the_window_of_the_question_it_continues() -> None:
    history = [{"role": "user", "content": "What happened in Turkey last week?"}]
    p = plan("And what did they say about it?", history=history)
    assert p.window is not None and p.window.text == "last week"
    assert p.recency_weight == 1.0
