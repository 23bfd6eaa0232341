"""A server told to stop (SIGTERM) during a long upload stops at the upload's next batch
instead of reading the rest of it first (issue 39: a 650 s upload held the server); and the
served app checks the Host header (DNS rebinding)."""

from __future__ import annotations

import gzip
import io
import json
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.support import hash_env, running_server


def _many_articles(n: int) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb") as gz:
        for i in range(n):
            gz.write(json.dumps({"id": f"a{i}", "title": f"Report {i}",
                                 "text": f"Report number {i} on the harbour works."}).encode())
            gz.write(b"\n")
    return buf.getvalue()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_stops_an_upload_at_its_next_batch(tmp_path: Path, workers: str) -> None:
    env = hash_env(api__max_upload_records="10000000", ingest__batch_articles="64")
    serve_args = ("--workers", workers)
    with running_server(tmp_path / "index", env=env, serve_args=serve_args) as (proc, url):
        refused = httpx.get(f"{url}/api/health", headers={"host": "rebind.example"})
        assert refused.status_code == 400  # served on 127.0.0.1: loopback names only
        files = {"file": ("many.jsonl.gz", _many_articles(300_000), "application/gzip")}
        events: list[tuple[str, dict[str, object]]] = []
        signalled = 0.0
        with httpx.stream("POST", f"{url}/api/articles?stream=true", files=files,
                          timeout=120) as r:
            assert r.status_code == 200
            event = ""
            for line in r.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    events.append((event, json.loads(line[5:])))
                    if event == "progress" and not signalled:
                        proc.send_signal(signal.SIGTERM)
                        signalled = time.monotonic()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            raise AssertionError("the server did not stop within 60 s of SIGTERM") from None
        assert time.monotonic() - signalled < 60
    kind, done = events[-1]
    assert kind == "done", events[-1]
    assert isinstance(done["added"], int) and 0 < done["added"] < 300_000
    reasons = [p["reason"] for p in done["problems"]]  # type: ignore[attr-defined]
    assert any("server is stopping" in str(reason) for reason in reasons), reasons
