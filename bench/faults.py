"""Fault drills for the one-writer index: is it whole after a kill, and does everyone see it?

1. ``kill -9`` at random moments of a CLI ingest (a fresh index each time): the index must
   open, its article, chunk, lexical-row and vector counts must agree, opening it must write no
   file, and the re-run must complete with the full count.
2. Four client threads on ``/api/ask`` and ``/api/search`` while an upload ingest (HTTP), a
   concurrent CLI ingest and a few HTTP deletes write to the same index: no error other than the
   documented 409 (busy: the writer retries after ``Retry-After``, the CLI after exit status 4),
   no article lost, and the server sees every write.
3. SIGTERM to the server during an upload ingest: it exits cleanly and the index opens whole.
4. The cost of a delete on a large index (94,000 chunks of random vectors): the writer's delete
   and the time another process takes to see it (no file is rewritten; the change log carries it).

Everything runs on 127.0.0.1 in a temporary folder, bounded in count and time, and stops by
itself. ``--embedder hash`` (default) makes ingests fast; ``--embedder model`` runs the same
drills with the real model (use smaller sizes).

    PYTHONPATH=src .venv/bin/python -m bench.faults [--kills 20] [--embedder hash|model]
        [--kill-articles 600] [--upload-articles 800] [--cli-articles 800] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench.slice import REPO
from newsqa.cli import EXIT_BUSY
from newsqa.embedding.base import Embedder
from newsqa.embedding.factory import load_embedder
from newsqa.service import NewsQA
from newsqa.settings import get_settings
from newsqa.testing.indexes import file_states, index_counts
from newsqa.testing.servers import hash_env, newsqa_command, running_server
from newsqa.testing.synthetic import synthetic_articles, write_jsonl

DEADLINE_S = 1500  # the whole script, whatever the arguments


def _ingest_cmd(index: Path, src: Path) -> list[str]:
    return newsqa_command(index, "ingest", str(src), "--no-progress")


def inspect(index: Path, embedder: Embedder, embedder_name: str) -> dict[str, Any]:
    """Open the index as a reader would: do its counts agree, and did opening write a file?"""
    before = file_states(index)
    t0 = time.perf_counter()
    settings = get_settings(index__path=str(index), embedding__embedder=embedder_name)
    try:
        svc = NewsQA.open(settings, create=False, embedder=embedder)
    except Exception as exc:  # noqa: BLE001 - reported as a failure to open
        return {"opens": False, "error": f"{type(exc).__name__}: {exc}"}
    try:
        st = svc.stats()
        articles, chunks, fts = index_counts(index)
        hits = svc.search("Drill story number 7", k=3) if chunks else []
    finally:
        svc.close()
    agree = st["articles"] == articles and st["chunks"] == chunks == fts == st["vectors"]
    return {
        "opens": True,
        "agree": agree and (bool(hits) or chunks == 0),
        "articles": articles,
        "chunks": chunks,
        "vectors": st["vectors"],
        "open_s": round(time.perf_counter() - t0, 3),
        "wrote_files": file_states(index) != before,
    }


def _create(index: Path, embedder: Embedder, embedder_name: str) -> None:
    NewsQA.open(get_settings(index__path=str(index), embedding__embedder=embedder_name),
                embedder=embedder).close()


# ---------------------------------------------------------------------------- 1. kill -9
def kill_drill(
    work: Path, kills: int, n_articles: int, env: dict[str, str], embedder: Embedder,
    embedder_name: str, rng: random.Random,
) -> dict[str, Any]:
    """``kills`` rounds: fresh index, CLI ingest, SIGKILL after a random delay, inspect, re-run."""
    src = write_jsonl(work / "kill.jsonl", synthetic_articles(n_articles, seed=1))
    calib = work / "kill-calibrate"
    _create(calib, embedder, embedder_name)
    t0 = time.perf_counter()
    proc = subprocess.Popen(_ingest_cmd(calib, src), cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first_write_s = None
    while proc.poll() is None:
        if first_write_s is None and index_counts(calib)[0] > 0:
            first_write_s = time.perf_counter() - t0
        time.sleep(0.01)
    full_s = time.perf_counter() - t0
    assert proc.returncode == 0, f"calibration ingest failed with {proc.returncode}"
    # Kill moments: uniform from just before the first batch commits to the very end (snapshot).
    lo = max(0.0, (first_write_s or 0.0) - 0.2)
    rounds: list[dict[str, Any]] = []
    for i in range(kills):
        for attempt in range(5):  # an ingest that ended before its kill moment is tried again
            index = work / f"kill{i}-{attempt}"
            _create(index, embedder, embedder_name)
            started = time.perf_counter()
            proc = subprocess.Popen(
                _ingest_cmd(index, src), cwd=REPO, env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            delay = rng.uniform(lo, full_s)
            time.sleep(delay)
            finished = proc.poll() is not None
            if not finished:
                os.kill(proc.pid, signal.SIGKILL)
            rc = proc.wait()
            if not finished:
                break
            full_s = min(full_s, time.perf_counter() - started)
        after_kill = inspect(index, embedder, embedder_name)
        rerun = subprocess.run(
            _ingest_cmd(index, src), cwd=REPO, env=env, capture_output=True, text=True,
            timeout=600,
        )
        final = inspect(index, embedder, embedder_name)
        rounds.append({
            "delay_s": round(delay, 2),
            "killed": rc == -signal.SIGKILL,
            "at_kill": after_kill,
            "rerun_rc": rerun.returncode,
            "final": final,
        })
        ok = _round_ok(rounds[-1], n_articles)
        print(
            f"  kill {i + 1:2d}/{kills}: after {delay:5.2f}s "
            f"{'killed' if rc == -signal.SIGKILL else 'already done'}; "
            f"{after_kill.get('articles')} articles, {after_kill.get('chunks')} chunks, "
            f"{after_kill.get('vectors')} vectors; re-run -> {final.get('articles')} "
            f"{'ok' if ok else 'FAILED'}",
            flush=True,
        )
    return {
        "articles": n_articles,
        "full_ingest_s": round(full_s, 2),
        "first_commit_s": round(first_write_s or 0.0, 2),
        "rounds": len(rounds),
        "killed_mid_ingest": sum(r["killed"] for r in rounds),
        "opened": sum(r["at_kill"].get("opens", False) for r in rounds),
        "counts_agree": sum(bool(r["at_kill"].get("agree")) for r in rounds),
        "reader_wrote_files": sum(bool(r["at_kill"].get("wrote_files")) for r in rounds),
        "rerun_complete": sum(
            r["rerun_rc"] == 0 and r["final"].get("articles") == n_articles
            and bool(r["final"].get("agree")) for r in rounds
        ),
        "ok": sum(_round_ok(r, n_articles) for r in rounds),
        "kill_at_s": [min(r["delay_s"] for r in rounds), max(r["delay_s"] for r in rounds)],
        "max_open_s": max((r["at_kill"].get("open_s", 0.0) for r in rounds), default=0.0),
        "detail": rounds,
    }


def _round_ok(r: dict[str, Any], n_articles: int) -> bool:
    at, final = r["at_kill"], r["final"]
    return bool(
        at.get("opens") and at.get("agree") and not at.get("wrote_files")
        and r["rerun_rc"] == 0 and final.get("articles") == n_articles and final.get("agree")
    )


# ---------------------------------------------------------------------------- 2. concurrency
class Tally:
    """Thread-safe counts of outcomes per route."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.errors: list[str] = []

    def add(self, key: str, error: str | None = None) -> None:
        """Count one outcome; keep the first errors' text."""
        with self.lock:
            self.counts[key] += 1
            if error is not None and len(self.errors) < 20:
                self.errors.append(error)


