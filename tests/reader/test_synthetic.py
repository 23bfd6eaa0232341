"""Cloze questions from an archive's headlines: which names and numbers become answers, how the
question reads, which articles are drawn from, and what a collected list loses before training."""

from __future__ import annotations

import random

from newsqa.models import Article
from newsqa.reader.synthetic import (
    answer_spans,
    clean_headline,
    cloze,
    pruned,
    synthetic_questions,
    title_case,
)

BODY = ("Acme was fined $5 million by the regulator on Monday. Officials said Acme hid the leaks "
        "for months. Texas investigators said 84 customers were affected.")


def _all(title: str, body: str = BODY) -> set[tuple[str, str] | None]:
    return {cloze(title, body, random.Random(seed)) for seed in range(12)}


def test_clean_headline_drops_an_outlet_tail_and_an_ellipsis() -> None:
    short = "Acme fined over leaks"
    assert clean_headline(f"{short} - Daily News") == short
    assert clean_headline(f"{short} | Business | Daily News") == short
    assert clean_headline(f"{short} as regulators ...") == f"{short} as regulators"
    long_tail = "Acme fined - and the regulator says the leaks went on for many months"
    assert clean_headline(long_tail) == long_tail


def test_names_and_numbers_are_answers_but_not_a_sentences_first_word() -> None:
    words = "Regulators fine Acme Corp $5 million: Officials cite Texas".split()
    spans = [" ".join(words[i:j]) for i, j in answer_spans(words)]
    # "Regulators" and "Officials" start a sentence
    assert spans == ["Acme Corp", "$5 million:", "Texas"]
    assert answer_spans("Bank of England raises rates".split()) == [(0, 3)]
    assert title_case("Uber's Latest Plan to Make Its Drivers Happier".split())
    assert not title_case("Regulators fine Acme over leaks in Texas".split())


def test_cloze_questions_ask_for_what_the_body_states_again() -> None:
    got = _all("Regulators fine Acme $5 million over leaks in Texas")
    assert got == {("Regulators fine what $5 million over leaks in Texas?", "Acme"),
                   ("Regulators fine Acme how much over leaks in Texas?", "$5 million"),
                   ("Regulators fine Acme $5 million over leaks in what?", "Texas")}
    assert _all("Leak at Acme affects 84 customers, investigators say") == {
        ("Leak at what affects 84 customers, investigators say?", "Acme"),
        ("Leak at Acme affects how many customers, investigators say?", "84")}
    assert _all("Customers angry over Acme's leaks across the state") == {
        ("Customers angry over whose leaks across the state?", "Acme")}


def test_no_cloze_without_a_body_sentence_that_states_the_answer() -> None:
    assert _all("Regulators fine Globex over leaks in Ohio") == {None}
    assert _all("Regulators Fine Acme Over Leaks In Texas") == {None}  # title case
    assert _all("Acme fined") == {None}  # too short
    # a body sentence that only restates the headline does not count
    assert _all("Globex fined over leaks in Ohio", "Globex fined over leaks in Ohio.") == {None}


def _article(i: int, day: str, url: bool = True) -> Article:
    return Article(title=f"Regulators fine Acme{i} over leaks in Texas", text=BODY.replace(
        "Acme", f"Acme{i}"), url=f"https://news.example/{i}" if url else None, published_at=day)


def test_synthetic_questions_sample_recent_dated_articles_outside_the_spans() -> None:
    arts = [_article(i, f"2024-{1 + i % 12:02d}-05") for i in range(24)]
    arts += [_article(90, "2020-01-01"), _article(91, "2024-05-05", url=False)]
    qs = synthetic_questions(arts, 100, seed=3, skip=[("2024-06-01", "2024-07-31")])
    dates = [q["date"] for q in qs]
    assert len(qs) == 20 and dates == sorted(dates)
    assert not any("2024-06-01" <= d <= "2024-07-31" for d in dates) and "2020-01-01" not in dates
    assert all(q["gold_urls"] and q["answerable"] and q["question"].endswith("?") for q in qs)
    assert synthetic_questions(arts, 5, seed=3) == synthetic_questions(arts, 5, seed=3)
    assert synthetic_questions(arts, 5, seed=3) != synthetic_questions(arts, 5, seed=4)


def test_pruned_lists_lose_the_headline_and_other_articles_naming_the_answer() -> None:
    q = {"id": "c1", "headline": "Regulators fine Acme over leaks in Texas"}
    item = {"id": "c1", "question": "Regulators fine what over leaks in Texas?", "candidates": [
        {"sentence": "Regulators fine Acme over leaks in Texas.", "label": 1},
        {"sentence": "Acme was fined by the regulator on Monday.", "label": 1},
        {"sentence": "Acme shares rose elsewhere.", "label": -1},
        {"sentence": "Rain fell.", "label": 0}]}
    got = list(pruned([item, {**item, "id": "c2", "candidates": item["candidates"][2:]}], [q]))
    assert len(got) == 1 and got[0]["synthetic"]
    assert [c["sentence"] for c in got[0]["candidates"]] == [
        "Acme was fined by the regulator on Monday.", "Rain fell."]


def test_years_and_calendar_words_are_no_answers() -> None:
    body = "The summit opened on Tuesday in January 2024 in Geneva."
    assert _all("World leaders meet on Tuesday in 2024 summit in Geneva", body) == {
        ("World leaders meet on Tuesday in 2024 summit in what?", "Geneva")}
