"""Evaluation metrics on hand-made questions whose figures are known exactly, plus one real run."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from newsqa.eval import (
    answer_hit,
    answer_text,
    article_hit,
    choice_by_evidence,
    citation_hit,
    contains_answer,
    evaluate,
    load_questions,
    markdown_table,
    normalize,
    passage_hit_ranks,
    percentile,
    score_response,
    summarize,
)
from newsqa.records import AnswerRequest, Passage
from tests.support import ARCHIVE, QUESTIONS, archive_articles, as_article, open_service

GOLD = "https://gold.example.com/a"
OTHER = "https://other.example.com/b"


def passage(url: str, text: str, article_id: str | None = None) -> dict[str, Any]:
    """A passage dict shaped like ``ask()['passages']``."""
    return {"url": url, "text": text, "article_id": article_id or url, "chunk_id": 0}


def ranked_with_hit_at(rank: int | None, answer: str = "Buffalo Bills") -> list[dict[str, Any]]:
    """Ten passages from ten distinct articles; only the one at ``rank`` is a hit."""
    out = [passage(f"https://x.example.com/{i}", "nothing here") for i in range(10)]
    if rank is not None:
        out[rank - 1] = passage(GOLD, f"He plays for the {answer}.")
    return out


class FakeService:
    """Answers from a table keyed by question; records the filters it was asked with."""

    def __init__(self, responses: dict[str, dict[str, Any]]) -> None:
        self.responses = responses
        self.calls: list[tuple[str, int | None, Any]] = []

    def answer(self, request: AnswerRequest) -> Given:
        assert request.mode == "extractive"
        self.calls.append((request.question, request.k, request.filters))
        return Given(self.responses[request.question])


class Given:
    """A canned answer, in its JSON form (what eval reads of an answer)."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    def to_dict(self) -> dict[str, Any]:
        return self.body


def response(
    passages: list[dict[str, Any]], answer: str = "", citations: list[dict[str, Any]] | None = None,
    abstained: bool = False,
) -> dict[str, Any]:
    segments = [{"text": answer, "citations": [] if abstained else [1], "lead": ""}]
    return {"answer": answer, "segments": segments, "abstained": abstained,
            "citations": citations or [], "passages": passages}


def segs(*texts: str, lead: str = "") -> list[dict[str, Any]]:
    return [{"text": t, "citations": [1], "lead": lead} for t in texts]


def question(qid: str, answer: str = "Buffalo Bills", answerable: bool = True) -> dict[str, Any]:
    return {"id": qid, "date": "2023-01-05", "question": f"question {qid}?", "answer": answer,
            "answerable": answerable, "gold_urls": [GOLD] if answerable else []}


# --------------------------------------------------------------------------- pure metrics
def test_normalize_and_contains_are_case_and_whitespace_insensitive() -> None:
    assert normalize("  The  BUFFALO\n\tBills ") == "the buffalo bills"
    assert contains_answer("They play for the buffalo\n  BILLS now.", "Buffalo Bills")
    assert not contains_answer("They play for Buffalo.", "Buffalo Bills")
    assert not contains_answer("anything", "")
    assert not contains_answer(None, "x")


def test_passage_hit_rank_needs_gold_url_and_answer_text() -> None:
    passages = [
        passage(OTHER, "the Buffalo Bills won"),  # answer, wrong article
        passage(GOLD, "no answer in this chunk"),  # gold article, no answer
        passage(GOLD, "the BUFFALO   bills won"),
    ]
    assert passage_hit_ranks(passages, [GOLD], "Buffalo Bills") == 3
    assert passage_hit_ranks(passages[:2], [GOLD], "Buffalo Bills") is None
    assert passage_hit_ranks([], [GOLD], "Buffalo Bills") is None


def test_passage_hit_rank_accepts_passage_objects() -> None:
    p = Passage(chunk_id=1, article_id="a", url=GOLD, title="t", source=None,
                published_at=None, text="Buffalo Bills", score=1.0)
    assert passage_hit_ranks([p], [GOLD], "buffalo bills") == 1


