"""``newsqa eval``: retrieval and answer quality on a questions file, printed as a table or
JSON and written per question with ``--out`` (the metrics are :mod:`newsqa.eval`'s)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from newsqa.cli.args import passages_k
from newsqa.cli.exits import EXIT_NOT_FOUND
from newsqa.eval import evaluate, format_summary, is_answerable, load_questions


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """``eval``."""
    p = sub.add_parser(
        "eval",
        parents=[common],
        help="retrieval and answer quality on a questions file",
        description="Reads questions in the RealTime QA format (question, answer, date, "
        "gold_urls) and reports Hit@1/5/10, MRR@10, article Hit@10, answer hit, citation hit, "
        "abstention rate and latency over the answerable questions.",
    )
    p.add_argument("questions", help="questions .jsonl file")
    p.add_argument("--k", type=passages_k, default=10)
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


def run(args: argparse.Namespace, service: Any) -> int:
    """The ``newsqa eval`` command: evaluate, print a table (or JSON), write ``--out``."""
    from newsqa.progress import reporter

    questions = load_questions(args.questions, args.id_prefix, args.limit)
    answerable = [q for q in questions if is_answerable(q)]
    if not answerable:
        print(f"error: no answerable questions in {args.questions}", file=sys.stderr)
        return EXIT_NOT_FOUND
    show = reporter("eval", "question")
    last = [0, len(answerable)]

    def tick(done: int, total: int) -> None:
        last[:] = [done, total]
        show(done, total, {}, False)

    try:
        summary, rows = evaluate(
            service, questions, k=args.k, as_of_question_date=args.as_of_question_date,
            progress=tick, mode="generate" if args.generate else "extractive",
        )
    finally:
        show(last[0], last[1], {}, True)
    config = {
        "questions": str(args.questions),
        "k": args.k,
        "as_of_question_date": bool(args.as_of_question_date),
        "limit": args.limit,
        "id_prefix": args.id_prefix,
        "generate": bool(args.generate),
    }
    if args.out:
        Path(args.out).write_text(
            json.dumps({"config": config, "summary": summary, "rows": rows}, indent=2,
                       ensure_ascii=False),
            encoding="utf-8",
        )
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{len(questions)} questions, {summary['n']} answerable; k={args.k}, "
              f"as of question date: {'yes' if args.as_of_question_date else 'no'}")
        print(format_summary(summary))
        if args.out:
            print(f"rows -> {args.out}")
    return 0
