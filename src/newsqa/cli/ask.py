"""``newsqa ask`` and ``newsqa search``: an answer with cited sources, or ranked passages."""

from __future__ import annotations

import argparse
import json
from typing import Any

from newsqa.cli.args import add_filters, filters_of
from newsqa.cli.output import print_answer, print_passages
from newsqa.records import AnswerRequest, Mode


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """``ask`` and ``search``."""
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
    add_filters(p)

    p = sub.add_parser("search", parents=[common], help="ranked passages for a query, no answer")
    p.add_argument("query")
    add_filters(p)


def run_ask(args: argparse.Namespace, service: Any) -> int:
    """Print the answer (text, or JSON with ``--json``)."""
    mode: Mode = "generate" if args.generate else "extractive"
    asked = AnswerRequest(args.question, args.k, filters_of(args), view=args.view, mode=mode)
    res = service.answer(asked).to_dict()
    print(json.dumps(res, indent=2, ensure_ascii=False)) if args.json else print_answer(res)
    return 0


def run_search(args: argparse.Namespace, service: Any) -> int:
    """Print the ranked passages."""
    passages = [p.to_dict() for p in service.search(args.query, args.k, filters_of(args))]
    if args.json:
        print(json.dumps({"passages": passages}, indent=2, ensure_ascii=False))
    else:
        print_passages(passages)
    return 0