def test_article_hit_counts_distinct_articles() -> None:
    # Three passages of the same article count as one: the gold article is the 3rd distinct.
    passages = [passage(OTHER, "a", "A"), passage(OTHER, "b", "A"), passage(OTHER, "c", "A"),
                passage("https://b.example.com", "d", "B"), passage(GOLD, "e", "G")]
    assert article_hit(passages, [GOLD], k=3)
    assert not article_hit(passages, [GOLD], k=2)
    # Without article ids, the URL identifies the article.
    no_ids = [{"url": OTHER, "text": "a"}, {"url": OTHER, "text": "b"}, {"url": GOLD, "text": "c"}]
    assert article_hit(no_ids, [GOLD], k=2)
    # The article hit needs no answer text.
    assert article_hit([passage(GOLD, "no answer")], [GOLD], k=10)
    assert not article_hit([], [GOLD])


def test_answer_hit_reads_segment_text_only() -> None:
    assert answer_hit(segs("He plays for the Buffalo Bills."), "Buffalo Bills")
    assert answer_hit(segs("The BUFFALO", "Bills lost."), "buffalo bills")  # across segments
    assert answer_hit(segs("Bills lost.", lead="Buffalo "), "buffalo bills")
    # A bracketed number in article text is text: it is not stripped like a marker.
    assert not answer_hit(segs("The Buffalo [12] Bills."), "Buffalo Bills")
    assert not answer_hit(segs("The archive has no article that answers this."), "Buffalo Bills")
    assert not answer_hit(None, "Buffalo Bills")


def test_citation_hit_needs_gold_url_and_answer_in_quote() -> None:
    good = {"n": 1, "url": GOLD, "quote": "Hamlin, a Buffalo Bills safety, collapsed."}
    wrong_url = {"n": 1, "url": OTHER, "quote": "Hamlin, a Buffalo Bills safety, collapsed."}
    no_answer = {"n": 2, "url": GOLD, "quote": "Hamlin collapsed.", "passage": "Buffalo Bills"}
    assert citation_hit([good], [GOLD], "buffalo bills")
    assert not citation_hit([wrong_url], [GOLD], "Buffalo Bills")
    assert not citation_hit([no_answer], [GOLD], "Buffalo Bills")
    assert citation_hit([no_answer, good], [GOLD], "Buffalo Bills")
    assert not citation_hit([], [GOLD], "Buffalo Bills")


def test_percentile_matches_linear_interpolation() -> None:
    assert percentile([], 50) is None
    assert percentile([5.0], 95) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([10.0, 20.0, 30.0, 40.0, 50.0], 95) == pytest.approx(48.0)


def test_answer_text_joins_leads_and_texts_without_markers() -> None:
    joined = answer_text(segs("One.", "Two.", lead="2023-01-05: "))
    assert joined == "2023-01-05: One. 2023-01-05: Two."
    assert answer_text([]) == "" and answer_text(None) == ""


CHOICES = ["Pittsburgh Steelers", "Cincinnati Bengals", "Buffalo Bills", "Cleveland Browns"]


def test_choice_by_evidence_takes_the_first_passage_naming_exactly_one_choice() -> None:
    both = passage(OTHER, "The Buffalo Bills played the Cincinnati Bengals.")
    bills = passage(GOLD, "Hamlin plays safety for the buffalo  bills.")
    browns = passage(OTHER, "The Cleveland Browns won.")
    assert choice_by_evidence([both, bills, browns], CHOICES) == "Buffalo Bills"
    assert choice_by_evidence([browns, bills], CHOICES) == "Cleveland Browns"
    assert choice_by_evidence([both], CHOICES) is None
    assert choice_by_evidence([passage(OTHER, "nothing")] * 10 + [bills], CHOICES) is None


