"""The held-out answer benchmark: every 2023 question, answerable AND unanswerable, end to end.

On the cached full-2023 index (``bench/quality.py --build-only`` builds it) every question whose
id starts with 202301…202312 is asked through the service as of its own date (k=10), and one
row per question is kept (``bench/.cache/answer-quality-<label>.json``): its score, its
evidence, its segments and citations. Per half — January–June (the half settings may be tuned
on) and July–December (held out) — one table row: Hit@10, answer and citation hit over the
answerable questions (an abstention is a miss), abstention on answerable and on unanswerable
questions, answer length, the share of answer sentences that do not read as sentences
(``bench/fragments.py``), and latency; then an abstention curve: what abstaining below each
evidence threshold would give (the product abstains on a threshold on ``evidence``).

    .venv/bin/python -m bench.answer_quality [--label NAME] [--set section__field=VALUE ...]
    .venv/bin/python -m bench.answer_quality --from-json bench/.cache/answer-quality-default.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.fragments import fragment_share
from bench.fragments import table as fragment_table
from bench.quality import HELD_OUT_PREFIXES, TUNE_PREFIXES
from bench.serving_backend import cpu_flags
from bench.slice import (
    CACHE,
    command_line,
    git_commit,
    now,
    read_archive,
    require_data,
    slice_questions,
    write_json,
)
from newsqa.eval import is_answerable, percentile, score_response, summarize

#: The halves, as (name, label, id prefixes).
HALVES = (("tune", "Jan–Jun (tuning)", TUNE_PREFIXES),
          ("held-out", "Jul–Dec (held out)", HELD_OUT_PREFIXES))
#: Columns of the per-half table, in order.
COLUMNS = ("half", "answerable n", "Hit@10", "answer hit", "citation hit", "abstain ans. %",
           "unanswerable n", "abstain unans. %", "sentences (mean)", "fragment share",
           "dangling first %", "p50 ms", "p95 ms")


def parse_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """``section__field=value`` pairs as ``get_settings`` keyword overrides; a value is read as
    JSON where it parses (``0.4``, ``true``, ``null``), else kept as a string (``on``)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or "__" not in name:
            raise ValueError(f"expected section__field=value, got {pair!r}")
        try:
            out[name] = json.loads(value)
        except json.JSONDecodeError:
            out[name] = value
    return out


def questions_to_ask(half: str, limit: int | None) -> list[dict[str, Any]]:
    """The 2023 questions of ``half`` (tune, held-out or both), answerable or not, in file
    order; the first ``limit`` of each half when given."""
    out: list[dict[str, Any]] = []
    for name, _, prefixes in HALVES:
        if half in (name, "both"):
            out += slice_questions(prefixes)[:limit] if limit else slice_questions(prefixes)
    return out


def ask_all(svc: Any, questions: Sequence[Mapping[str, Any]], k: int = 10) -> list[dict[str, Any]]:
    """Ask each question as of its own date; one row per question (tqdm bar on stderr)."""
    from tqdm import tqdm

    from newsqa.records import AnswerRequest, Filters

    rows = []
    for q in tqdm(questions, unit="q", desc="asking", file=sys.stderr, dynamic_ncols=True,
                  mininterval=2.0):
        filters = Filters(as_of=str(q["date"]) if q.get("date") else None)
        t0 = time.perf_counter()
        res = svc.answer(AnswerRequest(str(q["question"]), k, filters)).to_dict()
        latency = (time.perf_counter() - t0) * 1000
        row = score_response(q, res, latency)
        row["answerable"] = is_answerable(q)
        row["evidence"] = res.get("evidence")
        row["segments"] = res.get("segments") or []
        row["citations"] = [{key: c.get(key) for key in ("n", "url", "title", "quote", "passage")}
                            for c in res.get("citations") or []]
        rows.append(row)
    return rows


def _evidence(row: Mapping[str, Any]) -> float:
    value = row.get("evidence")
    return float(value) if value is not None else -math.inf


