"""Training lists for the reader, from newsqa's own retrieval.

For each question, asked as of its own date, the service retrieves its passages exactly as an
answer does, and every candidate sentence composition would weigh in them (headlines included,
:func:`newsqa.query.compose.answer_candidates`) becomes one item of the question's list, labelled:

- ``1``: a sentence of a gold article that contains the gold answer;
- ``0``: any other candidate (a hard negative: it was retrieved for the question);
- ``-1``: a sentence of another article that contains the answer, which may state it as well as
  the gold one does (training counts it as a positive unless
  ``TrainConfig.other_outlets_positive`` is off, which leaves it out of the loss).

Each candidate also carries the composer's score of it (``composer``) and each list the
composer's evidence, so that the reader's fusion with them is fit on the same lists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from newsqa.eval import contains_answer
from newsqa.models import Filters
from newsqa.reader.fusion import SERVE_DEPTH
from newsqa.text import split_sentences

#: Passages per question whose candidates are collected (composition weighs the first few).
DEPTH = 10


def question_list(svc: Any, q: Mapping[str, Any], depth: int = DEPTH) -> dict[str, Any]:
    """The labelled candidate list of one question (a JSON-ready dict): each candidate with
    the composer's score of it, and the composer's evidence (what its abstention weighs) at the
    serving depth, which the calibration reads, and at ``depth``."""
    pipe = svc.pipeline()
    question = q["question"]
    plan, qvec, passages = pipe.searched(question, depth, Filters(as_of=q.get("date")))
    gold = set(q.get("gold_urls") or [])
    answer = q.get("answer") if q.get("answerable", True) else None
    items: list[dict[str, Any]] = []
    evidence: dict[str, float] = {}
    for d in sorted({min(SERVE_DEPTH, depth), depth}):
        scored = pipe.scored(question, plan, qvec, passages, d, every=True)
        evidence[str(d)] = round(scored.evidence, 5) if scored is not None else 0.0
        if d != depth or scored is None:
            continue
        for (pi, si, sentence), score in zip(scored.cands, scored.scores, strict=True):
            p = passages[pi]
            before = split_sentences(p.text)[si - 1] if si > 0 else ""
            label = 0
            if answer and contains_answer(sentence, answer):
                label = 1 if p.url in gold else -1
            items.append({"sentence": sentence, "title": p.title or "", "before": before,
                          "rank": pi, "pos": si, "url": p.url, "label": label,
                          "composer": round(float(score), 5)})
    return {"id": q.get("id"), "date": q.get("date"), "question": question,
            "answer": answer, "answerable": bool(q.get("answerable", True)),
            "gold_urls": sorted(gold), "evidence": evidence, "candidates": items}


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
