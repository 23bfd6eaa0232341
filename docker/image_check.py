"""Build newsqa's container image with docker or podman (whichever runs here) and check it.

``make image-check`` runs this. It prints one line per step and a JSON summary at the end, and
exits 0 when every check passed, 1 when one failed, and 0 with a plain ``SKIP:`` line when no
container engine can run on this machine or no base image can be had (``--require`` makes that
exit 2).

What it measures and checks, in order:
  1. the base image: ``--base`` if given, else ``python:3.11-slim`` where it can be pulled, else
     one made here from Debian with mmdebstrap (no registry of base images needed);
  2. the build (seconds) and the runtime image's size; that it holds no torch, transformers,
     sentence-transformers, scipy, scikit-learn or sympy;
  3. a source-only change (one comment line in ``src/newsqa/cli/__init__.py`` of a copy of the
     context) rebuilt: its seconds;
  4. a container on a loopback port with a named volume at /data: health (and the image's own
     HEALTHCHECK command, which follows ``NEWSQA_API__PORT``), the seed question answered with a
     citation, an upload (with the API key) that is then searchable;
  5. the container removed and a new one started on the same volume: the upload is still there;
  6. the reader the package ships loads in the image and, with ``NEWSQA_READER__MODE=on``,
     answers the seed question from the bundled index with a citation;
  7. an empty root-owned directory bind-mounted at /data: the server exits with status 6 and a
     message that says what to do, not a traceback;
  8. the image's own command (``serve --host 0.0.0.0``) without a key, in a container with no
     network (nothing is exposed): its log says writes are refused, and a keyless DELETE from
     inside the container gets 403.

The machine's own pip configuration (``pip config list``: certificate bundle, local wheel folders,
extra indexes, constraints) is written into a pip.conf mounted into the build, with the local
folders it names mounted read-only at the same paths, so that the build installs from what this
machine may reach. Containers run with ``--network host`` and listen on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
IMAGE = "localhost/newsqa:check"
DEBIAN_BASE = "localhost/newsqa-base:bookworm-2"  # -N: bumped when the recipe changes
SEED_Q = "What does the Korean government fear about Japan's right of collective self-defense?"
KEY = "image-check-key"
HEAVY = ("torch", "transformers", "sentence_transformers", "scipy", "sklearn", "sympy")
CONTEXT = ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md", "constraints.txt",
           "docker", "src", "corpus")
UPLOAD = """Harbour town opens a floating library

