"""Training lists for the reader, from newsqa's own retrieval.

For each question, asked as of its own date, the service retrieves its passages exactly as an
answer does, and every candidate sentence composition would weigh in them (headlines included,
:func:`newsqa.query.compose.answer_candidates`) becomes one item of the question's list, labelled:

- ``1``: a sentence of a gold article that contains the gold answer;
- ``0``: any other candidate (a hard negative: it was retrieved for the question);
- ``-1``: a sentence of another article that contains the answer, which may state it as well as
  the gold one does (training counts it as a positive unless
  ``TrainConfig.other_outlets_positive`` is off, which leaves it out of the loss).

Each candidate also carries the composer's score of it (``composer``) and its sentence vector
(``vector``: the one the index stored, the shipped embedder's), and each list the
composer's evidence, so that the reader's fusion with them is fit on the same lists. The vectors
are kept beside a list file, not in it (:func:`save_lists`, :func:`load_lists`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from newsqa.eval import contains_answer
from newsqa.records import Filters
from newsqa.text import split_sentences
from newsqa.training.fusion import SERVE_DEPTH

#: Passages per question whose candidates are collected (composition weighs the first few).
DEPTH = 10
#: A candidate's key for its sentence vector (saved beside the lists, not in them).
VECTOR = "vector"


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
        for (pi, si, sentence), score, vec in zip(scored.cands, scored.scores, scored.svecs,
                                                  strict=True):
            p = passages[pi]
            before = split_sentences(p.text)[si - 1] if si > 0 else ""
            label = 0
            if answer and contains_answer(sentence, answer):
                label = 1 if p.url in gold else -1
            items.append({"sentence": sentence, "title": p.title or "", "before": before,
                          "rank": pi, "pos": si, "url": p.url, "label": label,
                          "composer": round(float(score), 5),
                          VECTOR: np.asarray(vec, dtype=np.float32)})
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


def vectors_path(path: Path) -> Path:
    """Where the candidates' vectors of the lists saved at ``path`` are kept."""
    return path.with_name(path.name.removesuffix(".json") + ".vectors.npy")


def save_lists(lists: Sequence[dict[str, Any]], path: Path) -> None:
    """Write ``lists`` to ``path`` (JSON) and their candidates' vectors beside it (float16, in
    candidate order), each whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    vecs = [c[VECTOR] for it in lists for c in it["candidates"] if VECTOR in c]
    plain = [{**it, "candidates": [{k: v for k, v in c.items() if k != VECTOR}
                                   for c in it["candidates"]]} for it in lists]
    if vecs:
        if len(vecs) != sum(len(it["candidates"]) for it in lists):
            raise ValueError("some candidates have a vector and some do not")
        tmp = vectors_path(path).with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            np.save(fh, np.stack(vecs).astype(np.float16))
        os.replace(tmp, vectors_path(path))
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(plain), encoding="utf-8")
    os.replace(tmp, path)


def load_lists(path: Path) -> list[dict[str, Any]]:
    """What :func:`save_lists` wrote; the candidates carry their vectors when they were kept
    (lists collected before vectors were, or whose vectors do not match, carry none)."""
    lists: list[dict[str, Any]] = list(json.loads(path.read_text(encoding="utf-8")))
    vpath = vectors_path(path)
    if not vpath.exists():
        return lists
    vecs = np.load(vpath)  # float16: a reader converts the ones it reads
    if len(vecs) != sum(len(it["candidates"]) for it in lists):
        return lists
    at = 0
    for it in lists:
        for c in it["candidates"]:
            c[VECTOR] = vecs[at]
            at += 1
    return lists


def has_vectors(lists: Sequence[dict[str, Any]]) -> bool:
    """Whether every candidate of ``lists`` carries its sentence vector."""
    return all(VECTOR in c for it in lists for c in it["candidates"])
