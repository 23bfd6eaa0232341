"""Distributed embedding with Ray Data: the vectors of a Ray ingest are those of a local one,
and an ingest survives a worker killed with SIGKILL mid-run.

One local Ray instance (2 CPUs, dashboard off, every socket on 127.0.0.1) serves the module;
the real bundled MiniLM model embeds short real articles of the shared archive (kept short so
the module runs in about 3 minutes on 2 cores: each Ray job loads the model once per worker).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="pip install 'newsqa[scale]'")

from newsqa.embedding.base import Embedder  # noqa: E402
from newsqa.embedding.factory import load_embedder  # noqa: E402
from newsqa.embedding.fake import HashEmbedder  # noqa: E402
from newsqa.ingest.chunk import chunk_text, embed_text  # noqa: E402
from newsqa.ingest.distributed import (  # noqa: E402
    PID_DIR_ENV,
    RayEmbedder,
    connect,
    ray_embedder,
)
from newsqa.ingest.pipeline import Ingestor, IngestProgress  # noqa: E402
from newsqa.records import Article  # noqa: E402
from newsqa.service import NewsQA  # noqa: E402
from tests.support import archive_articles, as_article, open_service  # noqa: E402

pytestmark = pytest.mark.slow

#: A guard against a hung cluster, not a speed figure: several times what a loaded 2-core machine
#: needs (a CPU whose torch runs bf16 slowly, with other jobs, took over 120 s for 200 texts).
HANG = 900
AGREE = 0.9999  # bf16 and fp32 vectors of this model agree at least this well; runs of one
#                 precision agree to float rounding


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail the block with TimeoutError if it runs longer than ``seconds`` (main thread)."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"not done within {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    """A local Ray of 2 CPUs for this module, on 127.0.0.1 only, shut down at its end."""
    from ray._private import ray_constants  # type: ignore[import-untyped,unused-ignore]

    if ray.is_initialized():
        ray.shutdown()
    # A short private temp dir: Unix socket paths are limited to 107 bytes, and a cluster here
    # is not the one that `ray.init("auto")` elsewhere on this machine would find.
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    with pytest.MonkeyPatch.context() as mp:
        # Ray replaces 127.0.0.1 with the LAN address unless clusters are off (as on macOS):
        # then every Ray process advertises and listens on 127.0.0.1 only.
        mp.setattr(ray_constants, "ENABLE_RAY_CLUSTER", False, raising=False)
        mp.delenv("RAY_ADDRESS", raising=False)
        try:
            with deadline(HANG):
                ray.init(
                    address="local",
                    num_cpus=2,
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level="warning",
                    object_store_memory=256 * 2**20,
                    _node_ip_address="127.0.0.1",
                    _temp_dir=temp,
                )
            yield
        finally:
            ray.shutdown()
            shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def base() -> Embedder:
    """The bundled MiniLM torch embedder, as the service loads it."""
    return load_embedder()


def short_articles(n: int) -> list[Article]:
    """The first ``n`` archive articles of 300-1,200 characters (one or two chunks each)."""
    out = []
    for d in archive_articles():
        if 300 <= len(d["text"]) <= 1200:
            out.append(as_article(d))
            if len(out) == n:
                break
    assert len(out) == n
    return out


@pytest.fixture(scope="module")
def articles() -> list[Article]:
    return short_articles(150)


@pytest.fixture(scope="module")
def reference(
    tmp_path_factory: pytest.TempPathFactory, articles: list[Article]
) -> Iterator[NewsQA]:
    """The 150 articles ingested as usual (the local embedder), an un-killed run."""
    svc = open_service(tmp_path_factory.mktemp("reference") / "index")
    with deadline(HANG):
        report = svc.ingest_records(articles)
    assert report.added == len(articles) and report.skipped == 0
    yield svc
    svc.close()


def stored(svc: NewsQA) -> tuple[list[tuple[str, int, str]], np.ndarray]:
    """(article id, ord, text) of every chunk ordered by article and position, and the vectors
    stored in SQLite and in the loaded FAISS copy (checked to agree) in the same order."""
    db = sqlite3.connect(svc.index.path / "news.sqlite")
    try:
        rows = db.execute(
            "SELECT id, article_id, ord, text, vector FROM chunks ORDER BY article_id, ord"
        ).fetchall()
    finally:
        db.close()
    keys = [(str(r[1]), int(r[2]), str(r[3])) for r in rows]
    dim = svc.embedder.dim
    vectors = np.frombuffer(b"".join(r[4] for r in rows), dtype=np.float32).reshape(-1, dim)
    svc.index.refresh()
    faiss_copy = svc.index.vectors.reconstruct([int(r[0]) for r in rows])
    # An fp16 copy (the default codec) rounds each component by at most 2^-12.
    atol = 1e-6 if svc.index.vector_codec == "flat" else 3e-4
    np.testing.assert_allclose(faiss_copy, vectors, atol=atol)
    return keys, vectors


def assert_same_index(got: NewsQA, want: NewsQA) -> None:
    """Same articles, chunks (ids, positions, texts) and vectors agreeing chunk by chunk."""
    g, w = got.stats(), want.stats()
    assert (g["articles"], g["chunks"], g["vectors"]) == (w["articles"], w["chunks"], w["vectors"])
    keys, vectors = stored(got)
    want_keys, want_vectors = stored(want)
    assert len(set(keys)) == len(keys), "a chunk was stored twice"
    assert keys == want_keys
    cosines = np.einsum("ij,ij->i", vectors, want_vectors)
    assert cosines.min() >= AGREE, f"chunk {int(cosines.argmin())}: cosine {cosines.min():.6f}"


def test_ray_encode_equals_local_encode(
    ray_cluster: None, base: Embedder, reference: NewsQA, articles: list[Article]
) -> None:
    texts: list[str] = []
    for a in articles:
        texts += [
            embed_text(a.title, c)
            for c in chunk_text(a.text, reference.spec, a.title, base.count_wordpieces)
        ]
    texts = texts[:200]
    assert len(texts) == 200
    want = base.encode(texts)
    done: list[int] = []
    emb = RayEmbedder(base, workers=2, batch_rows=32)
    assert (emb.name, emb.dim, emb.backend, emb.precision) == (
        base.name, base.dim, base.backend, base.precision
    )
    assert emb.count_wordpieces(texts[0]) == base.count_wordpieces(texts[0])
    with deadline(HANG):
        got = emb.encode(texts, progress=done.append)
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cosines = np.einsum("ij,ij->i", got, want)
    assert cosines.min() >= AGREE, f"text {int(cosines.argmin())}: cosine {cosines.min():.6f}"
    assert sum(done) == len(texts) and len(done) > 1  # streamed block by block
    assert emb.encode([]).shape == (0, base.dim)


def test_factory_joins_the_running_ray_and_checks_its_arguments(
    ray_cluster: None, base: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    emb = ray_embedder(base, "auto", 2, None, 64, "auto", base.backend, None)
    assert (emb.workers, emb.dim, emb.backend) == (2, base.dim, base.backend)
    assert ray.is_initialized()
    with pytest.raises(ValueError, match="backend"):
        RayEmbedder(base, backend="onnx-int8")
    with pytest.raises(ValueError, match="workers"):
        RayEmbedder(base, workers=0)
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    with pytest.raises(RuntimeError, match=r"pip install 'newsqa\[scale\]'"):
        connect("auto")


def test_ray_hash_embedder_equals_local(ray_cluster: None) -> None:
    local = HashEmbedder()
    texts = [f"story {i}: the council voted {i} times on the harbour plan" for i in range(50)]
    with deadline(HANG):
        got = RayEmbedder(local, workers=2, batch_rows=10).encode(texts)
    np.testing.assert_allclose(got, local.encode(texts), atol=1e-6)


def test_ray_ingest_stores_what_a_local_ingest_stores(
    ray_cluster: None, base: Embedder, articles: list[Article], tmp_path: Path
) -> None:
    sixty = articles[:60]
    local = open_service(tmp_path / "a")
    distributed = open_service(tmp_path / "b")
    try:
        with deadline(HANG):
            want = local.ingest_records(sixty)
            emb = RayEmbedder(distributed.embedder, workers=2, batch_rows=32)
            got = Ingestor(distributed.index, emb, distributed.spec, batch_articles=4000).run(sixty)
        assert (got.added, got.chunks, got.skipped) == (want.added, want.chunks, want.skipped)
        assert got.added == 60
        assert_same_index(distributed, local)
    finally:
        local.close()
        distributed.close()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_ingest_survives_a_worker_killed_mid_run(
    ray_cluster: None,
    reference: NewsQA,
    articles: list[Article],
    tmp_path: Path,
) -> None:
    pid_dir = tmp_path / "pids"  # each worker creates a file named by its pid once loaded
    pid_dir.mkdir()
    svc = open_service(tmp_path / "index")
    emb = RayEmbedder(
        svc.ingest_embedder(), workers=2, batch_rows=8, env={PID_DIR_ENV: str(pid_dir)}
    )
    kill: dict[str, Any] = {}
    after: list[IngestProgress] = []

    def on_progress(p: IngestProgress) -> None:
        if kill:
            after.append(p)
        elif p.stage == "embed" and p.chunks_done > 0:
            # The first block is back: a loaded worker exists. Kill one; most blocks remain.
            victim = min(int(f.name) for f in pid_dir.iterdir() if alive(int(f.name)))
            os.kill(victim, signal.SIGKILL)
            kill.update(pid=victim, done=p.chunks_done, total=p.chunks_total)

    try:
        with deadline(HANG):
            report = Ingestor(svc.index, emb, svc.spec, batch_articles=4000).run(
                articles, on_progress
            )
        assert kill, "no worker was killed"
        assert kill["done"] < kill["total"] // 2, f"killed too late: {kill}"
        assert not alive(kill["pid"])
        embedded = [p.chunks_done for p in after if p.stage == "embed"]
        assert embedded and embedded[-1] == kill["total"]  # the run went on after the kill
        # The dead worker was replaced: a new process loaded the model.
        workers = {int(f.name) for f in pid_dir.iterdir()}
        assert len(workers - {kill["pid"]}) >= 2, workers
        ref = reference.stats()
        assert (report.added, report.skipped) == (len(articles), 0)
        assert report.chunks == ref["chunks"]
        db = sqlite3.connect(svc.index.path / "news.sqlite")
        try:
            n, distinct = db.execute("SELECT count(*), count(DISTINCT id) FROM articles").fetchone()
        finally:
            db.close()
        assert n == distinct == ref["articles"] == len(articles)
        assert_same_index(svc, reference)
    finally:
        svc.close()


def test_cli_ingest_with_ray_writes_through_the_configured_backend(
    ray_cluster: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``newsqa ingest --ray auto`` joins the running Ray and writes through the index's
    backend (Milvus here, when installed); the hash embedder keeps it quick."""
    import json

    from newsqa.cli import main
    from tests.support import NEWS, write_jsonl

    backend = "milvus" if importlib.util.find_spec("pymilvus") else "local"
    monkeypatch.setenv("NEWSQA_EMBEDDING__EMBEDDER", "hash")
    monkeypatch.setenv("NEWSQA_INDEX__BACKEND", backend)
    src = write_jsonl(tmp_path / "news.jsonl", [
        {"title": a.title, "text": a.text, "url": a.url, "source": a.source,
         "published_at": a.published_at} for a in NEWS
    ])
    index = str(tmp_path / "index")
    with deadline(HANG):
        assert main(["--index", index, "ingest", str(src), "--ray", "auto", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["added"] == 3
    svc = open_service(tmp_path / "index", embedding__embedder="hash")
    try:
        assert svc.index.manifest.backend == backend
        assert svc.search("Tolva volcano", 1)[0].title.startswith("Volcano")
    finally:
        svc.close()