PORT ELLISON, 3 March 2026 - The harbour town of Port Ellison opened a floating library on a
converted ferry on Tuesday. The library, named the Wavereader, holds 4,000 books and will moor at
a different pier each week, the town council said.
"""


def log(msg: str) -> None:
    """One progress line."""
    print(f"[image-check] {msg}", flush=True)


def run(cmd: list[str], timeout: float = 1800, check: bool = True,
        **kw: Any) -> subprocess.CompletedProcess[str]:
    """Run ``cmd``, capturing its output (shown when it fails and ``check`` is set)."""
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        sys.stderr.write(p.stdout[-4000:] + p.stderr[-8000:])
        raise SystemExit(f"[image-check] failed ({p.returncode}): {' '.join(cmd)}")
    return p


class Engine:
    """docker or podman, with the flags this machine needs for ``run`` and ``build``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.run_flags: list[str] = []
        if name == "podman":
            self.run_flags = ["--runtime", "runc", "--ulimit", "nofile=1024:1024",
                              "--ulimit", "nproc=1024:1024"]

    def __call__(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return run([self.name, *args], **kw)

    def build_flags(self) -> list[str]:
        flags = ["--network", "host"]
        if self.name == "podman":
            # HEALTHCHECK is kept only in the docker image format.
            flags += ["--format", "docker", *self.run_flags]
        return flags


def find_engine() -> tuple[Engine | None, str]:
    """The first engine that can run a container here, or None and why none can."""
    why = []
    for name in ("docker", "podman"):
        if not shutil.which(name):
            why.append(f"{name}: not installed")
            continue
        p = run([name, "info"], timeout=60, check=False)
        if p.returncode != 0:
            why.append(f"{name}: `{name} info` failed: "
                       f"{(p.stderr or p.stdout).strip().splitlines()[-1:]}")
            continue
        return Engine(name), ""
    return None, "; ".join(why)


def pip_config() -> tuple[str, list[str]]:
    """This machine's pip configuration as one pip.conf, and the local paths it names."""
    p = run([sys.executable, "-m", "pip", "config", "list"], check=False)
    lines, paths = ["[global]"], []
    seen: set[str] = set()
    for line in p.stdout.splitlines():
        m = re.match(r"^(?:global|install|:env:)\.([\w-]+)='(.*)'$", line.strip())
        if not m or m.group(1) in seen:
            continue
        key, value = m.groups()
        seen.add(key)
        lines.append(f"{key} = {value}")
        for token in value.split():
            local = token.removeprefix("file://")
            if local.startswith("/") and Path(local).exists():
                # a file:// index's pages link to files beside its simple/ folder
                paths.append(local.rstrip("/").removesuffix("/simple") or local)
    return "\n".join(lines) + "\n", paths


def mounts_for(paths: list[str], conf: Path) -> list[str]:
    """``-v`` flags: the pip.conf, and each local path (its folder for a file) read-only."""
    flags = ["-v", f"{conf}:/etc/pip.conf:ro"]
    done: set[str] = set()
    for p in paths:
        target = p if Path(p).is_dir() else str(Path(p).parent)
        if target not in done and not any(target.startswith(d + "/") for d in done):
            done.add(target)
            flags += ["-v", f"{target}:{target}:ro"]
    return flags


def ensure_base(engine: Engine, base: str | None) -> tuple[str | None, str]:
    """The base image to build on (see the module docstring), or None and why none can be had
    here (no registry reachable and no mmdebstrap: this machine cannot build, the image is not
    at fault)."""
    if base:
        return base, ""
    if engine("image", "exists" if engine.name == "podman" else "inspect", DEBIAN_BASE,
              check=False).returncode == 0:
        log(f"base: {DEBIAN_BASE} (made earlier with mmdebstrap)")
        return DEBIAN_BASE, ""
    if engine("pull", "python:3.11-slim", timeout=300, check=False).returncode == 0:
        log("base: python:3.11-slim (pulled)")
        return "python:3.11-slim", ""
    if not shutil.which("mmdebstrap"):
        return None, ("python:3.11-slim cannot be pulled and mmdebstrap is not installed "
                      "(apt-get install mmdebstrap)")
    log("base: python:3.11-slim cannot be pulled; making one from Debian bookworm (mmdebstrap)")
    t = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        tar = Path(tmp) / "base.tar"
        run(["mmdebstrap", "--variant=minbase", "--quiet",
             "--include=python3,python3-venv,ca-certificates,libgomp1,passwd",
             "--aptopt=Acquire::Retries \"3\"",
             # no manuals, docs or translations in a server image (~50 MB)
             *(f"--dpkgopt=path-exclude=/usr/share/{d}/*"
               for d in ("doc", "man", "info", "locale")),
             "--customize-hook=rm -rf \"$1\"/var/cache/apt/* \"$1\"/var/lib/apt/lists/*",
             "bookworm", str(tar)], timeout=1800)
        engine("import", "--change", "CMD [\"python3\"]", str(tar), DEBIAN_BASE)
    log(f"base: {DEBIAN_BASE} made in {time.monotonic() - t:.0f} s")
    return DEBIAN_BASE, ""


def copy_context(dest: Path, change: bool) -> None:
    """The files the Dockerfile reads, copied to ``dest`` (optionally with a source change)."""
    for name in CONTEXT:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns(
                "__pycache__", "*.pyc", "*.egg-info"))
        else:
            shutil.copy2(src, dest / name)
    if change:
        with (dest / "src/newsqa/cli/__init__.py").open("a") as f:
            f.write(f"# image-check source change {time.time()}\n")


