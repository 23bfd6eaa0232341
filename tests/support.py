"""Helpers shared by tests: tiny real indexes built with the real model."""

from __future__ import annotations

import gzip
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from newsqa.models import Article
from newsqa.service import NewsQA
from newsqa.settings import get_settings

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
ARCHIVE = SHARED / "data" / "realtimeqa-2023" / "articles.jsonl.gz"
QUESTIONS = SHARED / "data" / "realtimeqa-2023" / "questions.jsonl"
SEED_QUESTION = (
    "What does the Korean government fear about Japan's right of collective self-defense?"
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(
    url: str, proc: subprocess.Popen[bytes] | None = None, limit: float = 120.0
) -> dict[str, Any]:
    """The ``/api/health`` body once the server at ``url`` answers; fails if ``proc`` exits."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode}")
        try:
            r = httpx.get(f"{url}/api/health", timeout=2)
            if r.status_code == 200:
                return dict(r.json())
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"server at {url} not healthy after {limit:.0f} s")


@contextmanager
def running_server(
    index: Path,
    bootstrap: list[str] | None = None,
    limit: float = 300.0,
    env: dict[str, str] | None = None,
    log_path: Path | None = None,
    serve_args: Sequence[str] = (),
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``newsqa serve`` on a free 127.0.0.1 port: yields (process, base URL) once healthy.

    ``bootstrap`` paths are ingested first when the index is empty; ``env`` replaces the
    environment (default: this one, offline, without an API key). The server's output goes to
    ``log_path`` (a temporary file by default) and is shown if it fails to start; ``serve_args``
    are added to the command (``--workers 2``). The server is
    stopped (killed if need be) on exit unless the block already ended it.
    """
    port = free_port()
    if env is None:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        env.pop("NEWSQA_API_KEY", None)
    cmd = newsqa_command(index, "serve", "--host", "127.0.0.1", "--port", str(port), *serve_args)
    for path in bootstrap or []:
        cmd += ["--bootstrap", path]
    with tempfile.TemporaryDirectory(prefix="newsqa-server-") as tmp:
        log_file = log_path or Path(tmp) / "server.log"
        with log_file.open("wb") as log:
            proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            try:
                wait_healthy(url, proc, limit)
            except RuntimeError as e:
                tail = log_file.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{e}\n{tail}") from None
            yield proc, url
        finally:
            stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """End a child process: terminate, then kill if it is still there after 20 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def local_server(
    index: Path, bootstrap: list[str], limit: float = 300.0, env: dict[str, str] | None = None
) -> Iterator[str]:
    """``newsqa serve`` on a free 127.0.0.1 port for the duration of the block (its URL).

    ``bootstrap`` paths are ingested first when the index is empty; the server runs without an
    API key and is stopped (killed if need be) on exit. Its log is shown if it fails to start.
    """
    with running_server(index, bootstrap, limit, env) as (_, url):
        yield url


def newsqa_command(index: Path, *args: str) -> list[str]:
    """The ``newsqa`` command line for ``index`` (run with this interpreter)."""
    return [sys.executable, "-m", "newsqa.cli", "--index", str(index), *args]


def hash_env(**settings: str) -> dict[str, str]:
    """The environment for a subprocess that uses the hash embedder (no model load)."""
    env = {**os.environ, "NEWSQA_EMBEDDER": "hash", "HF_HUB_OFFLINE": "1"}
    env.pop("NEWSQA_API_KEY", None)
    env.update({f"NEWSQA_{k.upper()}": v for k, v in settings.items()})
    return env


_VOCAB = [f"{a}{b}" for a in ("ka", "lo", "mi", "nu", "pe", "ra", "si", "to", "vu", "ze")
          for b in ("ban", "cor", "dil", "fen", "gor", "hul", "jas", "kin", "lom", "mar",
                    "nor", "pol", "ris", "sun", "tav", "vel", "wex", "yor", "zan", "bex")]


def synthetic_articles(n: int, start: int = 0, words: int = 320, seed: int = 0) -> list[dict]:
    """``n`` distinct made-up articles (JSON records) of a few chunks each, numbered from
    ``start``; the same arguments give the same articles."""
    out = []
    for i in range(start, start + n):
        rng = random.Random(seed * 1_000_003 + i)
        sentences = []
        for _ in range(words // 16):
            sentences.append(" ".join(rng.choice(_VOCAB) for _ in range(15)).capitalize() + ".")
        out.append({
            "url": f"https://drill{seed}.example.com/{i}",
            "title": f"Drill story {i}",
            "text": f"Drill story number {i}. " + " ".join(sentences),
            "source": f"outlet{i % 5}.example.com",
            "published_at": f"2023-{1 + i % 12:02d}-{1 + i % 28:02d}",
        })
    return out


def write_jsonl(path: Path, records: list[dict]) -> Path:
    """Write records one JSON object a line."""
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def index_counts(index: Path) -> tuple[int, int, int]:
    """(articles, chunks, lexical rows) of the index at ``index``, read directly from SQLite."""
    if not (index / "news.sqlite").exists():
        return (0, 0, 0)
    db = sqlite3.connect(index / "news.sqlite")
    try:
        return (
            db.execute("SELECT count(*) FROM articles").fetchone()[0],
            db.execute("SELECT count(*) FROM chunks").fetchone()[0],
            db.execute("SELECT count(*) FROM chunks_fts").fetchone()[0],
        )
    except sqlite3.OperationalError:  # created a moment ago: tables not there yet
        return (0, 0, 0)
    finally:
        db.close()


def file_states(index: Path, names: tuple[str, ...] = ("vectors.faiss", "vectors.gen")) -> dict:
    """(size, mtime in ns) of the named index files, None for a missing one."""
    out: dict[str, tuple[int, int] | None] = {}
    for name in names:
        try:
            st = (index / name).stat()
            out[name] = (st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            out[name] = None
    return out


def open_service(index_dir: Path, **settings: Any) -> NewsQA:
    """A real service (real model, SQLite, FAISS) on a fresh index directory."""
    return NewsQA.open(get_settings(index=str(index_dir), **settings))


def article(title: str, text: str, **kw: Any) -> Article:
    """An Article with an origin, for ingest_records."""
    return Article(title=title, text=text, origin=kw.pop("origin", "test"), **kw)


def archive_articles(limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Articles of the shared RealTime QA archive, in file order."""
    with gzip.open(ARCHIVE, "rt", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if limit is not None and i >= limit:
                return
            yield json.loads(line)


def as_article(d: dict[str, Any]) -> Article:
    """An archive record as an Article."""
    return Article(
        title=d["title"],
        text=d["text"],
        url=d["url"],
        source=d["source"],
        published_at=d["published_at"],
        authors=d.get("authors") or [],
        id=d["id"],
        origin=f"archive:{d['id']}",
    )


# Small hand-written articles with known dates, outlets and facts.
NEWS = [
    article(
        "Bills safety Damar Hamlin collapses during Monday Night Football",
        "Buffalo Bills safety Damar Hamlin collapsed on the field in Cincinnati after a tackle. "
        "Medical staff performed CPR before he was taken to the University of Cincinnati "
        "Medical Center, where he was listed in critical condition.",
        url="https://sports.example.com/2023/01/03/hamlin",
        source="sports.example.com",
        published_at="2023-01-03",
    ),
    article(
        "Central bank raises interest rates by a quarter point",
        "The central bank raised its benchmark interest rate by 0.25 percentage points on "
        "Wednesday, its eighth increase in a year, as inflation cooled to 6.4 percent.",
        url="https://money.example.com/2023/02/01/rates",
        source="money.example.com",
        published_at="2023-02-01",
    ),
    article(
        "Volcano erupts on remote island, forcing evacuations",
        "A volcano on the remote island of Tolva erupted on Friday, sending ash eight kilometres "
        "into the sky. Authorities evacuated 3,000 residents from villages on its slopes.",
        url="https://world.example.com/2023/03/10/volcano",
        source="world.example.com",
        published_at="2023-03-10",
    ),
]
