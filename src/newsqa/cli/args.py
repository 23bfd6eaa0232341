"""Argument types and option groups several commands share."""

from __future__ import annotations

import argparse
from datetime import date

from newsqa.records import Filters


def iso_date(value: str) -> str:
    """``value`` as an ISO date (YYYY-MM-DD); an argparse error otherwise."""
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from exc


def passages_k(value: str) -> int:
    """A number of passages, 1 to 50."""
    k = int(value)
    if not 1 <= k <= 50:
        raise argparse.ArgumentTypeError("k must be between 1 and 50")
    return k


def seconds(value: str) -> float:
    """A poll interval in seconds, 1 to a week."""
    s = float(value)
    if not 1 <= s <= 7 * 86400:
        raise argparse.ArgumentTypeError("seconds must be between 1 and 604800 (a week)")
    return s


def add_filters(p: argparse.ArgumentParser) -> None:
    """``--k``, the date and outlet filters and ``--json`` of ``ask`` and ``search``."""
    p.add_argument("--k", type=passages_k, default=None,
                   help="passages to return (1-50, default 8)")
    p.add_argument("--since", type=iso_date, help="only articles published on or after this date")
    p.add_argument("--until", type=iso_date,
                   help="only articles published on or before this date")
    p.add_argument(
        "--source",
        action="append",
        dest="sources",
        metavar="OUTLET",
        help="only this outlet (domain, e.g. cnn.com); repeat for several",
    )
    p.add_argument(
        "--as-of",
        type=iso_date,
        dest="as_of",
        help="answer as of this date: later articles are ignored (default: today)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def filters_of(args: argparse.Namespace) -> Filters:
    """The :class:`Filters` the options of :func:`add_filters` ask for."""
    return Filters(since=args.since, until=args.until, sources=args.sources, as_of=args.as_of)
