"""Shared helpers of the benchmarks: read the RealTime QA 2023 archive, cut slices of it, build
(or reuse) cached indexes outside git, run the evaluation with a progress bar, describe the run.

The archive is read straight from ``../shared/data/realtimeqa-2023/`` (never copied into the
repository; :mod:`newsqa.testing.paths` says where); indexes live under ``bench/.cache/``
(git-ignored).
"""

from __future__ import annotations

import gzip
import json
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from newsqa.cli.output import progress_bar
from newsqa.eval import evaluate, is_answerable, load_questions
from newsqa.index.manifest import read_manifest
from newsqa.records import Article
from newsqa.service import NewsQA
from newsqa.settings import get_settings
from newsqa.testing.paths import ARCHIVE as ARTICLES
from newsqa.testing.paths import QUESTIONS

#: The checkout these benchmarks belong to, and their cached indexes (git-ignored).
REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "bench" / ".cache"

#: Question id prefixes of the January–March 2023 slice.
Q1_PREFIXES = ("202301", "202302", "202303")


def require_data() -> None:
    """Exit with a clear message when the shared archive is not there."""
    missing = [p for p in (ARTICLES, QUESTIONS) if not p.exists()]
    if missing:
        sys.exit("benchmark data not found: " + ", ".join(map(str, missing)))


def read_archive(urls: Iterable[str] | None = None, path: Path = ARTICLES) -> list[dict[str, Any]]:
    """Archive records in file order; only those whose URL is in ``urls`` when given."""
    wanted = set(urls) if urls is not None else None
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            d = json.loads(line)
            if wanted is None or d["url"] in wanted:
                out.append(d)
    return out


def to_article(d: dict[str, Any]) -> Article:
    """An archive record as an :class:`Article` for ``ingest_records``."""
    return Article(
        title=d["title"], text=d["text"], url=d["url"], source=d.get("source"),
        published_at=d.get("published_at"), authors=list(d.get("authors") or []), id=d["id"],
        origin=f"realtimeqa-2023:{d['id']}",
    )


