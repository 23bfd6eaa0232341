"""Training lists for the reader, from newsqa's own retrieval.

For each question, asked as of its own date, the service retrieves its passages exactly as an
answer does, and every candidate sentence composition would weigh in them (headlines included,
:func:`newsqa.query.compose.answer_candidates`) becomes one item of the question's list, labelled:

- ``1``: a sentence of a gold article that contains the gold answer;
- ``0``: any other candidate (a hard negative: it was retrieved for the question);
- ``-1``: a sentence of another article that contains the answer, which may state it as well as
  the gold one does (training counts it as a positive unless
  ``TrainConfig.other_outlets_positive`` is off, which leaves it out of the loss).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from newsqa.eval import contains_answer
from newsqa.models import Filters
from newsqa.query.compose import answer_candidates
from newsqa.query.sentences import analyse
from newsqa.text import query_terms, split_sentences

#: Passages per question whose candidates are collected (composition weighs the first few).
DEPTH = 10


def question_list(svc: Any, q: Mapping[str, Any], depth: int = DEPTH) -> dict[str, Any]:
    """The labelled candidate list of one question (a JSON-ready dict)."""
    passages = svc.search(q["question"], depth, Filters(as_of=q.get("date")))
    idf = svc.index.term_idf(query_terms(q["question"]))
    gold = set(q.get("gold_urls") or [])
    answer = q.get("answer") if q.get("answerable", True) else None
    items = []
    for pi, si, sentence in answer_candidates(passages, analyse(q["question"], idf)):
        p = passages[pi]
        before = split_sentences(p.text)[si - 1] if si > 0 else ""
        label = 0
        if answer and contains_answer(sentence, answer):
            label = 1 if p.url in gold else -1
        items.append({"sentence": sentence, "title": p.title or "", "before": before,
                      "rank": pi, "pos": si, "url": p.url, "label": label})
    return {"id": q.get("id"), "date": q.get("date"), "question": q["question"],
            "answer": answer, "answerable": bool(q.get("answerable", True)),
            "gold_urls": sorted(gold), "candidates": items}


def collect(
    svc: Any, questions: Iterable[Mapping[str, Any]], depth: int = DEPTH,
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """:func:`question_list` of every question, in order."""
    out = []
    for i, q in enumerate(questions, 1):
        out.append(question_list(svc, q, depth))
        if progress is not None:
            progress(i)
    return out