def _share(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def thresholds_grid(rows: Sequence[Mapping[str, Any]], step: float = 0.02) -> list[float]:
    """Every ``step`` from the lowest finite evidence of ``rows`` (rounded down to a step) to
    the highest (rounded up); empty when no row has one."""
    seen = [e for e in map(_evidence, rows) if math.isfinite(e)]
    if not seen:
        return []
    lo, hi = math.floor(min(seen) / step + 1e-9), math.ceil(max(seen) / step - 1e-9)
    return [round(i * step, 6) for i in range(lo, hi + 1)]


def abstention_curve(
    rows: Sequence[Mapping[str, Any]], thresholds: Sequence[float] | None = None,
    step: float = 0.02,
) -> list[dict[str, Any]]:
    """What abstaining whenever evidence < t (or the answer already abstained) gives, for each
    threshold t (:func:`thresholds_grid` of ``rows`` when None): ``threshold``,
    ``abstain_answerable`` and ``abstain_unanswerable`` (shares, None without such rows),
    ``answer_hit`` and ``citation_hit`` (over the answerable rows, an abstention a miss).
    Pure: rows need ``answerable``, ``abstained``, ``evidence``, ``answer_hit`` and
    ``citation_hit``; a row without evidence abstains at every threshold."""
    ans = [r for r in rows if r.get("answerable")]
    unans = [r for r in rows if not r.get("answerable")]
    out = []
    for t in thresholds_grid(rows, step) if thresholds is None else thresholds:

        def kept(r: Mapping[str, Any], t: float = t) -> bool:
            return not r.get("abstained") and _evidence(r) >= t

        out.append({
            "threshold": t,
            "abstain_answerable": _share([not kept(r) for r in ans]),
            "abstain_unanswerable": _share([not kept(r) for r in unans]),
            "answer_hit": _share([kept(r) and bool(r.get("answer_hit")) for r in ans]),
            "citation_hit": _share([kept(r) and bool(r.get("citation_hit")) for r in ans]),
        })
    return out


def half_summary(
    rows: Sequence[Mapping[str, Any]], articles: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """The table row's figures for the rows of one half."""
    ans = [r for r in rows if r.get("answerable")]
    unans = [r for r in rows if not r.get("answerable")]
    answered = [r for r in rows if not r.get("abstained")]
    frags = fragment_share(answered, articles)
    latencies = [float(r["latency_ms"]) for r in rows if r.get("latency_ms") is not None]
    lengths = [len(r.get("segments") or []) for r in answered]
    return {
        "answerable": len(ans),
        "hit@10": summarize(ans)["hit@10"],
        "answer_hit": _share([not r.get("abstained") and bool(r.get("answer_hit")) for r in ans]),
        "citation_hit": _share([not r.get("abstained") and bool(r.get("citation_hit"))
                                for r in ans]),
        "abstain_answerable": _share([bool(r.get("abstained")) for r in ans]),
        "unanswerable": len(unans),
        "abstain_unanswerable": _share([bool(r.get("abstained")) for r in unans]),
        "mean_sentences": sum(lengths) / len(lengths) if lengths else None,
        "fragment_share": frags["share"],
        "dangling_first": frags["dangling_first_share"],
        "fragments": frags,
        "latency_p50_ms": percentile(latencies, 50),
        "latency_p95_ms": percentile(latencies, 95),
    }


def cell(value: float | None, pct: bool = False, digits: int = 3) -> str:
    """A table cell: "–" for no value, a percentage with ``pct``."""
    if value is None:
        return "–"
    return f"{100 * value:.1f}" if pct else f"{value:.{digits}f}"


def summary_table(named: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """The per-half markdown table: one row per ``(half label, half_summary)``."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|---" + "|---:" * (len(COLUMNS) - 1) + "|"]
    for name, s in named:
        cells = [name, str(s["answerable"]), cell(s["hit@10"]), cell(s["answer_hit"]),
                 cell(s["citation_hit"]), cell(s["abstain_answerable"], pct=True),
                 str(s["unanswerable"]), cell(s["abstain_unanswerable"], pct=True),
                 cell(s["mean_sentences"], digits=2), cell(s["fragment_share"]),
                 cell(s["dangling_first"], pct=True), cell(s["latency_p50_ms"], digits=0),
                 cell(s["latency_p95_ms"], digits=0)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def curve_table(curve: Sequence[Mapping[str, Any]]) -> str:
    """An abstention curve (:func:`abstention_curve`) as a markdown table."""
    lines = ["| threshold | abstain ans. % | abstain unans. % | answer hit | citation hit |",
             "|---:|---:|---:|---:|---:|"]
    for c in curve:
        lines.append(f"| {c['threshold']:.2f} | {cell(c['abstain_answerable'], pct=True)} | "
                     f"{cell(c['abstain_unanswerable'], pct=True)} | {cell(c['answer_hit'])} | "
                     f"{cell(c['citation_hit'])} |")
    return "\n".join(lines)


def report(rows: Sequence[Mapping[str, Any]], articles: Mapping[str, Mapping[str, Any]],
           step: float = 0.02) -> str:
    """The per-half table and each half's abstention curve, as markdown (halves without rows
    left out)."""
    named, curves = [], []
    for _, label, prefixes in HALVES:
        part = [r for r in rows if str(r.get("id")).startswith(prefixes)]
        if part:
            named.append((label, half_summary(part, articles)))
            curves.append(f"Abstention curve, {label} (abstain when evidence < threshold):\n\n"
                          + curve_table(abstention_curve(part, step=step)))
    frags = ("Answer sentences by primary fault (bench/fragments.py):\n\n"
             + fragment_table([(label, s["fragments"]) for label, s in named]))
    return "\n\n".join([summary_table(named), frags, *curves])


def run(args: argparse.Namespace, overrides: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    """Ask the questions on the index; the run's config and its rows (also written to
    ``--out``)."""
    from newsqa.service import NewsQA
    from newsqa.settings import get_settings

    if not (args.index / "manifest.json").exists():
        sys.exit(f"no index at {args.index}: build it with "
                 "`.venv/bin/python -m bench.quality --build-only`")
    settings = get_settings(index__path=str(args.index), **overrides)
    todo = questions_to_ask(args.half, args.limit)
    config = {
        "label": args.label, "commit": git_commit(), "date": now(), "command": command_line(),
        "index": str(args.index), "k": args.k, "half": args.half, "limit": args.limit,
        "settings_overrides": overrides, "cpu_flags": cpu_flags(),
        "abstain_threshold": settings.composition.abstain_threshold,
        "reader_mode": settings.reader.mode,
    }
    svc = NewsQA.open(settings, create=False)
    try:
        rows = ask_all(svc, todo, args.k)
    finally:
        svc.close()
    write_json(args.out, {"config": config, "rows": rows})
    print(f"rows -> {args.out}", file=sys.stderr)
    return config, rows


def rows_arguments(ap: argparse.ArgumentParser, stem: str) -> None:
    """Where a bench keeps its rows: ``--label``, ``--out`` (default :func:`rows_path`) and
    ``--from-json`` (report saved rows, ask nothing)."""
    ap.add_argument("--label", default="default", help="names the rows file")
    ap.add_argument("--out", type=Path, default=None,
                    help=f"rows file (default bench/.cache/{stem}-<label>.json)")
    ap.add_argument("--from-json", type=Path, default=None, metavar="FILE",
                    help="ask nothing: report the rows saved in FILE")


def rows_path(args: argparse.Namespace, stem: str) -> Path:
    """The rows file of parsed :func:`rows_arguments`: ``--out``, else
    ``bench/.cache/<stem>-<label>.json``."""
    return Path(args.out or CACHE / f"{stem}-{args.label}.json")


def main(argv: list[str] | None = None) -> int:
    """Ask (or re-read) every 2023 question and print the per-half table and curves."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", type=Path, default=CACHE / "full-2023", help="cached index dir")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--half", choices=("tune", "held-out", "both"), default="both")
    ap.add_argument("--limit", type=int, default=None, help="first N questions per half (smoke)")
    ap.add_argument("--set", action="append", default=[], metavar="section__field=VALUE",
                    help="a settings override, e.g. composition__abstain_threshold=0.4")
    rows_arguments(ap, "answer-quality")
    ap.add_argument("--step", type=float, default=0.02, help="abstention curve step")
    ap.add_argument("--out-md", type=Path, default=None,
                    help="append the tables, the command, the commit and the date to this file")
    args = ap.parse_args(argv)
    args.out = rows_path(args, "answer-quality")
    require_data()
    if args.from_json:
        saved = json.loads(args.from_json.read_text(encoding="utf-8"))
        config, rows = saved.get("config") or {}, saved["rows"]
    else:
        try:
            overrides = parse_overrides(args.set)
            from newsqa.settings import get_settings

            get_settings(**overrides)  # an unknown or invalid setting stops here, not mid-run
        except (ValueError, TypeError) as e:  # pydantic's ValidationError is a ValueError
            sys.exit(f"--set: {e}")
        config, rows = run(args, overrides)
    urls = {str(c.get("url")) for r in rows for c in r.get("citations") or []}
    articles = {d["url"]: d for d in read_archive(urls)}
    md = report(rows, articles, args.step)
    header = (f"commit {config.get('commit')}, {config.get('date')}; label "
              f"{config.get('label')}; index {config.get('index')}; k={config.get('k')}; "
              f"settings overrides {json.dumps(config.get('settings_overrides') or {})}; "
              f"abstain threshold {config.get('abstain_threshold')}, reader "
              f"{config.get('reader_mode')}; CPU flags: {config.get('cpu_flags')}")
    print(f"command: {config.get('command') or command_line()}")
    if args.from_json:
        print(f"reported by: {command_line()}")
    print(header)
    print()
    print(md)
    if args.out_md:
        with open(args.out_md, "a", encoding="utf-8") as fh:
            fh.write(f"\n### Answer quality — {config.get('date')}, commit "
                     f"{config.get('commit')}\n\n`{config.get('command') or command_line()}`"
                     f"\n\n{header}\n\n{md}\n")
        print(f"\ntables appended to {args.out_md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
