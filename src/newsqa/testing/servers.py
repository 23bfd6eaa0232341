"""``newsqa`` as a child process: its command line, its environment, and ``newsqa serve`` on a
free 127.0.0.1 port, waited for until healthy and stopped at the end; and a PostgreSQL server
of its own (Debian's ``initdb`` + ``pg_ctl`` in a temporary directory) for the catalogue."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from newsqa.testing.paths import REPO


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
        for name in ("NEWSQA_API__KEY", "NEWSQA_API_KEY"):
            env.pop(name, None)
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


def newsqa_command(index: Path, *args: str) -> list[str]:
    """The ``newsqa`` command line for ``index`` (run with this interpreter)."""
    return [sys.executable, "-m", "newsqa.cli", "--index", str(index), *args]


def hash_env(**settings: str) -> dict[str, str]:
    """The environment for a subprocess that uses the hash embedder (no model load)."""
    env = {**os.environ, "NEWSQA_EMBEDDING__EMBEDDER": "hash", "HF_HUB_OFFLINE": "1"}
    for name in ("NEWSQA_API__KEY", "NEWSQA_API_KEY"):
        env.pop(name, None)
    env.update({f"NEWSQA_{k.upper()}": v for k, v in settings.items()})
    return env


def postgres_bin() -> Path | None:
    """The directory of PostgreSQL's server programs (Debian's newest, else ``initdb`` on
    PATH); None when PostgreSQL is not installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


#: Server settings for tests: no fsync (a test's database is thrown away).
FAST_POSTGRES = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


@contextmanager
def postgres_server(settings: Mapping[str, str] = FAST_POSTGRES) -> Iterator[str]:
    """A PostgreSQL server of its own on a free 127.0.0.1 port for the duration of the block:
    yields the URL of its ``postgres`` database (user ``postgres``, no password). The cluster
    lives in a temporary directory, removed at the end; as root, the server runs as
    ``nobody`` (PostgreSQL refuses to run as root), which owns that directory. RuntimeError
    when PostgreSQL is not installed or does not start."""
    bindir = postgres_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    as_user: list[str] = []
    tmp = Path(tempfile.mkdtemp(prefix="newsqa-pg-"))
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "nobody", "--"] if shutil.which("runuser") else [
            "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        shutil.chown(tmp, "nobody")
    data, port = tmp / "data", free_port()
    options = " ".join(
        [f"-p {port}", "-c listen_addresses=127.0.0.1", f"-c unix_socket_directories={tmp}"]
        + [f"-c {k}={v}" for k, v in settings.items()]
    )
    try:
        made = subprocess.run(
            [*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
             "-E", "UTF8", "--locale=C", "--no-sync"],
            capture_output=True,
        )
        if made.returncode != 0:
            raise RuntimeError(f"initdb failed: {made.stderr.decode(errors='replace')[-2000:]}")
        started = subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l",
             str(tmp / "server.log"), "-w", "-t", "60", "start"],
            capture_output=True,
        )
        if started.returncode != 0:
            log = (tmp / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"PostgreSQL did not start: {started.stderr.decode()}\n{log}")
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast",
                            "-w", "stop"], capture_output=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def milvus_server(limit: float = 60.0) -> Iterator[str]:
    """milvus-lite's own gRPC server on a free 127.0.0.1 port, with its data in a temporary
    directory, for the duration of the block: yields its URI (``http://127.0.0.1:PORT``), which
    several processes can share as they would a Milvus server. RuntimeError when milvus-lite is
    not installed or does not start within ``limit`` seconds."""
    exe = Path(sys.executable).with_name("milvus-lite")
    if not exe.exists():
        raise RuntimeError("milvus-lite is not installed (pip install 'newsqa[milvus]')")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="newsqa-milvus-") as tmp:
        log = Path(tmp) / "server.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(exe), "server", "--data-dir", str(Path(tmp) / "data"), "--host",
                 "127.0.0.1", "--port", str(port)], stdout=out, stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + limit
            while b"listening" not in log.read_bytes():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"milvus-lite server did not start: {log.read_text()}")
                time.sleep(0.1)
            yield f"http://127.0.0.1:{port}"
        finally:
            stop(proc)
