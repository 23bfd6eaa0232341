"""How the server runs: a serving process never loads torch (ONNX Runtime runs the model), and
``serve --workers N`` answers from N processes sharing one port."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from newsqa.embedding.factory import load_embedder
from newsqa.service import NewsQA
from newsqa.settings import get_settings
from tests.support import REPO, running_server

pytest.importorskip("onnxruntime")

SEED_Q = "What does the Korean government fear about Japan's right of collective self-defense?"

PROBE = """
import json, sys
from fastapi.testclient import TestClient
from newsqa.api.factory import create_app
from newsqa.service import NewsQA
from newsqa.settings import get_settings
svc = NewsQA.open(get_settings(index__path=sys.argv[1]), create=False)
r = TestClient(create_app(svc)).post("/api/ask", json={"question": sys.argv[2]}).json()
heavy = [m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules]
print(json.dumps({"abstained": r["abstained"], "heavy": heavy,
                  "backends": [svc.embedder.backend, svc.sentence_embedder.backend]}))
"""


@pytest.mark.parametrize(("built", "served"), [
    (None, ["onnx-int8", "onnx-int8"]),  # a new index: int8 throughout
    ("torch", ["onnx-fp32", "onnx-int8"]),  # torch's fp32 vectors, searched by ONNX fp32
])
def test_a_serving_process_runs_the_model_without_torch(
    tmp_path: Path, built: str | None, served: list[str]
) -> None:
    index = tmp_path / "i"
    svc = NewsQA.open(get_settings(index__path=str(index),
                                   embedding__backend=built))  # makes ONNX files
    svc.ingest([REPO / "corpus"])
    svc.close()
    assert json.loads((index / "manifest.json").read_text())["embed_backend"] == (
        built or "onnx-int8")
    load_embedder(backend="onnx-fp32")
    load_embedder(backend="onnx-int8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSQA_")}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(index), SEED_Q], env=env, capture_output=True,
        text=True, timeout=120, check=True,
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == {"abstained": False, "heavy": [], "backends": served}


def _children(pid: int) -> list[int]:
    return [int(c) for t in Path(f"/proc/{pid}/task").glob("*/children")
            for c in t.read_text().split()]


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_serve_with_two_workers_answers_from_both(tmp_path: Path) -> None:
    env = {**os.environ, "NEWSQA_EMBEDDING__EMBEDDER": "hash", "HF_HUB_OFFLINE": "1"}
    env.pop("NEWSQA_API__KEY", None)
    with running_server(tmp_path / "i", [str(REPO / "corpus")], env=env,
                        serve_args=["--workers", "2"]) as (proc, url):
        def ask(_: int) -> tuple[int, bool]:
            r = httpx.post(f"{url}/api/ask", json={"question": SEED_Q}, timeout=60)
            return r.status_code, r.json()["abstained"]

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(ask, range(24)))
        assert results == [(200, False)] * 24
        # uvicorn's supervisor, then its worker processes (spawned beside a resource tracker)
        workers = [p for p in _children(proc.pid)
                   if "multiprocessing.resource_tracker" not in Path(
                       f"/proc/{p}/cmdline").read_bytes().decode(errors="replace")]
        assert len(workers) == 2, workers
    assert proc.poll() is not None