def build(engine: Engine, base: str, context: Path, extra: list[str]) -> float:
    """Build the image from ``context``; the seconds it took."""
    t = time.monotonic()
    cmd = [engine.name, "build", *engine.build_flags(), *extra, "--build-arg", f"BASE={base}",
           "--build-arg", "TORCH_INDEX_URL=", "-t", IMAGE, str(context)]
    # the engine's own step lines are the progress of a build that takes minutes
    p = subprocess.run(cmd, stdout=sys.stdout, stderr=subprocess.STDOUT, timeout=3600)
    if p.returncode != 0:
        raise SystemExit(f"[image-check] build failed ({p.returncode}): {' '.join(cmd)}")
    return time.monotonic() - t


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(port: int, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
         timeout: float = 30) -> tuple[int, Any]:
    """One request to the container; the status and the decoded JSON (or text)."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read().decode()
            status = r.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read().decode(), exc.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


def start(engine: Engine, name: str, port: int, data: list[str]) -> None:
    """Start the image as container ``name`` on 127.0.0.1:``port`` with ``data`` mounts."""
    engine("rm", "-f", name, check=False)
    engine("run", "-d", "--name", name, *engine.run_flags, "--network", "host",
           "-e", f"NEWSQA_API__PORT={port}", "-e", f"NEWSQA_API__KEY={KEY}", *data, IMAGE,
           "serve", "--host", "127.0.0.1", "--bootstrap", "/app/corpus")


def wait_healthy(engine: Engine, name: str, port: int, limit: float = 120) -> float:
    """Seconds until /api/health answers 200 (fails after ``limit``)."""
    t = time.monotonic()
    while time.monotonic() - t < limit:
        try:
            if http(port, "/api/health", timeout=3)[0] == 200:
                return time.monotonic() - t
        except OSError:
            pass
        state = engine("inspect", "--format", "{{.State.Running}}", name, check=False)
        if state.stdout.strip() == "false":
            logs = engine("logs", name, check=False)
            raise SystemExit(f"[image-check] container exited:\n{logs.stdout}{logs.stderr}")
        time.sleep(0.5)
    raise SystemExit(f"[image-check] no health on port {port} after {limit:.0f} s")


def ask(port: int, question: str) -> dict[str, Any]:
    """The answer to ``question`` (fails unless 200)."""
    status, body = http(port, "/api/ask", json.dumps({"question": question}).encode(),
                        {"Content-Type": "application/json"})
    if status != 200:
        raise SystemExit(f"[image-check] /api/ask gave {status}: {body}")
    return dict(body)


def upload(port: int) -> dict[str, Any]:
    """POST one text file to /api/articles as multipart, with the API key."""
    boundary = "newsqa-image-check"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"floating-library.txt\"\r\nContent-Type: text/plain\r\n\r\n{UPLOAD}\r\n"
            f"--{boundary}--\r\n").encode()
    status, res = http(port, "/api/articles", body, {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Authorization": f"Bearer {KEY}", "Accept": "application/json"}, timeout=120)
    if status != 200:
        raise SystemExit(f"[image-check] upload gave {status}: {res}")
    return dict(res)


def check(results: dict[str, Any], name: str, ok: bool, detail: Any = "") -> None:
    """Record one check and print it."""
    results["checks"][name] = {"ok": bool(ok), "detail": detail}
    log(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")


def smoke(engine: Engine, results: dict[str, Any]) -> None:
    """Steps 4-8 of the module docstring."""
    volume, name = "newsqa-image-check", "newsqa-image-check"
    engine("volume", "rm", "-f", volume, check=False)
    port = free_port()
    try:
        start(engine, name, port, ["-v", f"{volume}:/data"])
        results["start_s"] = round(wait_healthy(engine, name, port), 2)
        health = engine("exec", name, "python", "/opt/newsqa-healthcheck.py", check=False)
        check(results, "healthcheck command on NEWSQA_API__PORT", health.returncode == 0,
              f"port {port}, exit {health.returncode}")
        body = ask(port, SEED_Q)
        quotes = " ".join(c.get("quote", "") for c in body.get("citations", []))
        check(results, "seed answer cited", "collective self-defense" in quotes
              and not body.get("abstained"), body.get("answer", "")[:100])
        added = upload(port)
        check(results, "upload added", added.get("added") == 1, {
            k: added.get(k) for k in ("added", "updated", "skipped", "chunks")})
        q = "What is the floating library in Port Ellison called?"
        after = ask(port, q)
        check(results, "upload answered", "Wavereader" in after.get("answer", ""),
              after.get("answer", "")[:100])
        engine("rm", "-f", name)
        port = free_port()
        start(engine, name, port, ["-v", f"{volume}:/data"])
        wait_healthy(engine, name, port)
        _, health_body = http(port, "/api/health")
        again = ask(port, q)
        check(results, "restart keeps the upload", "Wavereader" in again.get("answer", "")
              and health_body.get("articles") == 2, f"articles={health_body.get('articles')}")
    finally:
        engine("rm", "-f", name, check=False)
        engine("volume", "rm", "-f", volume, check=False)
    reader_on(engine, results)
    with tempfile.TemporaryDirectory() as bad:
        os.chmod(bad, 0o755)  # owned by this (root) user: uid 10001 cannot write it
        p = engine("run", "--rm", *engine.run_flags, "--network", "host",
                   "-e", f"NEWSQA_API__PORT={free_port()}", "-v", f"{bad}:/data", IMAGE,
                   check=False, timeout=120)
        out = (p.stdout + p.stderr).strip()
        check(results, "unwritable /data: exit 6, a message, no traceback",
              p.returncode == 6 and "cannot write the index" in out and "Traceback" not in out,
              f"exit {p.returncode}: {out[-300:]}")
    default_command(engine, results)


#: Run inside the container of the image's own command: a write without the key.
KEYLESS_DELETE = """
import urllib.error, urllib.request
req = urllib.request.Request("http://127.0.0.1:8000/api/articles/x", method="DELETE")
try:
    print(urllib.request.urlopen(req, timeout=10).status)
except urllib.error.HTTPError as exc:
    print(exc.code)