def _retrying(
    name: str, attempt: Callable[[], tuple[str, float]], tally: Tally, stop_at: float
) -> bool:
    """Call ``attempt`` until it reports "ok"; "busy" waits the given seconds and retries."""
    while time.monotonic() < stop_at:
        outcome, wait = attempt()
        tally.add(f"{name} {outcome}")
        if outcome == "ok":
            return True
        if outcome != "busy":
            return False
        time.sleep(wait)
    return False


def _client(url: str, n: int, stop: threading.Event, tally: Tally, top: int) -> None:
    rng = random.Random(n)
    with httpx.Client(base_url=url, timeout=60) as client:
        while not stop.is_set():
            i = rng.randrange(top)
            route, body = (
                ("/api/ask", {"question": f"What happened in drill story number {i}?"})
                if rng.random() < 0.5
                else ("/api/search", {"query": f"Drill story {i}", "k": 5})
            )
            try:
                r = client.post(route, json=body)
            except httpx.HTTPError as exc:
                tally.add(f"{route} exception", f"{route}: {type(exc).__name__}: {exc}")
                continue
            bad = None if r.status_code == 200 else f"{route} {r.status_code}: {r.text[:200]}"
            tally.add(f"{route} {r.status_code}", bad)


def concurrency_drill(
    work: Path, n_base: int, n_upload: int, n_cli: int, n_delete: int, clients: int,
    env: dict[str, str], embedder: Embedder, embedder_name: str, limit_s: float,
) -> dict[str, Any]:
    """Clients query while an upload, a CLI ingest and deletes write to one index."""
    index = work / "live"
    base = synthetic_articles(n_base, seed=2)
    upload = synthetic_articles(n_upload, start=10_000, seed=2)
    cli = synthetic_articles(n_cli, start=20_000, seed=2)
    base_src = write_jsonl(work / "base.jsonl", base)
    upload_src = write_jsonl(work / "upload.jsonl", upload)
    cli_src = write_jsonl(work / "cli.jsonl", cli)
    subprocess.run(_ingest_cmd(index, base_src), cwd=REPO, env=env, check=True,
                   capture_output=True)
    doomed = [a["url"] for a in base[:n_delete]]
    expected = {a["url"] for a in base[n_delete:] + upload + cli}
    tally = Tally()
    stop = threading.Event()
    log_path = work / "live-server.log"
    with running_server(index, env=env, log_path=log_path) as (_proc, url):
        threads = [
            threading.Thread(target=_client, args=(url, n, stop, tally, 20_000 + n_cli))
            for n in range(clients)
        ]
        for t in threads:
            t.start()
        time.sleep(1.0)
        stop_at = time.monotonic() + limit_s
        t0 = time.perf_counter()
        done: dict[str, bool] = {}

        def post_upload() -> tuple[str, float]:
            with upload_src.open("rb") as fh, httpx.Client(timeout=limit_s) as c:
                r = c.post(f"{url}/api/articles", files={"file": ("upload.jsonl", fh)})
            if r.status_code == 409:
                return "busy", float(r.headers.get("retry-after", "1"))
            if r.status_code == 200 and r.json().get("added") == n_upload:
                return "ok", 0.0
            tally.add("upload error", f"upload {r.status_code}: {r.text[:300]}")
            return f"{r.status_code}", 0.0

        def run_cli() -> tuple[str, float]:
            p = subprocess.run(_ingest_cmd(index, cli_src), cwd=REPO, env=env,
                               capture_output=True, text=True, timeout=limit_s)
            if p.returncode == EXIT_BUSY:
                return "busy", 1.0
            if p.returncode == 0:
                return "ok", 0.0
            tally.add("cli error", f"cli exit {p.returncode}: {p.stderr[-300:]}")
            return f"exit {p.returncode}", 0.0

        def delete_one(target: str) -> Callable[[], tuple[str, float]]:
            def attempt() -> tuple[str, float]:
                r = httpx.delete(f"{url}/api/articles/{target}", timeout=60)
                if r.status_code == 409:
                    return "busy", float(r.headers.get("retry-after", "1"))
                if r.status_code == 200:
                    return "ok", 0.0
                tally.add("delete error", f"delete {r.status_code}: {r.text[:200]}")
                return f"{r.status_code}", 0.0
            return attempt

        def deletes() -> tuple[str, float]:
            time.sleep(0.5)
            ok = all(_retrying("delete", delete_one(u), tally, stop_at) for u in doomed)
            return ("ok" if ok else "failed"), 0.0

        writers = {
            "upload": lambda: _retrying("upload", post_upload, tally, stop_at),
            "cli ingest": lambda: _retrying("cli ingest", run_cli, tally, stop_at),
            "deletes": lambda: deletes()[0] == "ok",
        }
        wthreads = [
            threading.Thread(target=lambda k=k, f=f: done.__setitem__(k, f()))
            for k, f in writers.items()
        ]
        for t in wthreads:
            t.start()
        for t in wthreads:
            t.join()
        write_s = time.perf_counter() - t0
        time.sleep(1.5)  # queries after the last write
        seen_total = httpx.get(f"{url}/api/articles", params={"limit": 1}, timeout=30).json()
        probes = rng_probe(url, upload + cli)
        stop.set()
        for t in threads:
            t.join()
    stored = _stored_urls(index)
    after = inspect(index, embedder, embedder_name)
    counts = dict(sorted(tally.counts.items()))
    queries = sum(v for k, v in counts.items() if k.startswith(("/api/ask", "/api/search")))
    query_errors = sum(
        v for k, v in counts.items()
        if k.startswith(("/api/ask", "/api/search")) and not k.endswith(" 200")
    )
    ok = (
        query_errors == 0 and all(done.values()) and len(expected ^ stored) == 0
        and bool(after.get("agree")) and seen_total.get("total") == len(expected)
        and probes.split("/")[0] == probes.split("/")[1]
    )
    return {
        "ok": ok,
        "clients": clients,
        "writes_s": round(write_s, 1),
        "writers_done": done,
        "queries": queries,
        "query_errors": query_errors,
        "busy_409": sum(v for k, v in counts.items() if k.endswith(" busy")),
        "write_errors": sum(
            v for k, v in counts.items()
            if k.split(" ")[0] in ("upload", "cli", "delete") and not k.endswith((" ok", " busy"))
        ),
        "expected_articles": len(expected),
        "lost_articles": len(expected - stored),
        "unexpected_articles": len(stored - expected),
        "server_total": seen_total.get("total"),
        "server_finds_new": probes,
        "index_after": after,
        "outcomes": counts,
        "errors": tally.errors,
    }