def slice_questions(prefixes: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Questions whose id starts with one of ``prefixes`` (all questions for None)."""
    return load_questions(QUESTIONS, list(prefixes) if prefixes else None)


def result_urls(questions: Iterable[dict[str, Any]]) -> set[str]:
    """Every article gathered for the questions (their ``result_urls``)."""
    return {u for q in questions for u in q.get("result_urls") or []}


def answerable(questions: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The answerable questions, in order."""
    return [q for q in questions if is_answerable(q)]


def open_index(index_dir: Path, records: Sequence[dict[str, Any]], rebuild: bool = False) -> NewsQA:
    """The service on a cached index holding exactly ``records``.

    The index is built when missing, from scratch with ``rebuild`` or when it was chunked with
    other settings than the current ones; an interrupted build is resumed (articles already
    stored are skipped as unchanged). The caller closes the service.
    """
    index_dir = Path(index_dir)
    settings = get_settings(index__path=str(index_dir))
    stored = None if rebuild else read_manifest(index_dir)
    if stored is not None:
        wanted = {"chunk_tokens": settings.ingest.chunk_tokens,
                  "chunk_overlap": settings.ingest.chunk_overlap}
        stale = {k: getattr(stored, k) for k, v in wanted.items() if getattr(stored, k) != v}
        if stale:
            print(f"index {index_dir} was built with {stale}, settings now say {wanted}: "
                  "rebuilding", file=sys.stderr)
            rebuild = True
    if rebuild and index_dir.exists():
        shutil.rmtree(index_dir)
    svc = NewsQA.open(settings)
    have = svc.stats()["articles"]
    if have == len(records):
        print(f"index {index_dir}: {have} articles (cached; --rebuild to rebuild)", file=sys.stderr)
        return svc
    if have:
        print(f"index {index_dir}: {have} of {len(records)} articles, resuming", file=sys.stderr)
    report = svc.ingest_records((to_article(d) for d in records), progress_bar(desc="embedding"))
    d = report.to_dict()
    print(
        f"ingested into {index_dir}: {d['added']} added, {d['unchanged']} unchanged, "
        f"{d['skipped']} skipped, {d['chunks']} chunks, {d['wire_copies']} wire copies "
        f"in {d['seconds']:.0f}s",
        file=sys.stderr,
    )
    for p in report.problems:
        print(f"  skipped {p}", file=sys.stderr)
    return svc


def run_eval(
    svc: NewsQA, questions: Sequence[dict[str, Any]], k: int = 10, as_of: bool = False,
    desc: str = "eval",
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """:func:`newsqa.eval.evaluate` with a progress bar on stderr."""
    from tqdm import tqdm

    todo = answerable(questions)
    with tqdm(total=len(todo), unit="q", desc=desc, file=sys.stderr, dynamic_ncols=True,
              mininterval=2.0) as bar:

        def tick(done: int, total: int) -> None:
            bar.n = done
            bar.refresh()

        return evaluate(svc, todo, k=k, as_of_question_date=as_of, progress=tick)


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as indented JSON, creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")


def command_line() -> str:
    """The command that is running, as it could be typed again (``python -m bench.<name> …``
    when it runs as a module, as the benchmarks do)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    argv = ["-m", spec.name, *sys.argv[1:]] if spec is not None else sys.argv
    return " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *argv])


def git_commit() -> str:
    """Short hash of HEAD, with ``+dirty`` when the tree has changes; ``unknown`` without git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO, capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def now() -> str:
    """The current UTC time, ``YYYY-MM-DD HH:MM UTC``."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


# --------------------------------------------------------------------------- failure analysis
def deep_ranks(
    svc: NewsQA, rows: Sequence[dict[str, Any]], questions: Sequence[dict[str, Any]],
    as_of: bool = False, k: int = 50,
) -> dict[str, int | None]:
    """For each row that missed at 10: the hit rank within the first ``k`` passages of a deeper
    search (same retrieval, larger k), or None. Keyed by question id."""
    from newsqa.eval import passage_hit_ranks
    from newsqa.records import Filters

    by_id = {q["id"]: q for q in questions}
    out: dict[str, int | None] = {}
    for r in rows:
        if r["hit_rank"] is not None:
            continue
        q = by_id[r["id"]]
        passages = svc.search(q["question"], k, Filters(as_of=q["date"] if as_of else None))
        out[r["id"]] = passage_hit_ranks(passages, q["gold_urls"], q["answer"])
    return out


def _days(a: str | None, b: str | None) -> int | None:
    from datetime import date

    try:
        return (date.fromisoformat(str(b)[:10]) - date.fromisoformat(str(a)[:10])).days
    except (TypeError, ValueError):
        return None


def failure_modes(
    rows: Sequence[dict[str, Any]], deep: dict[str, int | None] | None = None
) -> list[tuple[str, int]]:
    """Counts of why questions missed, plus date and answer-side observations.

    Misses (no hit in the top 10) are put in exactly one of: hit at ranks 11–50 (needs
    ``deep``), gold article in the top 10 but not the passage with the answer, the answer text
    only in non-gold passages, no gold article in the top 10 at all. Then, over the misses, the
    top passage's date relative to the question's; then, over the hits, answer-side outcomes.
    """
    misses = [r for r in rows if r["hit_rank"] is None]
    hits = [r for r in rows if r["hit_rank"] is not None]
    counts: dict[str, int] = {}

    def add(key: str) -> None:
        counts[key] = counts.get(key, 0) + 1

    for r in misses:
        d = deep.get(r["id"]) if deep else None
        if d is not None:
            add("miss: answer passage ranked 11-50")
        elif r.get("gold_url_rank") is not None:
            add("miss: gold article in top 10, but not its passage with the answer")
        elif r.get("answer_text_rank") is not None:
            add("miss: answer text only in non-gold passages of the top 10")
        else:
            add("miss: no gold article in top 10" + (" (nor a hit in top 50)" if deep else ""))
        top = (r.get("top_dates") or [None])[0]
        gap = _days(r.get("date"), top)
        if gap is None:
            add("miss, top-1 date: unknown")
        elif gap > 0:
            add("miss, top-1 date: after the question date")
        elif gap < -30:
            add("miss, top-1 date: > 30 days before the question date")
        else:
            add("miss, top-1 date: within 30 days before the question date")
    for r in hits:
        if r["abstained"]:
            add("hit@10: abstained")
        elif r["answer_hit"]:
            add("hit@10: answer contains the gold answer")
        else:
            add("hit@10: answered, but without the gold answer")
    for r in misses:
        if r["answer_hit"]:
            add("miss: answer contains the gold answer anyway")
    return sorted(counts.items())


def print_failure_modes(title: str, modes: Sequence[tuple[str, int]], n: int) -> None:
    """Print :func:`failure_modes` counts with their share of ``n`` questions."""
    print(f"{title} (of {n} answerable):")
    for key, count in modes:
        print(f"  {count:4d}  {count / n:6.1%}  {key}")
