"""Fault drills for query nodes over one PostgreSQL catalogue: does a kill lose anything?

Starts a PostgreSQL server of its own and two ``newsqa serve`` nodes (A and B), each on an empty
index directory of its own, with ``NEWSQA_INDEX__CATALOG_URL`` pointing both at one schema
(the local search backend: each node holds its FAISS copy in memory, kept in step through the
catalogue's change log). Then:

1. ``kill -9`` at random moments of a CLI ingest writing through a third directory, ``--kills``
   times: after each kill the catalogue must be whole (every article's chunks present, every
   chunk with its postings, no chunk without its article), both nodes must report the
   catalogue's counts and find a sample of the committed articles by their words; the last
   re-run must complete with every article.
2. ``kill -9`` of node A during an upload through it: node B must go on answering, report what
   the catalogue committed and find it; A restarted on a new empty directory must report the
   same.

Everything runs on 127.0.0.1 in a temporary folder with the hash embedder (the drills are about
the catalogue, not the model), bounded in count and time, and stops by itself.

    .venv/bin/python -m bench.node_faults [--kills 6] [--articles 3000] [--upload 600] [--json F]
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.slice import REPO
from newsqa.testing.servers import hash_env, newsqa_command, postgres_server, running_server
from newsqa.testing.synthetic import synthetic_articles, write_jsonl

SCHEMA = "drill"


def catalogue_state(url: str) -> dict[str, int]:
    """Counts read straight from the catalogue's tables, and the ways it could be broken."""
    import psycopg

    with psycopg.connect(url.split("?")[0]) as db, db.cursor() as cur:
        def one(sql: str) -> int:
            cur.execute(sql.replace("S.", f"{SCHEMA}."))
            row = cur.fetchone()
            return int(row[0]) if row else 0

        return {
            "articles": one("SELECT count(*) FROM S.articles"),
            "chunks": one("SELECT count(*) FROM S.chunks"),
            "articles_without_chunks": one(
                "SELECT count(*) FROM S.articles a WHERE NOT EXISTS "
                "(SELECT 1 FROM S.chunks c WHERE c.article_id = a.id)"),
            "chunks_without_article": one(
                "SELECT count(*) FROM S.chunks c WHERE NOT EXISTS "
                "(SELECT 1 FROM S.articles a WHERE a.id = c.article_id)"),
            "chunks_without_postings": one(
                "SELECT count(*) FROM S.chunks c WHERE NOT EXISTS "
                "(SELECT 1 FROM S.postings p WHERE p.chunk_id = c.id)"),
        }


def node_sees(node: str, state: dict[str, int], sample: list[int]) -> dict[str, Any]:
    """What ``node`` reports: whether its counts are the catalogue's, the top 3 passages it
    gives for each sampled article's words (compared across nodes: each searches its own
    FAISS copy) and how many of those articles it puts first."""
    health = httpx.get(f"{node}/api/health", timeout=30).json()
    tops, found = [], 0
    for i in sample:
        r = httpx.post(f"{node}/api/search", json={"query": f"Drill story number {i}", "k": 3},
                       timeout=30).json()
        top = [(p["article_id"], p["text"][:40]) for p in r["passages"]]
        tops.append(top)
        found += bool(r["passages"]) and r["passages"][0]["title"] == f"Drill story {i}"
    same = health["articles"] == state["articles"] and health["chunks"] == state["chunks"]
    return {"counts_agree": same, "found_first": found, "sampled": len(sample), "tops": tops}


def agree(seen: list[dict[str, Any]]) -> bool:
    """Every node reports the catalogue's counts and the same passages for every query."""
    return all(s["counts_agree"] for s in seen) and all(s["tops"] == seen[0]["tops"]
                                                        for s in seen)


def _committed(url: str) -> list[int]:
    import psycopg

    with psycopg.connect(url.split("?")[0]) as db, db.cursor() as cur:
        cur.execute(f"SELECT url FROM {SCHEMA}.articles")
        return [int(r[0].rsplit("/", 1)[1]) for r in cur.fetchall()]


