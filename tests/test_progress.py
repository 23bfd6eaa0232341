"""Progress without a terminal: one line per interval and one at the end, never a redraw."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

from newsqa.ingest.pipeline import IngestProgress
from newsqa.progress import LineProgress, ingest_progress, reporter
from tests.support import hash_env, newsqa_command, synthetic_articles, write_jsonl


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_one_line_per_interval_with_counts_rate_and_eta() -> None:
    out, clock = io.StringIO(), Clock()
    tick = LineProgress("embedding", "chunk", out, interval=10, clock=clock)
    for done in range(1, 1001):  # 1,000 steps over 100 s
        clock.t = done / 10
        tick(done, 1000, {"articles_read": done // 3}, done == 1000)
    lines = out.getvalue().splitlines()
    assert len(lines) == 10 and "\r" not in out.getvalue()
    assert lines[0] == ("embedding: 100/1,000 chunks (10%), 33 articles read, 10.0 chunks/s, "
                        "ETA 1m30s")
    assert lines[-1] == "embedding: done, 1,000 chunks, 333 articles read in 1m40s (10.0 chunks/s)"
    tick(1000, 1000, {}, True)  # nothing after the end
    assert len(out.getvalue().splitlines()) == 10


def test_json_lines() -> None:
    out, clock = io.StringIO(), Clock()
    tick = LineProgress("eval", "question", out, interval=5, fmt="json", clock=clock)
    clock.t = 6
    tick(3, 12, {}, False)
    clock.t = 20
    tick(12, 12, {}, True)
    first, last = (json.loads(line) for line in out.getvalue().splitlines())
    assert (first["done"], first["total"], first["stage"], first["eta_s"]) == (3, 12, "running",
                                                                               18.0)
    assert (last["stage"], last["rate_per_s"], last["logger"]) == ("done", 0.6, "newsqa.progress")


def test_a_terminal_gets_the_bar_and_a_pipe_gets_lines() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, pipe = Tty(), io.StringIO()
    bar = ingest_progress(True, stream=tty)
    lines = ingest_progress(True, stream=pipe, interval=10.0, fmt="text")
    for update in (bar, lines):
        update(IngestProgress("embed", 5, 10, 20))
        update(IngestProgress("done", 5, 20, 20))
    assert "\r" in tty.getvalue()
    assert pipe.getvalue().count("\n") == 1 and "done, 20 chunks" in pipe.getvalue()
    off = io.StringIO()
    reporter("x", "y", enabled=False, stream=off)(1, 2, {}, True)
    assert off.getvalue() == ""


def test_an_ingest_without_a_terminal_writes_few_progress_lines(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "news.jsonl", synthetic_articles(1000, words=160))
    proc = subprocess.run(
        newsqa_command(tmp_path / "idx", "ingest", str(src)), env=hash_env(),
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "1000 added" in proc.stdout
    assert "\r" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("embedding:")]
    assert 1 <= len(lines) < 50, proc.stderr[-2000:]
    assert lines[-1].startswith("embedding: done, ") and "1,000 articles read" in lines[-1]


def test_while_inputs_are_read_the_progress_says_which() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, pipe = Tty(), io.StringIO()
    for update in (ingest_progress(True, stream=tty), ingest_progress(True, stream=pipe,
                                                                      interval=0.0, fmt="text")):
        update(IngestProgress("read", 1200, 0, 0, "archive/2023/news.jsonl:1201"))
    assert "reading archive/2023/news.jsonl:1201" in tty.getvalue()
    assert "articles read=1,200" in tty.getvalue()
    assert pipe.getvalue() == ("embedding: 0/0 chunks, 1,200 articles read, 0.0 chunks/s; "
                               "reading archive/2023/news.jsonl:1201\n")
