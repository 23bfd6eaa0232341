"""The reader rebuilt from archives of questions and articles (what ``newsqa train-reader``
runs).

Each archive folder holding ``articles.jsonl.gz`` and ``questions.jsonl`` (RealTime QA's layout:
question, date, answer, ``gold_urls``, ``answerable``) is indexed once (cached under ``work``),
its questions are asked of that index as of their own dates and their candidate lists are
labelled (:mod:`newsqa.training.collect`, cached too, each candidate's sentence vector beside
them), then the reader is trained on them (:mod:`newsqa.training.train`). Questions dated inside
``exclude`` are never collected, so a held-out period cannot leak into training; those inside a
``dev`` span choose the epoch and the calibration.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newsqa.eval import load_questions
from newsqa.training.train import TrainConfig, train

#: Question dates never collected: the held-out half of 2023.
DEFAULT_EXCLUDE = "2023-07-01:2023-12-31"
#: Question dates that choose the epoch, the fusion and the calibration.
DEFAULT_DEV = "2023-05-01:2023-06-30,2024-11-01:2024-12-31"

Span = tuple[str, str]


class RebuildError(ValueError):
    """The archives given cannot train a reader (no training or no dev questions)."""


@dataclass
class Rebuild:
    """Where a rebuild reads its archives and caches its indexes and lists."""

    data: Path
    archives: Sequence[str]
    work: Path
    exclude: Span
    dev: list[Span]
    indexes: dict[str, str] = field(default_factory=dict)  # archive name -> existing index
    limit: int | None = None  # questions per archive (smoke runs)


def in_spans(day: str, spans: Sequence[Span]) -> bool:
    """Whether the ISO date ``day`` falls inside one of ``spans`` (inclusive)."""
    return any(lo <= day <= hi for lo, hi in spans)


def split_lists(
    lists: list[dict[str, Any]], exclude: Span, dev: Sequence[Span]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The training and the dev lists of ``lists``: those dated inside ``exclude`` are in
    neither, those inside a ``dev`` span are dev."""
    kept = [it for it in lists if not exclude[0] <= str(it["date"]) <= exclude[1]]
    return ([it for it in kept if not in_spans(str(it["date"]), dev)],
            [it for it in kept if in_spans(str(it["date"]), dev)])


def archive_lists(
    folder: Path, index_dir: Path, cache: Path, exclude: Span, limit: int | None,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """The labelled lists of one archive's questions, with their candidates' vectors (built,
    or read from ``cache``; a cache from before vectors were kept is built again)."""
    from newsqa.training.collect import collect, has_vectors, load_lists, save_lists

    if cache.exists():
        cached = load_lists(cache)
        if has_vectors(cached):
            return cached
        log(f"{cache} has no sentence vectors: collecting again")
    from newsqa.service import NewsQA
    from newsqa.settings import get_settings

    svc = NewsQA.open(get_settings(index__path=str(index_dir)))
    try:
        if svc.stats()["articles"] == 0:
            log(f"indexing {folder / 'articles.jsonl.gz'} into {index_dir} (once)")
            from newsqa.progress import ingest_progress

            svc.ingest([folder / "articles.jsonl.gz"], ingest_progress(True, "indexing"))
        questions = [q for q in load_questions(folder / "questions.jsonl")
                     if not exclude[0] <= str(q.get("date", "")) <= exclude[1]]
        if limit:
            questions = questions[:limit]
        log(f"{folder.name}: collecting {len(questions)} questions' candidates")
        lists = collect(svc, questions)
    finally:
        svc.close()
    save_lists(lists, cache)
    return lists


def collect_all(plan: Rebuild, log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """The lists of every archive of ``plan`` that has questions (an archive without is
    logged and skipped)."""
    lists: list[dict[str, Any]] = []
    for name in plan.archives:
        folder = plan.data / name
        if not (folder / "questions.jsonl").exists():
            log(f"skipping {folder}: no questions.jsonl")
            continue
        index_dir = Path(plan.indexes.get(name, plan.work / f"index-{name}"))
        suffix = f"-limit{plan.limit}" if plan.limit else ""
        lists += archive_lists(folder, index_dir, plan.work / f"lists-{name}{suffix}.json",
                               plan.exclude, plan.limit, log)
    return lists


def rebuild(
    plan: Rebuild, cfg: TrainConfig, out: Path, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Collect the lists of ``plan``, train a reader with ``cfg`` and write it to ``out``;
    returns what its ``reader.json`` records. A :class:`RebuildError` when the archives give no
    training or no dev lists."""
    train_lists, dev = split_lists(collect_all(plan, log), plan.exclude, plan.dev)
    with_pos = sum(any(c["label"] == 1 for c in it["candidates"]) for it in train_lists)
    log(f"{len(train_lists)} training lists ({with_pos} with a positive), {len(dev)} dev lists")
    if not train_lists or not dev:
        raise RebuildError("need both training and dev questions")
    return train(train_lists, dev, out, cfg, log)