def test_mc_accuracy_on_a_tiny_hand_made_set_is_exact() -> None:
    bills = passage(GOLD, "Hamlin plays for the Buffalo Bills.")
    browns = passage(OTHER, "The Cleveland Browns won.")
    q = {**question("m1"), "choices": CHOICES}
    rows = [
        score_response(q, response([bills]), 1.0),  # right
        score_response(q, response([browns, bills]), 1.0),  # wrong: Browns named first
        score_response(q, response([passage(OTHER, "no team")]), 1.0),  # none: wrong
        score_response({**q, "choices": []}, response([bills]), 1.0),  # no choices: wrong
    ]
    assert [r["mc_correct"] for r in rows] == [True, False, False, False]
    assert summarize(rows)["mc_accuracy"] == 0.25


# --------------------------------------------------------------------------- summary
def known_rows() -> list[dict[str, Any]]:
    """Four answerable questions with hit ranks 1, 3, none, 7, and one unanswerable."""
    base = {"article_hit": True, "answer_hit": False, "citation_hit": False, "abstained": False}
    return [
        {**base, "hit_rank": 1, "answer_hit": True, "citation_hit": True, "latency_ms": 10.0,
         "response": "The Buffalo Bills Damar Hamlin plays safety for them", "sentences": 2},
        {**base, "hit_rank": 3, "answer_hit": True, "latency_ms": 20.0,
         "response": "one two three four five six", "sentences": 1},
        {**base, "hit_rank": None, "article_hit": False, "abstained": True, "latency_ms": 30.0,
         "response": "The archive has no article that answers this.", "sentences": 1},
        {**base, "hit_rank": 7, "latency_ms": 40.0, "response": "a b c d e f", "sentences": 3},
        {**base, "answerable": False, "hit_rank": 1, "answer_hit": True, "citation_hit": True,
         "latency_ms": 9999.0, "response": "x", "sentences": 1},
    ]


def test_summary_figures_are_exact() -> None:
    s = summarize(known_rows())
    assert s["n"] == 4
    assert s["hit@1"] == 0.25
    assert s["hit@5"] == 0.5
    assert s["hit@10"] == 0.75
    assert s["mrr@10"] == pytest.approx((1 + 1 / 3 + 0 + 1 / 7) / 4, abs=1e-12)
    assert s["article_hit@10"] == 0.75
    assert s["answer_hit"] == 0.5
    assert s["citation_hit"] == 0.25
    assert s["abstention_rate"] == 0.25
    assert s["latency_p50_ms"] == 25.0
    assert s["latency_p95_ms"] == pytest.approx(38.5)
    # Length over the three answers that did not abstain: 2, 1 and 3 sentences.
    assert s["answer_mean_sentences"] == 2.0
    assert s["answer_max_sentences"] == 3
    assert s["answer_max_words"] == 9


def test_rank_beyond_ten_counts_for_nothing() -> None:
    s = summarize([{"hit_rank": 11, "latency_ms": 1.0, "response": ""}])
    assert s["hit@10"] == 0.0 and s["mrr@10"] == 0.0


def test_empty_summary() -> None:
    s = summarize([])
    assert s["n"] == 0 and s["hit@1"] is None and s["mrr@10"] is None
    assert s["latency_p50_ms"] is None
    assert "–" in markdown_table([("empty", s)])


# --------------------------------------------------------------------------- evaluate
def test_evaluate_with_known_ranks_and_unanswerable_skipped() -> None:
    qs = [question("q1"), question("q2"), question("q3"), question("q4"),
          question("u1", answerable=False)]
    cite = {"n": 1, "url": GOLD, "quote": "He plays for the Buffalo Bills."}
    svc = FakeService({
        "question q1?": response(ranked_with_hit_at(1), "He plays for the Buffalo Bills. [1]",
                                 [cite]),
        "question q2?": response(ranked_with_hit_at(3), "Something else [1]"),
        "question q3?": response(ranked_with_hit_at(None), "The archive has no article that "
                                 "answers this.", abstained=True),
        "question q4?": response(ranked_with_hit_at(7), "Something else [1]"),
    })
    summary, rows = evaluate(svc, qs, k=10)
    assert [r["id"] for r in rows] == ["q1", "q2", "q3", "q4"]
    assert [r["hit_rank"] for r in rows] == [1, 3, None, 7]
    assert len(svc.calls) == 4  # one ask per answerable question, none for "u1"
    assert all(k == 10 and f.as_of is None for _, k, f in svc.calls)
    assert summary["n"] == 4
    assert (summary["hit@1"], summary["hit@5"], summary["hit@10"]) == (0.25, 0.5, 0.75)
    assert summary["mrr@10"] == pytest.approx((1 + 1 / 3 + 1 / 7) / 4, abs=1e-12)
    assert summary["answer_hit"] == 0.25 and summary["citation_hit"] == 0.25
    assert summary["abstention_rate"] == 0.25
    assert summary["article_hit@10"] == 0.75
    assert rows[0]["top_urls"] == [GOLD, "https://x.example.com/1", "https://x.example.com/2"]
    assert all(r["latency_ms"] >= 0 for r in rows)