def rng_probe(url: str, articles: list[dict[str, Any]], n: int = 20) -> str:
    """Of ``n`` newly written articles, how many the server returns for their own opening."""
    rng = random.Random(5)
    sample = rng.sample(articles, min(n, len(articles)))
    found = 0
    with httpx.Client(base_url=url, timeout=30) as client:
        for a in sample:
            query = " ".join(a["text"].split()[:30])
            r = client.post("/api/search", json={"query": query, "k": 3})
            found += r.status_code == 200 and a["url"] in [p["url"] for p in r.json()["passages"]]
    return f"{found}/{len(sample)}"


def _stored_urls(index: Path) -> set[str]:
    import sqlite3

    db = sqlite3.connect(index / "news.sqlite")
    try:
        return {r[0] for r in db.execute("SELECT url FROM articles")}
    finally:
        db.close()


# ---------------------------------------------------------------------------- 3. SIGTERM
def sigterm_drill(
    work: Path, n_articles: int, env: dict[str, str], embedder: Embedder, embedder_name: str,
) -> dict[str, Any]:
    """SIGTERM to the server while it ingests an upload; then inspect and re-run."""
    index = work / "term"
    src = write_jsonl(work / "term.jsonl", synthetic_articles(n_articles, seed=4))
    result: dict[str, Any] = {}
    with running_server(index, env=env, log_path=work / "term-server.log") as (proc, url):

        def upload() -> None:
            try:
                with src.open("rb") as fh:
                    r = httpx.post(f"{url}/api/articles", files={"file": ("t.jsonl", fh)},
                                   timeout=300)
                result["upload_status"] = r.status_code
            except httpx.HTTPError as exc:
                result["upload_status"] = type(exc).__name__

        t = threading.Thread(target=upload)
        t.start()
        deadline = time.monotonic() + 120
        while index_counts(index)[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        result["articles_at_sigterm"] = index_counts(index)[0]
        t0 = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        try:
            rc: int | str = proc.wait(timeout=180)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = "killed after 180 s"
        result["exit"] = rc
        result["exit_s"] = round(time.perf_counter() - t0, 2)
        t.join(timeout=30)
        log = (work / "term-server.log").read_text(errors="replace")
        # uvicorn finishes the request in flight, then exits by the signal it caught (-15).
        result["clean"] = (
            rc in (0, -signal.SIGTERM) and "Finished server process" in log
            and "Traceback" not in log
        )
    result["index_after"] = inspect(index, embedder, embedder_name)
    rerun = subprocess.run(_ingest_cmd(index, src), cwd=REPO, env=env, capture_output=True,
                           text=True, timeout=600)
    result["rerun_rc"] = rerun.returncode
    result["final"] = inspect(index, embedder, embedder_name)
    result["ok"] = bool(
        result["clean"] and result["index_after"].get("agree") and rerun.returncode == 0
        and result["final"].get("articles") == n_articles
    )
    return result


# ---------------------------------------------------------------------------- 4. delete cost
def delete_cost(work: Path, n_chunks: int, deletes: int, dim: int = 384) -> dict[str, Any]:
    """Time ``deletes`` single-article deletes on an index of ``n_chunks`` random unit vectors
    (12 chunks an article), and how long a second process takes to see each of them."""
    import statistics

    import numpy as np

    from newsqa.embedding.fake import HashEmbedder
    from newsqa.index.manifest import IndexManifest
    from newsqa.index.store import FORMAT_VERSION, ArticleRow, NewsIndex

    manifest = IndexManifest(
        model=HashEmbedder.name, dim=dim, chunk_tokens=180, chunk_overlap=20,
        max_wordpieces=256, format_version=FORMAT_VERSION,
    )
    index = NewsIndex.open(work / "delete", manifest)
    rng = np.random.default_rng(0)
    per, n_articles = 12, n_chunks // 12
    t0 = time.perf_counter()
    with index.writer():
        for start in range(0, n_articles, 500):
            rows = []
            for i in range(start, min(start + 500, n_articles)):
                v = rng.normal(size=(per, dim)).astype(np.float32)
                v /= np.linalg.norm(v, axis=1, keepdims=True)
                rows.append(ArticleRow(
                    id=f"a{i}", url=f"https://delete.example.com/{i}", title=f"T {i}",
                    source="delete.example.com", published_at="2023-01-01", authors=[],
                    text="t", content_hash="h", origin="o", chunks=["c"] * per, vectors=v,
                ))
            index.write(rows)
        index.save_snapshot()
    build_s = time.perf_counter() - t0
    other = NewsIndex.open(work / "delete", manifest)  # another process's view
    writer_ms, reader_ms = [], []
    for i in range(deletes):
        t = time.perf_counter()
        assert index.delete(f"a{i * 37}")
        writer_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        other.refresh()
        reader_ms.append((time.perf_counter() - t) * 1000)
    t = time.perf_counter()
    third = NewsIndex.open(work / "delete", manifest)
    open_ms = (time.perf_counter() - t) * 1000
    agree = len(index.vectors) == len(other.vectors) == len(third.vectors) == (
        index.stats()["chunks"]
    )
    for ix in (index, other, third):
        ix.close()
    return {
        "chunks": per * n_articles,
        "build_s": round(build_s, 1),
        "delete_ms_p50": round(statistics.median(writer_ms), 1),
        "delete_ms_max": round(max(writer_ms), 1),
        "other_process_sees_it_ms_p50": round(statistics.median(reader_ms), 1),
        "other_process_sees_it_ms_max": round(max(reader_ms), 1),
        "open_snapshot_plus_log_ms": round(open_ms, 1),
        "counts_agree": agree,
    }


# ---------------------------------------------------------------------------- main
def main() -> None:
    """Run the three drills, print their figures; exit status 0 only when every check held."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--embedder", choices=["hash", "model"], default="hash")
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--kill-articles", type=int, default=600)
    ap.add_argument("--base-articles", type=int, default=300)
    ap.add_argument("--upload-articles", type=int, default=800)
    ap.add_argument("--cli-articles", type=int, default=800)
    ap.add_argument("--deletes", type=int, default=5)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--term-articles", type=int, default=2000)
    ap.add_argument("--batch-articles", type=int, default=16)
    ap.add_argument("--time-limit", type=float, default=300.0, help="per drill phase, seconds")
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--delete-chunks", type=int, default=94_000)
    ap.add_argument("--delete-count", type=int, default=20)
    ap.add_argument(
        "--skip", action="append", default=[], choices=["kill", "live", "term", "delete"]
    )
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    timer = threading.Timer(DEADLINE_S, lambda: os._exit(124))  # stops by itself, whatever
    timer.daemon = True
    timer.start()

    env = hash_env(ingest__batch_articles=str(args.batch_articles),
                   embedding__embedder=args.embedder)
    settings = get_settings(embedding__embedder=args.embedder)
    embedder = load_embedder(
        settings.embedding.model_path, settings.embedding.batch_size, args.embedder
    )
    rng = random.Random(args.seed)
    out: dict[str, Any] = {"embedder": args.embedder, "args": vars(args)}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="newsqa-faults-") as tmp:
        work = Path(tmp)
        if "kill" not in args.skip:
            print(f"1. kill -9 during a CLI ingest of {args.kill_articles} articles", flush=True)
            out["kill"] = kill_drill(work, args.kills, args.kill_articles, env, embedder,
                                     args.embedder, rng)
        if "live" not in args.skip:
            print(f"2. {args.clients} clients on /api/ask and /api/search during an upload, a "
                  "CLI ingest and deletes", flush=True)
            out["live"] = concurrency_drill(
                work, args.base_articles, args.upload_articles, args.cli_articles,
                args.deletes, args.clients, env, embedder, args.embedder, args.time_limit,
            )
        if "term" not in args.skip:
            print(f"3. SIGTERM during an upload of {args.term_articles} articles", flush=True)
            out["term"] = sigterm_drill(work, args.term_articles, env, embedder, args.embedder)
        if "delete" not in args.skip:
            print(f"4. delete cost on {args.delete_chunks} chunks", flush=True)
            out["delete"] = delete_cost(work, args.delete_chunks, args.delete_count)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    _print_summary(out)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    os._exit(0 if _all_ok(out) else 1)


def _all_ok(out: dict[str, Any]) -> bool:
    k, live, term = out.get("kill"), out.get("live"), out.get("term")
    return (
        (k is None or k["ok"] == k["rounds"])
        and (live is None or live["ok"])
        and (term is None or term["ok"])
        and ("delete" not in out or out["delete"]["counts_agree"])
    )


def _print_summary(out: dict[str, Any]) -> None:
    print(f"\nfaults ({out['embedder']} embedder), {out['seconds']} s")
    if k := out.get("kill"):
        print(
            f"kill -9: {k['ok']}/{k['rounds']} rounds whole ({k['killed_mid_ingest']} killed "
            f"mid-ingest {k['kill_at_s'][0]}-{k['kill_at_s'][1]} s after its start; first commit "
            f"at {k['first_commit_s']} s, whole ingest {k['full_ingest_s']} s): "
            f"opened {k['opened']}, counts agree {k['counts_agree']}, reader wrote files "
            f"{k['reader_wrote_files']}, re-run "
            f"complete {k['rerun_complete']} ({k['articles']} articles); slowest open "
            f"{k['max_open_s']} s"
        )
    if live := out.get("live"):
        print(
            f"live: {live['queries']} queries by {live['clients']} clients, "
            f"{live['query_errors']} errors; writes {live['writers_done']} in "
            f"{live['writes_s']} s with {live['busy_409']} busy answers (409 / exit 4) and "
            f"{live['write_errors']} errors; {live['lost_articles']} of "
            f"{live['expected_articles']} articles lost, {live['unexpected_articles']} "
            f"unexpected; server total {live['server_total']}, finds new "
            f"{live['server_finds_new']}; index after: {live['index_after']}"
        )
        for err in live["errors"][:5]:
            print(f"  error: {err}")
    if term := out.get("term"):
        print(
            f"SIGTERM: exit {term['exit']} after {term['exit_s']} s, "
            f"{'clean' if term['clean'] else 'NOT clean'} "
            f"({term['articles_at_sigterm']} articles in at the signal, upload answered "
            f"{term.get('upload_status')}); index after: {term['index_after']}; re-run "
            f"exit {term['rerun_rc']} -> {term['final'].get('articles')} articles; "
            f"{'ok' if term['ok'] else 'FAILED'}"
        )
    if d := out.get("delete"):
        print(
            f"delete on {d['chunks']} chunks: p50 {d['delete_ms_p50']} ms, max "
            f"{d['delete_ms_max']} ms; another process sees it in p50 "
            f"{d['other_process_sees_it_ms_p50']} ms, max {d['other_process_sees_it_ms_max']} "
            f"ms; opening (snapshot + log) {d['open_snapshot_plus_log_ms']} ms; counts agree "
            f"{d['counts_agree']}"
        )
    print(json.dumps({k: v for k, v in out.items() if k != "kill"} | {
        "kill": {k: v for k, v in out.get("kill", {}).items() if k != "detail"}
    }, default=str))


if __name__ == "__main__":
    main()
