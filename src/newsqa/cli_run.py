"""The exit statuses of every command (one table, printed by ``newsqa --help``), and the edges
of the ingest and serve commands: the port check that ``serve`` makes before it loads anything,
``ingest``'s summary and its one line when interrupted, and the removal of an index directory
that a first ingest created and wrote nothing to."""

from __future__ import annotations

import errno
import json
import shlex
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

from newsqa.cli_output import print_problems, progress_bar

EXIT_NOT_FOUND = 1  # delete: no such article
EXIT_INDEX = 2  # the index is missing or was built with another model or format
EXIT_SKIPPED = 3  # ingest: some inputs were reported and skipped
EXIT_BUSY = 4  # another ingest or delete is writing to the index; try again when it ends
EXIT_USAGE = 5  # the request cannot be served as asked (e.g. --generate without a model)
EXIT_STORAGE = 6  # the index directory cannot be created or written (permissions, read-only disk)
EXIT_UNAVAILABLE = 7  # the catalogue's server (NEWSQA_INDEX__CATALOG_URL) cannot be reached
EXIT_PORT = 8  # serve: the port is taken (or may not be listened on) at that host
EXIT_INTERRUPTED = 130  # interrupted (Ctrl-C); ingest says what it saved, as the shell's 128+2

EXIT_HELP = (
    "exit status: 0 ok; 1 delete (feeds --remove) found no such article (feed); 2 the index "
    "is missing or was built "
    "with another model or format; 3 ingest skipped some inputs (each is reported); 4 the index "
    "is busy: another ingest or delete is writing to it (try again when it ends); 5 the request "
    "cannot be served as asked (--generate without NEWSQA_GENERATOR__URL, a bad feed URL); "
    "6 the index directory cannot be created or written (its owner or a read-only disk); "
    "7 the catalogue's PostgreSQL server cannot be reached; 8 serve cannot listen on the port "
    "(another program uses it: pick another with --port); 130 interrupted (Ctrl-C: ingest says "
    "what was saved, and running it again goes on); "
    "follow --once exits 3 when a feed or an item was reported"
)


def port_problem(host: str, port: int) -> str | None:
    """Why ``serve`` could not listen on ``host``:``port`` (one line), or None when it can.

    A listening socket is bound for a moment, with ``SO_REUSEADDR`` as uvicorn binds, so a
    port held only by closed connections (TIME_WAIT) is not mistaken for a taken one."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        return f"cannot listen on {host}: no such host or address ({exc}); see --host"
    family, kind, proto, _, address = infos[0]
    try:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
            probe.listen(1)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return (f"port {port} is already in use on {host} (another program, or another "
                    f"newsqa serve, listens there): pick another with --port, e.g. --port "
                    f"{port + 1}")
        if exc.errno in (errno.EACCES, errno.EPERM):
            return (f"port {port} may not be listened on by this user (ports below 1024 need "
                    f"privileges): pick another with --port, e.g. --port 8000")
        return f"cannot listen on {host} port {port}: {exc.strerror or exc}; see --host and --port"
    return None


def run_ingest(args: Any, service: Any) -> int:
    """``newsqa ingest``: ingest ``args.paths``, print the problems and a summary; 3 when any
    input was skipped. Ctrl-C prints one line (what was saved, what to run to go on) and
    returns 130."""
    from newsqa.ingest.pipeline import IngestInterrupted

    try:
        report = service.ingest(
            args.paths, progress_bar(not args.no_progress and not args.json),
            ray=args.ray, ray_workers=args.ray_workers, include_all=args.include_all,
        )
    except KeyboardInterrupt as stop:  # before the first article too (loading the model)
        done = stop.report if isinstance(stop, IngestInterrupted) else None
        print_interrupted(done.saved if done else 0, done.unchanged if done else 0,
                          service.index.path, getattr(args, "argv", None))
        return EXIT_INTERRUPTED
    d = report.to_dict()
    if args.json:
        d.pop("items")
        d["not_read"] = report.not_read
        print(json.dumps(d, indent=2))
    else:
        print_problems(d)
        print_not_read(report.not_read, report.not_read_listed, args.verbose)
        warned = f", {d['warnings']} with warnings" if d["warnings"] else ""
        print(
            f"{d['added']} added, {d['updated']} updated, {d['unchanged']} unchanged, "
            f"{d['skipped']} skipped{warned}; {d['chunks']} chunks in {d['seconds']:.1f}s "
            f"-> {service.index.path}"
        )
    return EXIT_SKIPPED if report.skipped else 0


def print_not_read(counts: dict[str, int], listed: list[Any], verbose: bool) -> None:
    """What the walk of a folder passed over, on stderr: one line counting each kind and, with
    ``verbose``, one line per file or folder."""
    if not counts:
        return
    if verbose:
        for item in listed:
            print(f"not read {item.path}: {item.reason}", file=sys.stderr)
    kinds = ", ".join(f"{n:,} {_kind(k, n)}" for k, n in sorted(counts.items(),
                                                                key=lambda kv: -kv[1]))
    hints = [] if verbose else ["-v lists them"]
    if "not news" in counts:
        hints.append("--include-all indexes the text files that are not news")
    hint = f" ({'; '.join(hints)})" if hints else ""
    print(f"not read in folders: {kinds}{hint}", file=sys.stderr)


def _kind(kind: str, n: int) -> str:
    if kind.startswith("."):
        return f"{kind} file" + ("s" if n != 1 else "")
    if kind == "no extension":
        return "file" + ("s" if n != 1 else "") + " without an extension"
    if kind == "not news":
        return "text file" + ("s" if n != 1 else "") + " not news"
    return kind + ("s" if n != 1 else "")


def print_interrupted(saved: int, unchanged: int, index: Path, argv: list[str] | None) -> None:
    """The one line an interrupted ingest prints on stderr: what it saved, what to run next."""
    again = "newsqa " + shlex.join(argv) if argv else "the same newsqa ingest command"
    kept = f" ({unchanged:,} were already there)" if unchanged else ""
    print(f"\ninterrupted: {saved:,} articles saved to {index} in this run{kept}; run "
          f"`{again}` again to go on (articles already saved are skipped)", file=sys.stderr)


def discard_if_empty(service: Any, path: Path) -> bool:
    """Remove the index directory ``path`` that this run created when nothing was written to
    it (a failed or interrupted first ingest); the service is closed first. True if removed."""
    try:
        empty = service.settings.index.catalog_url is None and service.stats()["articles"] == 0
    except Exception:  # noqa: BLE001 - whatever broke the run, an unreadable index is kept
        empty = False
    service.close()
    if empty:
        shutil.rmtree(path, ignore_errors=True)
    return empty
