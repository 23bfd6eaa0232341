"""Command line: ``newsqa ingest|ask|search|stats|delete|serve|eval|follow|feeds``. Each
command parses its arguments, calls the :class:`~newsqa.service.NewsQA` service (the feed
commands: :mod:`newsqa.feeds.commands`) and formats the result."""

from __future__ import annotations

import argparse
import errno
import json
import logging
import shutil
import sys
from collections.abc import Sequence
from datetime import date
from typing import Any

from newsqa import __version__
from newsqa.cli_output import (
    print_answer,
    print_passages,
    print_problems,
    progress_bar,
    unwritable,
)
from newsqa.cli_run import (
    EXIT_BUSY,
    EXIT_HELP,
    EXIT_INDEX,
    EXIT_INTERRUPTED,
    EXIT_NOT_FOUND,
    EXIT_PORT,
    EXIT_STORAGE,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    discard_if_empty,
    port_problem,
    print_interrupted,
    print_not_read,
    run_ingest,
)
from newsqa.models import Filters
from newsqa.settings import get_settings


def _iso(value: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from exc


def _k(value: str) -> int:
    k = int(value)
    if not 1 <= k <= 50:
        raise argparse.ArgumentTypeError("k must be between 1 and 50")
    return k


def _seconds(value: str) -> float:
    s = float(value)
    if not 1 <= s <= 7 * 86400:
        raise argparse.ArgumentTypeError("seconds must be between 1 and 604800 (a week)")
    return s


def _workers(value: str) -> int:
    n = int(value)
    if not 1 <= n <= 64:
        raise argparse.ArgumentTypeError("--workers must be between 1 and 64")
    return n


def _add_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--k", type=_k, default=None, help="passages to return (1-50, default 8)")
    p.add_argument("--since", type=_iso, help="only articles published on or after this date")
    p.add_argument("--until", type=_iso, help="only articles published on or before this date")
    p.add_argument(
        "--source",
        action="append",
        dest="sources",
        metavar="OUTLET",
        help="only this outlet (domain, e.g. cnn.com); repeat for several",
    )
    p.add_argument(
        "--as-of",
        type=_iso,
        dest="as_of",
        help="answer as of this date: later articles are ignored (default: today)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


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

    p = sub.add_parser(
        "ingest",
        parents=[common],
        help="add articles from files and folders to the index",
        description="Read .txt/.md (optional key: value header), .html, .json, .jsonl, "
        ".jsonl.gz and RSS/Atom (.xml/.rss/.atom) files, recursively for folders. Unreadable "
        "files or lines are reported and skipped; the exit status is 3 when any were skipped. "
        "In a folder, files of other types, hidden files and folders, and .txt/.md files that "
        "are not news are passed over and counted by kind on one line (-v lists them; the exit "
        "status is not changed): not news is a project document by name (README, LICENSE, "
        "CHANGELOG, ...) or a file without a date that has two or more Markdown headings or a "
        "code block. A file named explicitly is always read. Articles are saved every few "
        "seconds (NEWSQA_INGEST__COMMIT_SECONDS): after Ctrl-C (exit status 130) the same "
        "command goes on, skipping what was saved.",
    )
    p.add_argument("paths", nargs="+", help="files or folders")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--include-all", action="store_true",
                   help="also index a folder's .txt/.md files that are not news (README, ...)")
    p.add_argument(
        "--ray", metavar="auto|ADDRESS", default=None,
        help="embed with Ray Data: auto (the Ray cluster on this machine, or a local one) or a "
        "cluster address (ray://host:10001); needs pip install 'newsqa[scale]'",
    )
    p.add_argument("--ray-workers", type=int, default=None, metavar="N",
                   help="embedding worker actors (default: the cluster's CPUs)")

    p = sub.add_parser("ask", parents=[common], help="answer a question with cited sources")
    p.add_argument("question")
    p.add_argument(
        "--view",
        choices=["answer", "timeline", "outlets"],
        default="answer",
        help="answer: a few cited sentences; timeline: evidence by date; outlets: by outlet",
    )
    p.add_argument(
        "--generate", action="store_true",
        help="have the language model at NEWSQA_GENERATOR__URL write the answer; every "
        "sentence is checked against the passage it cites (unsupported ones are flagged)",
    )
    _add_filters(p)

    p = sub.add_parser("search", parents=[common], help="ranked passages for a query, no answer")
    p.add_argument("query")
    _add_filters(p)

    p = sub.add_parser("stats", parents=[common], help="what the index holds")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("delete", parents=[common], help="remove an article by id or URL")
    p.add_argument("article", metavar="ARTICLE_ID_OR_URL")

    p = sub.add_parser(
        "sentences", parents=[common],
        help="store sentence vectors for the chunks of an index made without them",
        description="Answers compare every sentence of their passages with the question using "
        "vectors stored at ingest. An index made before them (or with "
        "NEWSQA_EMBEDDING__SENTENCE_VECTORS=false) answers by embedding a shortlist per "
        "question; this "
        "adds the vectors, newest chunks first (about 35 minutes for a year of news, 94,290 "
        "chunks, on 2 cores). It can be stopped and run again: it goes on where it stopped.",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

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

    _add_feed_commands(sub, common)
    p = sub.add_parser(
        "train-reader", add_help=False, help="rebuild the reader model from question archives",
        description="Rebuild the reader (see `newsqa train-reader --help`); needs torch.",
    )
    p.add_argument("reader_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    p = sub.add_parser(
        "eval",
        parents=[common],
        help="retrieval and answer quality on a questions file",
        description="Reads questions in the RealTime QA format (question, answer, date, "
        "gold_urls) and reports Hit@1/5/10, MRR@10, article Hit@10, answer hit, citation hit, "
        "abstention rate and latency over the answerable questions.",
    )
    p.add_argument("questions", help="questions .jsonl file")
    p.add_argument("--k", type=_k, default=10)
    p.add_argument(
        "--as-of-question-date",
        action="store_true",
        help="ask each question as of its own date (later articles are ignored)",
    )
    p.add_argument("--limit", type=int, default=None, help="only the first N questions")
    p.add_argument("--id-prefix", action="append", help="only questions whose id starts so")
    p.add_argument("--out", help="write per-question rows and the summary to this JSON file")
    p.add_argument(
        "--generate", action="store_true",
        help="answer with the language model (NEWSQA_GENERATOR__URL) and report the shares of "
        "claims supported, flagged and dropped",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    return parser


def _add_feed_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "follow", parents=[common], help="poll RSS/Atom/JSON feeds into the index",
        description="Add the URLs given (and those in --file, one a line) to the index's "
        "followed feeds, then poll every followed feed whenever it is due, until interrupted "
        "(--once: poll each once and exit, for cron). Requests are conditional (ETag, "
        "Last-Modified), rate-limited per host and bounded in time, size and redirects "
        "(NEWSQA_FEEDS__* settings). New and changed items are ingested as `ingest` does "
        "(idempotent by URL, wire copies collapsed); an item without full text has its page "
        "fetched, where robots.txt allows, and its main text extracted. One line per poll on "
        "stderr. A stopped poll loses and repeats nothing: the next one goes on.",
    )
    p.add_argument("urls", nargs="*", metavar="URL", help="feed URLs to add (http or https)")
    p.add_argument("--file", action="append", metavar="F",
                   help="a file of feed URLs, one a line (# starts a comment line); repeatable")
    p.add_argument("--once", action="store_true", help="poll each followed feed once and exit")
    p.add_argument(
        "--interval", type=_seconds, metavar="S",
        help="seconds between polls of every feed in this run, also stored with the URLs given "
        "(default: each feed's own; NEWSQA_FEEDS__INTERVAL, 900, for one added without)",
    )
    p.add_argument("--json", action="store_true", help="with --once: the poll results as JSON")

    p = sub.add_parser(
        "migrate", parents=[common], help="copy this SQLite index into a PostgreSQL catalogue",
        description="Copy the index (articles, chunks, vectors) into the catalogue at --to and "
        "the search backend configured; verifies the counts; running it again is harmless.",
    )
    p.add_argument("--to", required=True, metavar="URL", help="postgresql://...?schema=NAME")
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    p = sub.add_parser(
        "feeds", parents=[common], help="list the followed feeds and their status",
        description="The index's followed feeds: last poll, outcome and error, items added "
        "and updated, and whether a follower (follow, serve --follow) is running.",
    )
    p.add_argument("--add", action="append", metavar="URL", help="follow this feed too")
    p.add_argument("--remove", action="append", metavar="URL_OR_ID",
                   help="stop following this feed (its articles stay)")
    p.add_argument("--interval", type=_seconds, metavar="S",
                   help="with --add: seconds between its polls")
    p.add_argument("--json", action="store_true", help="print JSON")


def _filters(args: argparse.Namespace) -> Filters:
    return Filters(since=args.since, until=args.until, sources=args.sources, as_of=args.as_of)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``newsqa`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train-reader"]:  # its own parser: --help lists the training options
        from newsqa.reader.command import main as train_reader

        return train_reader(argv[1:])
    args = build_parser().parse_args(argv)
    settings = get_settings(**({"index__path": args.index} if args.index else {}))
    from newsqa.logs import setup

    setup(logging.INFO if args.verbose else logging.WARNING, settings.log.format)
    if args.command == "feeds":  # the feed list only: no model, no index opened
        from newsqa.feeds.commands import run_feeds

        return run_feeds(args, settings.index.path, settings.feeds.interval)
    if args.command == "migrate":  # reads the SQLite index itself
        from newsqa.cli_output import run_migrate

        return run_migrate(args, settings)
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
    from newsqa.index.errors import CatalogueUnavailableError
    from newsqa.index.store import IndexBusyError, IndexMismatchError
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
    except (IndexMismatchError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INDEX
    except CatalogueUnavailableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except IndexBusyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BUSY
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        print(f"error: {unwritable(settings.index.path, exc)}", file=sys.stderr)
        return EXIT_STORAGE

    try:
        return _run(args, service)
    except BrokenPipeError:  # output piped into `head` and the like
        return 0
    except IndexBusyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BUSY
    except RequestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        if fresh:  # a first ingest that wrote nothing leaves no empty index behind
            discard_if_empty(service, settings.index.path)
        else:
            service.close()


def _run(args: argparse.Namespace, service: Any) -> int:
    if args.command == "ingest":
        return run_ingest(args, service)
    if args.command == "ask":
        mode = "generate" if args.generate else "extractive"
        res = service.ask(args.question, k=args.k, filters=_filters(args), view=args.view,
                          mode=mode)
        print(json.dumps(res, indent=2, ensure_ascii=False)) if args.json else print_answer(res)
        return 0
    if args.command == "search":
        passages = [p.to_dict() for p in service.search(args.query, args.k, _filters(args))]
        if args.json:
            print(json.dumps({"passages": passages}, indent=2, ensure_ascii=False))
        else:
            print_passages(passages)
        return 0
    if args.command == "stats":
        st = service.stats()
        if args.json:
            print(json.dumps(st, indent=2))
        else:
            for key in ("index", "articles", "stories", "chunks", "sources", "earliest", "latest"):
                print(f"{key:>9}: {st[key]}")
            print(f"{'model':>9}: {st['manifest']['model']}")
        return 0
    if args.command == "delete":
        if service.delete(args.article):
            print(f"deleted {args.article}")
            return 0
        print(f"error: no article {args.article!r}", file=sys.stderr)
        return EXIT_NOT_FOUND
    if args.command == "sentences":
        return _add_sentence_vectors(service, not args.no_progress)
    if args.command == "serve":
        from newsqa.api.app import serve

        if args.bootstrap and service.stats()["articles"] == 0:
            logging.getLogger("newsqa").warning("index is empty: ingesting %s", args.bootstrap)
            boot = service.ingest(args.bootstrap, progress_bar(True))
            print_problems(boot.to_dict())
            print_not_read(boot.not_read, boot.not_read_listed, args.verbose)
        if args.follow is None:
            serve(service, args.host, args.port, args.workers)
            return 0
        from newsqa.feeds.commands import start_follower, stop_follower

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
    if args.command == "follow":
        from newsqa.feeds.commands import run_follow

        return run_follow(args, service)
    if args.command == "eval":
        from newsqa.eval import run_eval_command

        return run_eval_command(service, args)
    raise AssertionError(args.command)


def _add_sentence_vectors(service: Any, show: bool) -> int:
    from newsqa.ingest.pipeline import IngestProgress

    bar = progress_bar(show, desc="sentence vectors")
    total = 0

    def tick(done: int, missing: int) -> None:
        nonlocal total
        total = missing
        bar(IngestProgress("embed", 0, done, missing))

    n = service.add_sentence_vectors(tick)
    bar(IngestProgress("done", 0, n, max(total, n)))
    print(f"sentence vectors stored for {n} chunks -> {service.index.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
