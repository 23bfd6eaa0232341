"""What a serving process should run for an fp32 index: torch (in ``--precision``, bf16 where the
CPU has it) against ONNX Runtime fp32, each in a fresh process, alternated, on one machine.

Each round starts one process per backend that loads the query embedder the way a serving
process does (``newsqa.embedding.factory.load_embedder``), embeds ``--questions`` real questions one
at a time (a query is one text) and reports: cold start (process start to the first vector,
imports included), query p50/p95 in ms, and peak RSS in MiB. The CPU flags the run saw are
printed with the table.

    .venv/bin/python -m bench.serving_backend [--rounds 3] [--questions 200]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from newsqa.testing.paths import QUESTIONS

PROBE = r"""
import json, resource, sys, time
t0 = float(sys.argv[1])
from newsqa.embedding.factory import load_embedder
questions = json.loads(sys.argv[4])
emb = load_embedder(None, 64, "model", sys.argv[3], sys.argv[2], None)
emb.encode([questions[0]])
cold = time.time() - t0
times = []
for q in questions:
    s = time.perf_counter()
    emb.encode([q])
    times.append((time.perf_counter() - s) * 1000)
heavy = [m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules]
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"cold_s": cold, "times_ms": times, "rss_mib": rss, "heavy": heavy,
                  "precision": emb.precision}))
"""


def cpu_flags() -> str:
    """The CPU's SIMD flags that matter for these kernels."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return "unknown"
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
    return " ".join(f for f in wanted if f in flags) or "none of avx2/avx512/amx"


def run_once(backend: str, precision: str, questions: list[str]) -> dict[str, object]:
    """One fresh process of ``backend``; its figures."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(time.time()), backend, precision, json.dumps(questions)],
        check=True, capture_output=True, text=True, env=env,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    """Alternate the backends for ``--rounds`` rounds and print one markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--questions", type=int, default=200)
    ap.add_argument("--precision", default="bf16", help="torch's precision (auto|fp32|bf16)")
    args = ap.parse_args(argv)
    questions = [json.loads(line)["question"] for line in QUESTIONS.open()][: args.questions]
    configs = [("torch", args.precision), ("onnx-fp32", "fp32")]
    rows: dict[str, list[dict[str, object]]] = {b: [] for b, _ in configs}
    for _ in range(args.rounds):
        for backend, precision in configs:
            rows[backend].append(run_once(backend, precision, questions))
    print(f"CPU flags: {cpu_flags()}; {os.cpu_count()} cores; {len(questions)} questions, "
          f"{args.rounds} rounds alternated\n")
    print("| backend | precision | cold start s (median) | query p50 ms | query p95 ms | "
          "peak RSS MiB | heavy modules loaded |")
    print("|---|---|---:|---:|---:|---:|---|")
    for backend, _ in configs:
        runs = rows[backend]
        times = sorted(t for r in runs for t in r["times_ms"])  # type: ignore[attr-defined]
        p95 = times[int(0.95 * (len(times) - 1))]
        cold = statistics.median(float(r["cold_s"]) for r in runs)  # type: ignore[arg-type]
        rss = statistics.median(float(r["rss_mib"]) for r in runs)  # type: ignore[arg-type]
        print(f"| {backend} | {runs[0]['precision']} | {cold:.2f} | "
              f"{statistics.median(times):.2f} | {p95:.2f} | {rss:.0f} | "
              f"{', '.join(runs[-1]['heavy']) or 'none'} |")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