def whole(state: dict[str, int]) -> bool:
    """No article without chunks, no chunk without its article or its postings."""
    return not (state["articles_without_chunks"] or state["chunks_without_article"]
                or state["chunks_without_postings"])


def kill_ingests(url: str, env: dict[str, str], work: Path, nodes: list[str], n: int,
                 kills: int, rng: random.Random) -> dict[str, Any]:
    """Drill 1: the CLI ingest killed ``kills`` times, then run to the end."""
    src = write_jsonl(work / "ingest.jsonl", synthetic_articles(n, seed=1))
    rounds = []
    for k in range(kills + 1):
        cmd = newsqa_command(work / f"writer{k}", "ingest", str(src))
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        last = k == kills
        if last:
            rc = proc.wait(timeout=600)
        else:
            time.sleep(rng.uniform(1.0, 4.0))
            proc.send_signal(signal.SIGKILL)
            rc = proc.wait()
        time.sleep(0.5)
        state = catalogue_state(url)
        committed = _committed(url)
        sample = rng.sample(committed, min(5, len(committed)))
        seen = [node_sees(node, state, sample) for node in nodes]
        rounds.append({"killed": not last, "rc": rc, **state, "whole": whole(state),
                       "nodes": seen})
    ok = all(r["whole"] and agree(r["nodes"]) for r in rounds)
    return {"rounds": rounds, "complete": rounds[-1]["articles"] == n, "ok": ok}


def kill_node(url: str, env: dict[str, str], work: Path, b: str, a_proc: subprocess.Popen[bytes],
              a: str, n: int, rng: random.Random) -> dict[str, Any]:
    """Drill 2: node A killed during an upload through it; B and a restarted A checked."""
    docs = synthetic_articles(n, start=100_000, seed=2)
    errors: list[str] = []

    def upload() -> None:
        try:
            httpx.post(f"{a}/api/articles", json=docs, timeout=600)
        except httpx.HTTPError as exc:  # the kill cuts it off: expected
            errors.append(type(exc).__name__)

    before = catalogue_state(url)["articles"]
    t = threading.Thread(target=upload)
    t.start()
    time.sleep(rng.uniform(0.5, 2.0))
    a_proc.send_signal(signal.SIGKILL)
    a_proc.wait()
    t.join(60)
    time.sleep(0.5)
    state = catalogue_state(url)
    committed = _committed(url)
    sample = rng.sample(committed, min(5, len(committed)))
    out: dict[str, Any] = {"before": before, **state, "whole": whole(state),
                           "upload_cut": bool(errors), "b": node_sees(b, state, sample)}
    with running_server(work / "a-again", env=env) as (_, again):
        out["a_restarted"] = node_sees(again, state, sample)
    out["ok"] = out["whole"] and agree([out["b"], out["a_restarted"]])
    return out


def main() -> None:
    """Run both drills and print (and optionally write) the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=6)
    ap.add_argument("--articles", type=int, default=3000, help="articles of the CLI ingest")
    ap.add_argument("--upload", type=int, default=600, help="articles uploaded through node A")
    ap.add_argument("--batch-articles", type=int, default=16)
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    started = time.monotonic()
    with postgres_server() as base, tempfile.TemporaryDirectory(prefix="newsqa-nodes-") as tmp:
        url = f"{base}?schema={SCHEMA}"
        env = {**hash_env(index__catalog_url=url,
                          ingest__batch_articles=str(args.batch_articles)),
               "PYTHONPATH": str(REPO / "src")}
        work = Path(tmp)
        with running_server(work / "a", env=env) as (a_proc, a), \
                running_server(work / "b", env=env) as (_, b):
            out = {"kill_ingest": kill_ingests(url, env, work, [a, b], args.articles,
                                               args.kills, rng)}
            out["kill_node"] = kill_node(url, env, work, b, a_proc, a, args.upload, rng)
    out["seconds"] = round(time.monotonic() - started, 1)
    out["ok"] = out["kill_ingest"]["ok"] and out["kill_ingest"]["complete"] and \
        out["kill_node"]["ok"]
    text = json.dumps(out, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
