"""``newsqa serve``: its options, the port check it makes before it loads anything, and the web
chat and HTTP API it runs (with the feed follower in the same process under ``--follow``)."""

from __future__ import annotations

import argparse
import errno
import logging
import socket
import sys
from typing import Any

from newsqa.cli.exits import EXIT_USAGE
from newsqa.cli.output import print_problems, progress_bar


def _workers(value: str) -> int:
    n = int(value)
    if not 1 <= n <= 64:
        raise argparse.ArgumentTypeError("--workers must be between 1 and 64")
    return n


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """``serve``."""
    p = sub.add_parser("serve", parents=[common], help="serve the web chat and HTTP API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument(
        "--port", type=int, default=None,
        help="port to listen on (default: NEWSQA_API__PORT, else 8000)",
    )
    p.add_argument(
        "--workers", type=_workers, default=1, metavar="N",
        help="serving processes sharing the port, each with the index open and its share of the "
        "cores (default 1; on 2 cores, 2 answered 1.1-1.4x as many concurrent clients for 2.6x the "
        "memory: docs/benchmarks.md)",
    )
    p.add_argument(
        "--bootstrap",
        metavar="PATH",
        action="append",
        help="if the index is empty, ingest PATH first (e.g. corpus/)",
    )
    p.add_argument(
        "--follow", nargs="*", metavar="URL", default=None,
        help="also poll the followed feeds in this process while serving (adding the URLs "
        "given, if any), as `newsqa follow` does; with --workers 1 only",
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


def run(args: argparse.Namespace, service: Any) -> int:
    """Serve until stopped, after the ``--bootstrap`` ingest into an empty index; with
    ``--follow``, poll the feeds in a thread meanwhile (5 for a bad feed URL)."""
    from newsqa.api.server import serve
    from newsqa.cli.ingest import print_not_read

    if args.bootstrap and service.stats()["articles"] == 0:
        logging.getLogger("newsqa").warning("index is empty: ingesting %s", args.bootstrap)
        boot = service.ingest(args.bootstrap, progress_bar(True))
        print_problems(boot.to_dict())
        print_not_read(boot.not_read, boot.not_read_listed, args.verbose)
    if args.follow is None:
        serve(service, args.host, args.port, args.workers)
        return 0
    from newsqa.cli.feeds import start_follower, stop_follower

    try:
        poller, thread = start_follower(service, args.follow)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        serve(service, args.host, args.port, args.workers)
    finally:
        stop_follower(poller, thread)
    return 0
