"""bench/reader_rerank.py scores a reranked list as bench/quality.py scores an ask's passages."""

from __future__ import annotations

from types import SimpleNamespace

from bench.reader_rerank import ranked

Q = {"answer": "Moldova", "gold_urls": ["https://gold.example/a"]}


def _p(url: str, text: str) -> SimpleNamespace:
    return SimpleNamespace(url=url, text=text)


def test_a_hit_is_a_gold_url_whose_text_names_the_answer_within_the_first_ten() -> None:
    other = _p("https://other.example/b", "Maia Sandu won in Moldova.")
    gold_silent = _p("https://gold.example/a", "Maia Sandu won a second term.")
    gold = _p("https://gold.example/a", "Maia Sandu won a second term in  moldova .")
    assert ranked(Q, [other, gold_silent, gold]) == {"hit": 1.0, "rr": 1 / 3}
    assert ranked(Q, [other, gold_silent]) == {"hit": 0.0, "rr": 0.0}
    assert ranked(Q, [other] * 10 + [gold]) == {"hit": 0.0, "rr": 0.0}
