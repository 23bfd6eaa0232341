"""``newsqa train-reader``: its options and what it prints. The rebuild itself (collect the
archives' candidate lists, train, export) is :mod:`newsqa.training.rebuild`; needs torch."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from newsqa.cli.exits import EXIT_NO_LISTS, EXIT_USAGE

#: The command's description (``newsqa train-reader --help``).
DESCRIPTION = ("``newsqa train-reader``: rebuild the reader from archives of questions and "
               "articles.")
#: The bases of :mod:`newsqa.training.base`, repeated so that ``--help`` needs no torch.
BASES = ("minilm", "mpnet")
#: The defaults of :mod:`newsqa.training.rebuild`, repeated so that ``--help`` needs no torch.
DEFAULT_EXCLUDE = "2023-07-01:2023-12-31"
DEFAULT_DEV = "2023-05-01:2023-06-30,2024-11-01:2024-12-31"


def parse_span(text: str) -> tuple[str, str]:
    """``FROM:TO`` (ISO dates) as a pair; an argparse error otherwise."""
    lo, _, hi = text.partition(":")
    if not lo or not hi:
        raise argparse.ArgumentTypeError(f"expected FROM:TO dates, got {text!r}")
    return lo, hi


def parse_spans(text: str) -> list[tuple[str, str]]:
    """Comma-separated ``FROM:TO`` spans."""
    return [parse_span(part.strip()) for part in text.split(",") if part.strip()]


def add_parser(sub: Any) -> None:
    """``train-reader`` and its options (their defaults are :class:`TrainConfig`'s)."""
    ap = sub.add_parser("train-reader", help="rebuild the reader model from question archives",
                        description=DESCRIPTION)
    ap.add_argument("--data", type=Path, default=Path("../shared/data"),
                    help="folder of archives (subfolders with articles.jsonl.gz + questions.jsonl)")
    ap.add_argument("--archives", default="realtimeqa-2022,realtimeqa-2023,realtimeqa-2024",
                    help="comma-separated subfolders of --data to use")
    ap.add_argument("--work", type=Path, default=Path("bench/.cache/reader"),
                    help="where the indexes and candidate lists are cached")
    # dest differs from the top-level --index (the index directory), which it would overwrite
    ap.add_argument("--index", action="append", default=[], metavar="ARCHIVE=DIR",
                    dest="archive_indexes",
                    help="use an existing index for an archive (repeatable)")
    ap.add_argument("--exclude", type=parse_span, default=parse_span(DEFAULT_EXCLUDE),
                    help=f"question dates never collected (default {DEFAULT_EXCLUDE})")
    ap.add_argument("--dev", type=parse_spans, default=parse_spans(DEFAULT_DEV),
                    help="question dates kept apart to pick epochs and settings, FROM:TO[,FROM:TO]"
                    f" (default {DEFAULT_DEV})")
    ap.add_argument("--out", type=Path, default=None,
                    help="where reader.onnx and reader.json go (default: the package's model)")
    ap.add_argument("--base", choices=BASES, default="minilm",
                    help="the transformer the reader starts from: the shipped embedder's MiniLM, "
                    "or all-mpnet-base-v2 (make install-mpnet; trained for comparison only, not "
                    "exported, needs --out) (default %(default)s)")
    ap.add_argument("--layers", type=int, default=6,
                    help="layers of the base the reader keeps (default %(default)s; MPNet has 12)")
    ap.add_argument("--epochs", type=int, default=2,
                    help="epochs; the best on the dev lists is kept (default %(default)s)")
    ap.add_argument("--hard-share", type=float, default=0.5,
                    help="share of each question's sampled negatives drawn from those the composer "
                    "rates best (default %(default)s)")
    ap.add_argument("--max-pieces", type=int, default=128,
                    help="word pieces per text read alone "
                    "(default %(default)s)")
    ap.add_argument("--listwise-weight", type=float, default=1.0,
                    help="weight of the listwise loss (softmax over a question's candidates; "
                    "default %(default)s)")
    ap.add_argument("--pointwise-weight", type=float, default=0.5,
                    help="weight of the pointwise logistic loss on every candidate (default "
                    "%(default)s)")
    ap.add_argument("--lr", type=float, default=5e-5,
                    help="learning rate of the transformer (default %(default)s)")
    ap.add_argument("--max-steps", type=int, default=None, help="stop after N steps (smoke runs)")
    ap.add_argument("--limit", type=int, default=None, help="questions per archive (smoke runs)")
    ap.add_argument("--seed", type=int, default=13, help="default %(default)s")
    ap.add_argument("--collect-only", action="store_true",
                    help="build the indexes and candidate lists, then stop")


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """Collect, train, export; log the curve and where the reader went. 2 when the archives
    give no training or no dev questions."""
    from newsqa.reader.runtime import MODEL_DIR
    from newsqa.training.rebuild import Rebuild, RebuildError, collect_all, rebuild
    from newsqa.training.train import TrainConfig

    plan = Rebuild(
        args.data, [n.strip() for n in args.archives.split(",") if n.strip()], args.work,
        args.exclude, args.dev, dict(item.split("=", 1) for item in args.archive_indexes),
        args.limit)
    if args.collect_only:
        lists = collect_all(plan, _log)
        _log(f"{len(lists)} lists cached under {args.work}")
        return 0
    cfg = TrainConfig(layers=args.layers, epochs=args.epochs, hard_share=args.hard_share,
                      max_steps=args.max_steps, seed=args.seed, max_pieces=args.max_pieces,
                      listwise_weight=args.listwise_weight,
                      pointwise_weight=args.pointwise_weight, lr=args.lr, base=args.base)
    if args.base != "minilm" and args.out is None:
        print(f"error: a reader on {args.base} needs --out (it cannot replace the package's)",
              file=sys.stderr)
        return EXIT_USAGE
    out = args.out or MODEL_DIR
    try:
        info = rebuild(plan, cfg, out, _log)
    except RebuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NO_LISTS
    _log(f"reader (epoch {info['epoch']} of {len(info['curve'])}) -> {out}")
    return 0
