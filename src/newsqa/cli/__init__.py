"""Command line: ``newsqa ingest|ask|search|stats|delete|sentences|serve|follow|migrate|feeds|
train-reader|eval``. One module per command family parses its options and formats what it
prints (:mod:`~newsqa.cli.ingest`, :mod:`~newsqa.cli.ask`, :mod:`~newsqa.cli.index`,
:mod:`~newsqa.cli.serve`, :mod:`~newsqa.cli.feeds`, :mod:`~newsqa.cli.migrate`,
:mod:`~newsqa.cli.train_reader`, :mod:`~newsqa.cli.eval`); this module builds the one parser,
opens the :class:`~newsqa.service.NewsQA` service the command needs and maps its failures to
the exit statuses of :mod:`~newsqa.cli.exits`."""

from __future__ import annotations

import argparse
import errno
import logging
import shutil
import sys
from collections.abc import Callable, Sequence
from typing import Any

from newsqa import __version__
from newsqa.cli import ask, eval, feeds, index, ingest, migrate, serve, train_reader, watch
from newsqa.cli.exits import (
    EXIT_BUSY,
    EXIT_HELP,
    EXIT_INDEX,
    EXIT_INTERRUPTED,
    EXIT_NOT_FOUND,
    EXIT_PORT,
    EXIT_SKIPPED,
    EXIT_STORAGE,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    INDEX_ERRORS,
    index_problem,
)
from newsqa.cli.ingest import discard_if_empty, print_interrupted
from newsqa.cli.output import unwritable
from newsqa.cli.serve import port_problem
from newsqa.settings import get_settings

__all__ = [
    "EXIT_BUSY", "EXIT_INDEX", "EXIT_INTERRUPTED", "EXIT_NOT_FOUND", "EXIT_PORT", "EXIT_SKIPPED",
    "EXIT_STORAGE", "EXIT_UNAVAILABLE", "EXIT_USAGE", "build_parser", "main",
]

#: What each command that opens the service runs with it.
RUN_WITH_SERVICE: dict[str, Callable[[argparse.Namespace, Any], int]] = {
    "ingest": ingest.run_ingest,
    "ask": ask.run_ask,
    "search": ask.run_search,
    "stats": index.run_stats,
    "delete": index.run_delete,
    "sentences": ingest.run_sentences,
    "serve": serve.run,
    "follow": feeds.run_follow,
    "eval": eval.run,
    "watch": watch.run,
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used to render --help)."""
    parser = argparse.ArgumentParser(
        prog="newsqa",
        description="Question answering over a news archive, with cited passages.",
        epilog=EXIT_HELP,
    )
    parser.add_argument("--version", action="version", version=f"newsqa {__version__}")
    index_help = "index directory (env NEWSQA_INDEX__PATH, default indexes/default)"
    parser.add_argument("--index", default=None, help=index_help)
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    # --index is accepted before or after the command; the later one wins.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--index", default=argparse.SUPPRESS, help=index_help)
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="log more")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ingest.add_ingest(sub, common)
    ask.add_parsers(sub, common)
    index.add_stats(sub, common)
    index.add_delete(sub, common)
    ingest.add_sentences(sub, common)
    serve.add_parser(sub, common)
    feeds.add_follow(sub, common)
    migrate.add_parser(sub, common)
    feeds.add_feeds(sub, common)
    train_reader.add_parser(sub)
    eval.add_parser(sub, common)
    watch.add_parser(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``newsqa`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.command == "train-reader":  # archives of its own: no index of the settings
        return train_reader.run(args)
    settings = get_settings(**({"index__path": args.index} if args.index else {}))
    from newsqa.logs import setup

    setup(logging.INFO if args.verbose else logging.WARNING, settings.log.format)
    if args.command == "feeds":  # the feed list only: no model, no index opened
        return feeds.run_feeds(args, settings.index.path, settings.feeds.interval)
    if args.command == "migrate":  # reads the SQLite index itself
        return migrate.run(args, settings)
    if args.command == "ask" and not args.question.strip():  # the API's rule, before any load
        print("error: the question is empty: ask something", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "serve" and args.follow is not None and args.workers > 1:
        print("error: serve --follow polls in the serving process: use --workers 1, or run "
              "`newsqa follow` beside the server", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "serve":  # before any model or index is loaded
        args.port = settings.api.port if args.port is None else args.port
        if problem := port_problem(args.host, args.port):
            print(f"error: {problem}", file=sys.stderr)
            return EXIT_PORT
    from newsqa.index.errors import IndexBusyError
    from newsqa.service import NewsQA, RequestError

    args.argv, fresh = argv, args.command == "ingest" and not settings.index.path.exists()
    try:
        service = NewsQA.open(settings, create=args.command in ("ingest", "serve", "follow"))
    except KeyboardInterrupt:
        if args.command != "ingest":
            raise
        print_interrupted(0, 0, settings.index.path, argv)
        if fresh:
            shutil.rmtree(settings.index.path, ignore_errors=True)
        return EXIT_INTERRUPTED
    except INDEX_ERRORS as exc:
        return index_problem(exc)
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        print(f"error: {unwritable(settings.index.path, exc)}", file=sys.stderr)
        return EXIT_STORAGE

    try:
        return RUN_WITH_SERVICE[args.command](args, service)
    except BrokenPipeError:  # output piped into `head` and the like
        return 0
    except IndexBusyError as exc:
        return index_problem(exc)
    except RequestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        if fresh:  # a first ingest that wrote nothing leaves no empty index behind
            discard_if_empty(service, settings.index.path)
        else:
            service.close()