"""


def default_command(engine: Engine, results: dict[str, Any]) -> None:
    """Step 8: the image's own command on 0.0.0.0 without a key refuses writes and says so."""
    name = "newsqa-image-check-default"
    engine("rm", "-f", "-v", name, check=False)
    try:
        engine("run", "-d", "--name", name, *engine.run_flags, "--network", "none", IMAGE)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and engine(
            "exec", name, "python", "/opt/newsqa-healthcheck.py", check=False
        ).returncode != 0:
            time.sleep(1)
        status = engine("exec", name, "python", "-c", KEYLESS_DELETE, check=False).stdout.strip()
        logs = engine("logs", name, check=False)
        said = "WRITES ARE REFUSED" in logs.stdout + logs.stderr
        check(results, "image's own command without a key: writes refused (403) and logged",
              status == "403" and said, f"keyless DELETE {status or 'no answer'}, logged {said}")
    finally:
        engine("rm", "-f", "-v", name, check=False)


#: Run inside the image: the shipped reader answers the seed question from the bundled index.
READER_ON = """
import json
from newsqa.reader.runtime import load_reader, shipped
from newsqa.records import AnswerRequest
from newsqa.service import NewsQA
from newsqa.settings import get_settings
svc = NewsQA.open(get_settings(index__path="/data/index", reader__mode="on"))
res = svc.answer(AnswerRequest(%r)).to_dict()
print(json.dumps({"shipped": shipped(), "kind": load_reader().info.kind if shipped() else None,
                  "abstained": res["abstained"],
                  "quotes": " ".join(c.get("quote", "") for c in res["citations"])}))
"""


def reader_on(engine: Engine, results: dict[str, Any]) -> None:
    """The reader the package ships loads in the image (no torch) and answers with it on."""
    p = engine("run", "--rm", *engine.run_flags, "--entrypoint", "python", IMAGE, "-c",
               READER_ON % SEED_Q, check=False, timeout=300)
    try:
        got = json.loads(p.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        got = {"error": (p.stdout + p.stderr)[-300:]}
    check(results, "shipped reader answers the seed question (NEWSQA_READER__MODE=on)",
          got.get("shipped") is True and not got.get("abstained")
          and "collective self-defense" in got.get("quotes", ""),
          {k: v for k, v in got.items() if k != "quotes"})


def main(argv: list[str] | None = None) -> int:
    """Build and check the image; see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", help="base image (default: see the module docstring)")
    ap.add_argument("--build-only", action="store_true", help="build the image, check nothing")
    ap.add_argument("--require", action="store_true", help="exit 2 when no engine runs here")
    ap.add_argument("--json", type=Path, help="also write the summary to this file")
    args = ap.parse_args(argv)
    engine, why = find_engine()
    if engine is None:
        print(f"SKIP: no container engine can run here ({why})", flush=True)
        return 2 if args.require else 0
    log(f"engine: {engine.name}")
    results: dict[str, Any] = {"engine": engine.name, "checks": {}}
    base, why = ensure_base(engine, args.base)
    if base is None:
        print(f"SKIP: no base image can be had here ({why})", flush=True)
        return 2 if args.require else 0
    results["base"] = base
    conf_text, paths = pip_config()
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "pip.conf"
        conf.write_text(conf_text)
        extra = mounts_for(paths, conf)
        ctx = Path(tmp) / "context"
        ctx.mkdir()
        copy_context(ctx, change=False)
        results["build_s"] = round(build(engine, base, ctx, extra), 1)
        log(f"built in {results['build_s']} s")
        size = engine("image", "inspect", "--format", "{{.Size}}", IMAGE).stdout.strip()
        results["image_mb"] = round(int(size) / 1e6, 1)
        log(f"image size {results['image_mb']} MB")
        if args.build_only:
            print(json.dumps(results, indent=2))
            return 0
        ctx2 = Path(tmp) / "context2"
        ctx2.mkdir()
        copy_context(ctx2, change=True)
        results["rebuild_source_change_s"] = round(build(engine, base, ctx2, extra), 1)
        log(f"source-only change rebuilt in {results['rebuild_source_change_s']} s")
    check(results, "runtime image <= 700 MB", results["image_mb"] <= 700, results["image_mb"])
    probe = ("import importlib.util as u; "
             f"print(','.join(m for m in {HEAVY!r} if u.find_spec(m)))")
    heavy = engine("run", "--rm", *engine.run_flags, "--entrypoint", "python", IMAGE,
                   "-c", probe).stdout.strip()
    check(results, "no torch/transformers/scipy/sklearn/sympy", heavy == "", heavy or "none")
    smoke(engine, results)
    results["ok"] = all(c["ok"] for c in results["checks"].values())
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0 if results["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
