"""Retrieval and answer quality on a questions file in the RealTime QA format.

Each question carries ``id``, ``date``, ``question``, ``answer`` (the gold answer text),
``answerable`` and ``gold_urls`` (the articles whose text contains the answer). Metrics are
computed over the answerable questions only:

* ``hit@1/5/10`` and ``mrr@10``: the first passage that comes from a gold URL *and* whose text
  contains the gold answer (case- and whitespace-insensitive);
* ``article_hit@10``: a gold article among the first 10 *distinct* articles of the ranking;
* ``answer_hit``: the composed answer's text (its segments) contains the gold answer;
* ``citation_hit``: a citation points to a gold URL and its quote contains the gold answer;
* ``mc_accuracy``: multiple choice by evidence: the first top-10 passage that names exactly one
  of the question's ``choices`` picks it; none picked counts as wrong;
* ``abstention_rate``, latency percentiles and answer length.

The metric functions are pure (plain dicts or :class:`~newsqa.records.Passage`-like objects in,
numbers out) so they can be tested without a model; :func:`evaluate` drives a real service.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from newsqa.records import AnswerRequest, Filters, Mode

_WS = re.compile(r"\s+")

#: The metrics of a summary, in display order, with their column titles.
COLUMNS: list[tuple[str, str]] = [
    ("n", "n"),
    ("hit@1", "Hit@1"),
    ("hit@5", "Hit@5"),
    ("hit@10", "Hit@10"),
    ("mrr@10", "MRR@10"),
    ("article_hit@10", "art-Hit@10"),
    ("answer_hit", "answer hit"),
    ("citation_hit", "citation hit"),
    ("abstention_rate", "abstain"),
    ("mc_accuracy", "MC acc"),
    ("latency_p50_ms", "p50 ms"),
    ("latency_p95_ms", "p95 ms"),
]

ProgressFn = Callable[[int, int], None]


# --------------------------------------------------------------------------- questions
def load_questions(
    path: str | Path, id_prefixes: Sequence[str] | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """Questions of a ``.jsonl`` file, in file order, answerable or not.

    ``id_prefixes`` keeps only questions whose id starts with one of them; ``limit`` then keeps
    the first N. Blank lines are skipped.
    """
    prefixes = tuple(id_prefixes) if id_prefixes else None
    out: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            q = json.loads(line)
            if prefixes and not str(q.get("id", "")).startswith(prefixes):
                continue
            out.append(q)
            if limit is not None and len(out) >= limit:
                break
    return out


def is_answerable(q: Mapping[str, Any]) -> bool:
    """Whether a question (or a row) counts: ``answerable`` true and a non-empty gold answer."""
    return bool(q.get("answerable", True)) and bool(str(q.get("answer") or "").strip())


# --------------------------------------------------------------------------- metrics
def normalize(text: str | None) -> str:
    """Case-folded text with runs of whitespace collapsed to one space, stripped."""
    return _WS.sub(" ", (text or "").casefold()).strip()


def contains_answer(text: str | None, answer: str | None) -> bool:
    """Whether ``text`` contains ``answer`` ignoring case and whitespace (empty never matches)."""
    needle = normalize(answer)
    return bool(needle) and needle in normalize(text)


def _field(item: Any, name: str) -> Any:
    if isinstance(item, Mapping):
        return item.get(name)
    return getattr(item, name, None)


def first_rank(passages: Sequence[Any], test: Callable[[Any], bool]) -> int | None:
    """First rank (1-based) of a passage for which ``test`` holds, or None."""
    for rank, p in enumerate(passages, 1):
        if test(p):
            return rank
    return None


def passage_hit_ranks(
    passages: Sequence[Any], gold_urls: Iterable[str], answer: str
) -> int | None:
    """First rank (1-based) of a passage from a gold URL whose text contains the answer."""
    gold = set(gold_urls)
    return first_rank(
        passages, lambda p: _field(p, "url") in gold and contains_answer(_field(p, "text"), answer)
    )


def distinct_articles(passages: Sequence[Any]) -> list[Any]:
    """One passage per article (its best), in ranking order; keyed by article id, else URL."""
    seen: set[Any] = set()
    out = []
    for p in passages:
        key = _field(p, "article_id") or _field(p, "url")
        if key in seen:
            continue
        seen.add(key)
        out.append(p)
    return out


def article_hit(passages: Sequence[Any], gold_urls: Iterable[str], k: int = 10) -> bool:
    """Whether a gold article is among the first ``k`` distinct articles of the ranking."""
    gold = set(gold_urls)
    return any(_field(p, "url") in gold for p in distinct_articles(passages)[:k])


def answer_text(segments: Sequence[Mapping[str, Any]] | None) -> str:
    """What a reader reads of an answer: its segments' text, without citation markers."""
    return " ".join(f"{seg.get('lead') or ''}{seg.get('text') or ''}" for seg in segments or [])