def test_evaluate_as_of_question_date_passes_the_date() -> None:
    svc = FakeService({"question q1?": response(ranked_with_hit_at(2))})
    done: list[tuple[int, int]] = []
    evaluate(svc, [question("q1")], k=5, as_of_question_date=True,
             progress=lambda d, t: done.append((d, t)))
    assert svc.calls[0][1] == 5 and svc.calls[0][2].as_of == "2023-01-05"
    assert done == [(1, 1)]


def test_load_questions_prefix_and_limit(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    qs = [question("20230106_0"), question("20230106_1", answerable=False),
          question("20230210_0"), question("20230407_0")]
    path.write_text("\n".join(json.dumps(q) for q in qs) + "\n\n")
    assert [q["id"] for q in load_questions(path)] == [q["id"] for q in qs]
    got = load_questions(path, ["202301", "202302"])
    assert [q["id"] for q in got] == ["20230106_0", "20230106_1", "20230210_0"]
    assert [q["id"] for q in load_questions(path, ["202301", "202302"], limit=1)] == ["20230106_0"]


# --------------------------------------------------------------------------- real run
@pytest.mark.slow
def test_evaluate_on_a_small_real_slice(tmp_path: Path) -> None:
    if not (ARCHIVE.exists() and QUESTIONS.exists()):
        pytest.skip(f"benchmark archive not found under {ARCHIVE.parent} (../shared missing)")
    answerable = [q for q in load_questions(QUESTIONS, ["202301"]) if q["answerable"]]
    picked = random.Random(7).sample(answerable, 3)
    # The gold articles of the three questions plus a few of their other gathered ones.
    urls = {u for q in picked for u in q["gold_urls"]}
    for q in picked:
        urls.update(u for u in q["result_urls"][:12] if len(urls) < 30)
    arts = [as_article(d) for d in archive_articles() if d["url"] in urls]
    assert 3 <= len(arts) <= 40
    svc = open_service(tmp_path / "idx")
    try:
        svc.ingest_records(arts)
        summary, rows = evaluate(svc, picked, k=10)
    finally:
        svc.close()
    for key in ("n", "hit@1", "hit@5", "hit@10", "mrr@10", "article_hit@10", "answer_hit",
                "citation_hit", "abstention_rate", "latency_p50_ms", "latency_p95_ms",
                "answer_mean_sentences", "answer_max_words"):
        assert key in summary
    assert summary["n"] == 3 and len(rows) == 3
    for key in ("hit@1", "hit@5", "hit@10", "mrr@10", "article_hit@10", "answer_hit",
                "citation_hit", "abstention_rate"):
        assert 0.0 <= summary[key] <= 1.0, key
    assert summary["hit@1"] <= summary["hit@5"] <= summary["hit@10"]
    assert summary["mrr@10"] <= summary["hit@10"]
    assert summary["latency_p50_ms"] <= summary["latency_p95_ms"]


def test_answer_hit_ignores_sentences_flagged_as_unsupported() -> None:
    from newsqa.eval import answer_hit

    flagged = [{"text": "Paris won.", "citations": [], "flag": "not supported by the sources"}]
    assert not answer_hit(flagged, "Paris")
    assert answer_hit([{"text": "Paris won.", "citations": [1], "flag": ""}], "Paris")