def answer_hit(segments: Sequence[Mapping[str, Any]] | None, answer: str) -> bool:
    """Whether the answer's supported text contains the gold answer (a generated sentence
    flagged as not supported by the sources does not count)."""
    return contains_answer(answer_text([s for s in segments or [] if not s.get("flag")]), answer)


def citation_hit(citations: Sequence[Any], gold_urls: Iterable[str], answer: str) -> bool:
    """Whether a citation points to a gold URL and its quote contains the gold answer."""
    gold = set(gold_urls)
    return any(
        _field(c, "url") in gold and contains_answer(_field(c, "quote"), answer)
        for c in citations
    )


def choice_by_evidence(passages: Sequence[Any], choices: Sequence[str], k: int = 10) -> str | None:
    """The choice named by the first of the top ``k`` passages that names exactly one choice.

    A passage naming several choices cannot decide between them and is passed over; None when
    no passage names exactly one.
    """
    for p in passages[:k]:
        named = [c for c in choices if contains_answer(_field(p, "text"), c)]
        if len(named) == 1:
            return named[0]
    return None


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Linear-interpolated percentile (numpy's default method); None for no values."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * pct / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _rate(flags: Sequence[bool]) -> float | None:
    return sum(1 for f in flags if f) / len(flags) if flags else None


def summarize(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Aggregate per-question rows (see :func:`evaluate`) over the answerable questions.

    Rows need ``hit_rank``, ``article_hit``, ``answer_hit``, ``citation_hit``, ``abstained``,
    ``latency_ms``, ``response`` (the answer's text) and ``sentences`` (its segments); rows
    with ``answerable`` false are left out. Rates are None when there is no answerable row.
    Answer length is measured on the answers that did not abstain.
    """
    rows = [r for r in rows if r.get("answerable", True)]
    n = len(rows)
    ranks = [r.get("hit_rank") for r in rows]

    def hit_at(k: int) -> float | None:
        return _rate([rk is not None and rk <= k for rk in ranks])

    mrr = sum(1.0 / rk for rk in ranks if rk is not None and rk <= 10) / n if n else None
    latencies = [float(r["latency_ms"]) for r in rows if r.get("latency_ms") is not None]
    answered = [r for r in rows if not r.get("abstained")]
    sentences = [int(r.get("sentences") or 0) for r in answered]
    words = [len(str(r.get("response") or "").split()) for r in answered]
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    return {
        "n": n,
        "hit@1": hit_at(1),
        "hit@5": hit_at(5),
        "hit@10": hit_at(10),
        "mrr@10": mrr,
        "article_hit@10": _rate([bool(r.get("article_hit")) for r in rows]),
        "answer_hit": _rate([bool(r.get("answer_hit")) for r in rows]),
        "citation_hit": _rate([bool(r.get("citation_hit")) for r in rows]),
        "abstention_rate": _rate([bool(r.get("abstained")) for r in rows]),
        "mc_accuracy": _rate([bool(r.get("mc_correct")) for r in rows]),
        "latency_p50_ms": round(p50, 1) if p50 is not None else None,
        "latency_p95_ms": round(p95, 1) if p95 is not None else None,
        "answer_mean_sentences": sum(sentences) / len(sentences) if sentences else None,
        "answer_max_sentences": max(sentences) if sentences else None,
        "answer_mean_words": sum(words) / len(words) if words else None,
        "answer_max_words": max(words) if words else None,
        **claim_summary(rows),
    }


def claim_summary(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """For generated answers: the share of questions answered by the model (not the extractive
    fallback), and of the generated sentences checked, the shares supported, flagged and
    dropped. Empty when no row was generated."""
    claims = [r["claims"] for r in rows if r.get("claims")]
    if not claims:
        return {}
    checked = sum(c["checked"] for c in claims)

    def share(key: str) -> float | None:
        return sum(c[key] for c in claims) / checked if checked else None

    return {
        "generated_share": _rate([r.get("mode") == "generate" for r in rows]),
        "claims_checked": checked,
        "claims_supported": share("kept"),
        "claims_flagged": share("flagged"),
        "claims_dropped": share("dropped"),
    }


# --------------------------------------------------------------------------- driving a service
def score_response(
    q: Mapping[str, Any], res: Mapping[str, Any], latency_ms: float
) -> dict[str, Any]:
    """The per-question row for question ``q`` and the ``ask`` result ``res``."""
    passages = res.get("passages") or []
    segments = res.get("segments") or []
    gold = list(q.get("gold_urls") or [])
    gold_set = set(gold)
    answer = str(q.get("answer") or "")
    return {
        "id": q.get("id"),
        "date": q.get("date"),
        "question": q.get("question"),
        "answer": answer,
        "answerable": is_answerable(q),
        "hit_rank": passage_hit_ranks(passages, gold, answer),
        "article_hit": article_hit(passages, gold, 10),
        "answer_hit": answer_hit(segments, answer),
        "citation_hit": citation_hit(res.get("citations") or [], gold, answer),
        "mc_correct": normalize(choice_by_evidence(passages, q.get("choices") or []))
        == normalize(answer) != "",
        "abstained": bool(res.get("abstained")),
        "latency_ms": round(latency_ms, 1),
        "response": answer_text(segments),
        "sentences": len(segments),
        "top_urls": [_field(p, "url") for p in passages[:3]],
        # Diagnostics: where a gold article shows up at all, and where the answer text does.
        "gold_url_rank": first_rank(passages, lambda p: _field(p, "url") in gold_set),
        "answer_text_rank": first_rank(
            passages, lambda p: contains_answer(_field(p, "text"), answer)
        ),
        "top_dates": [_field(p, "published_at") for p in passages[:3]],
        "n_gold": len(gold),
        "mode": res.get("mode", "extractive"),
        "claims": res.get("claims"),
        "note": res.get("note"),
    }


def evaluate(
    service: Any,
    questions: Sequence[Mapping[str, Any]],
    k: int = 10,
    as_of_question_date: bool = False,
    progress: ProgressFn | None = None,
    mode: Mode = "extractive",
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Ask every answerable question once and score it; returns ``(summary, rows)``.

    With ``as_of_question_date`` each question is asked as of its own ``date`` (later articles
    are ignored); otherwise the service's default (today) applies. ``progress(done, total)`` is
    called after each question. ``mode="generate"`` asks the configured language model and
    adds the claim check's shares to the summary.
    """
    todo = [q for q in questions if is_answerable(q)]
    rows: list[dict[str, Any]] = []
    for i, q in enumerate(todo, 1):
        filters = Filters(as_of=str(q["date"]) if as_of_question_date and q.get("date") else None)
        t0 = time.perf_counter()
        asked = AnswerRequest(str(q["question"]), k, filters, mode=mode)
        res = service.answer(asked).to_dict()
        latency = (time.perf_counter() - t0) * 1000
        rows.append(score_response(q, res, latency))
        if progress:
            progress(i, len(todo))
    return summarize(rows), rows


# --------------------------------------------------------------------------- reporting
def _fmt(key: str, value: Any) -> str:
    if value is None:
        return "–"
    if key == "n" or isinstance(value, int):
        return str(value)
    if key.endswith("_ms"):
        return f"{value:.0f}"
    return f"{value:.3f}"


def markdown_table(configs: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """A markdown table: one row per ``(configuration name, summary)``, one column per metric."""
    head = ["configuration"] + [title for _, title in COLUMNS]
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] + ["---:"] * len(COLUMNS)) + "|",
    ]
    for name, s in configs:
        cells = [name] + [_fmt(key, s.get(key)) for key, _ in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_summary(summary: Mapping[str, Any]) -> str:
    """A readable two-column table of a summary."""
    labels = dict(COLUMNS)
    labels.update(
        {
            "answer_mean_sentences": "answer sentences (mean)",
            "answer_max_sentences": "answer sentences (max)",
            "answer_mean_words": "answer words (mean)",
            "answer_max_words": "answer words (max)",
            "generated_share": "generated answers",
            "claims_checked": "claims checked",
            "claims_supported": "claims supported",
            "claims_flagged": "claims flagged",
            "claims_dropped": "claims dropped",
        }
    )
    width = max(len(v) for v in labels.values())
    return "\n".join(
        f"{labels.get(key, key):>{width}}  {_fmt(key, value)}" for key, value in summary.items()
    )
