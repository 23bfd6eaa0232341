"""``newsqa train-reader``: rebuild the reader from archives of questions and articles.

Each folder under ``--data`` holding ``articles.jsonl.gz`` and ``questions.jsonl`` (RealTime QA's
layout: question, date, answer, ``gold_urls``, ``answerable``) is indexed once (cached under
``--work``), its questions are asked of that index as of their own dates and their candidate
lists are labelled (:mod:`newsqa.reader.collect`, cached too, each candidate's sentence vector
beside them), then the reader is trained on them (:mod:`newsqa.reader.train`). Questions dated
inside ``--exclude`` are never collected, so a held-out period cannot leak into training; those
inside ``--dev`` choose the epoch and the calibration.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from newsqa.eval import load_questions
from newsqa.reader.dual import KINDS
from newsqa.reader.inputs import CONTEXTS

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


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a share in (0, 1], got {text!r}")
    return value


def in_spans(day: str, spans: list[tuple[str, str]]) -> bool:
    """Whether the ISO date ``day`` falls inside one of ``spans`` (inclusive)."""
    return any(lo <= day <= hi for lo, hi in spans)


def split_lists(
    lists: list[dict[str, Any]], exclude: tuple[str, str], dev: list[tuple[str, str]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The training and the dev lists of ``lists``: those dated inside ``exclude`` are in
    neither, those inside a ``dev`` span are dev."""
    kept = [it for it in lists if not exclude[0] <= str(it["date"]) <= exclude[1]]
    return ([it for it in kept if not in_spans(str(it["date"]), dev)],
            [it for it in kept if in_spans(str(it["date"]), dev)])


def parser(prog: str = "newsqa train-reader") -> argparse.ArgumentParser:
    """The command's arguments."""
    from newsqa.reader.train import TrainConfig

    cfg = TrainConfig()
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"),
                    help="folder of archives (subfolders with articles.jsonl.gz + questions.jsonl)")
    ap.add_argument("--archives", default="realtimeqa-2022,realtimeqa-2023,realtimeqa-2024",
                    help="comma-separated subfolders of --data to use")
    ap.add_argument("--work", type=Path, default=Path("bench/.cache/reader"),
                    help="where the indexes and candidate lists are cached")
    ap.add_argument("--index", action="append", default=[], metavar="ARCHIVE=DIR",
                    help="use an existing index for an archive (repeatable)")
    ap.add_argument("--exclude", type=parse_span, default=parse_span(DEFAULT_EXCLUDE),
                    help=f"question dates never collected (default {DEFAULT_EXCLUDE})")
    ap.add_argument("--dev", type=parse_spans, default=parse_spans(DEFAULT_DEV),
                    help="question dates kept apart to pick epochs and settings, FROM:TO[,FROM:TO]"
                    f" (default {DEFAULT_DEV})")
    ap.add_argument("--out", type=Path, default=None,
                    help="where reader.onnx and reader.json go (default: the package's model)")
    ap.add_argument("--layers", type=int, default=cfg.layers,
                    help="MiniLM layers the reader keeps (default %(default)s)")
    ap.add_argument("--offset", action=argparse.BooleanOptionalAction, default=cfg.offset,
                    help="train on top of the composer's score of each candidate (its weight fit "
                    "on the training lists), so the model learns what the composer misses")
    ap.add_argument("--epochs", type=int, default=cfg.epochs,
                    help="epochs; the best on the dev lists is kept (default %(default)s)")
    ap.add_argument("--hard-share", type=float, default=cfg.hard_share,
                    help="share of each question's sampled negatives drawn from those the composer "
                    "rates best (default %(default)s)")
    ap.add_argument("--same-article-share", type=float, default=cfg.same_article_share,
                    help="share of each question's sampled negatives drawn from the other "
                    "sentences of its positives' articles (default %(default)s)")
    ap.add_argument("--span", action=argparse.BooleanOptionalAction, default=cfg.span,
                    help="a second head learns which word pieces of a candidate are the answer "
                    "(where the gold answer is written); a candidate's logit adds its best one")
    ap.add_argument("--span-weight", type=float, default=cfg.span_weight,
                    help="weight of that head's loss, with --span (default %(default)s)")
    ap.add_argument("--kind", choices=KINDS, default=cfg.kind,
                    help="cross: question and candidate read together; dual: each embedded apart "
                    "as the shipped embedder does, scored by their cosine (newsqa.reader.dual; "
                    "default %(default)s); query: only the question embedded, compared with the "
                    "sentence vectors the index stored at ingest; late: embedded apart word piece "
                    "by word piece, scored by their maxsim (late interaction)")
    ap.add_argument("--context", choices=CONTEXTS, default=cfg.context,
                    help="what a candidate sentence is read with: its headline and the sentence "
                    "before it, one of them, or nothing (recorded with the model; default "
                    "%(default)s)")
    ap.add_argument("--max-pieces", type=int, default=cfg.max_pieces,
                    help="word pieces per (question, candidate) pair, or per text read alone "
                    "(default %(default)s)")
    ap.add_argument("--listwise-weight", type=float, default=cfg.listwise_weight,
                    help="weight of the listwise loss (softmax over a question's candidates; "
                    "default %(default)s)")
    ap.add_argument("--pointwise-weight", type=float, default=cfg.pointwise_weight,
                    help="weight of the pointwise logistic loss on every candidate (default "
                    "%(default)s)")
    ap.add_argument("--adapter", action=argparse.BooleanOptionalAction, default=cfg.adapter,
                    help="with --kind query: learn a linear map of the stored candidate vectors "
                    "too (served with the model)")
    ap.add_argument("--lr", type=float, default=cfg.lr,
                    help="learning rate of the transformer (default %(default)s)")
    ap.add_argument("--max-steps", type=int, default=None, help="stop after N steps (smoke runs)")
    ap.add_argument("--limit", type=int, default=None, help="questions per archive (smoke runs)")
    ap.add_argument("--train-share", type=_share, default=1.0,
                    help="train on this share of the training lists, drawn with the seed (a "
                    "learning curve: what more questions would buy; default 1)")
    ap.add_argument("--seed", type=int, default=cfg.seed, help="default %(default)s")
    ap.add_argument("--synthetic", type=int, default=0,
                    help="cloze questions drawn from each archive's own headlines, mixed into "
                    "training (newsqa.reader.synthetic); never dated in --exclude or --dev")
    ap.add_argument("--refit", type=Path, default=None, metavar="DIR",
                    help="train again with the options of the reader in DIR, on the training "
                    "and dev lists together, for the epochs it kept; its fusion, calibration "
                    "and abstention (chosen on dev) are carried over")
    ap.add_argument("--collect-only", action="store_true",
                    help="build the indexes and candidate lists, then stop")
    return ap


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def archive_lists(
    folder: Path, index_dir: Path, cache: Path, exclude: tuple[str, str], limit: int | None
) -> list[dict[str, Any]]:
    """The labelled lists of one archive's questions, with their candidates' vectors (built,
    or read from ``cache``; a cache from before vectors were kept is built again)."""
    from newsqa.reader.collect import collect, has_vectors, load_lists, save_lists

    if cache.exists():
        cached = load_lists(cache)
        if has_vectors(cached):
            return cached
        _log(f"{cache} has no sentence vectors: collecting again")
    from newsqa.service import NewsQA
    from newsqa.settings import get_settings

    svc = NewsQA.open(get_settings(index__path=str(index_dir)))
    try:
        if svc.stats()["articles"] == 0:
            _log(f"indexing {folder / 'articles.jsonl.gz'} into {index_dir} (once)")
            from newsqa.progress import ingest_progress

            svc.ingest([folder / "articles.jsonl.gz"], ingest_progress(True, "indexing"))
        questions = [q for q in load_questions(folder / "questions.jsonl")
                     if not exclude[0] <= str(q.get("date", "")) <= exclude[1]]
        if limit:
            questions = questions[:limit]
        _log(f"{folder.name}: collecting {len(questions)} questions' candidates")
        lists = collect(svc, questions)
    finally:
        svc.close()
    save_lists(lists, cache)
    return lists


def synthetic_lists(
    folder: Path, index_dir: Path, cache: Path, skip: list[tuple[str, str]], count: int,
    seed: int,
) -> list[dict[str, Any]]:
    """The pruned lists of ``count`` cloze questions of one archive (built, or read from
    ``cache``), none dated inside the ``skip`` spans."""
    from newsqa.reader.collect import collect, has_vectors, load_lists, save_lists

    if cache.exists():
        cached = load_lists(cache)
        if has_vectors(cached):
            return cached
    from newsqa.ingest.load import iter_articles
    from newsqa.reader.synthetic import pruned, synthetic_questions
    from newsqa.service import NewsQA
    from newsqa.settings import get_settings

    questions = synthetic_questions(iter_articles([folder / "articles.jsonl.gz"]), count, seed,
                                    skip)
    _log(f"{folder.name}: collecting {len(questions)} cloze questions' candidates")
    svc = NewsQA.open(get_settings(index__path=str(index_dir)))
    try:
        lists = list(pruned(collect(svc, questions), questions))
    finally:
        svc.close()
    save_lists(lists, cache)
    return lists


def sentence_embedder() -> Any:
    """The reference embedder of the settings' model (fp32; the model-free one under
    ``NEWSQA_EMBEDDING__EMBEDDER=hash``): what made the lists' sentence vectors."""
    from newsqa.embedding.factory import load
    from newsqa.settings import get_settings

    return load(get_settings(), "torch", "fp32")


def main(argv: list[str] | None = None) -> int:
    """Collect, train, export; print the curve and where the reader went."""
    args = parser().parse_args(argv)
    from newsqa.reader.runtime import MODEL_DIR
    from newsqa.reader.train import TrainConfig, train

    given = dict(item.split("=", 1) for item in args.index)
    lists: list[dict[str, Any]] = []
    synthetic: list[dict[str, Any]] = []
    for name in [n.strip() for n in args.archives.split(",") if n.strip()]:
        folder = args.data / name
        if not (folder / "questions.jsonl").exists():
            _log(f"skipping {folder}: no questions.jsonl")
            continue
        index_dir = Path(given.get(name, args.work / f"index-{name}"))
        suffix = f"-limit{args.limit}" if args.limit else ""
        got = archive_lists(folder, index_dir, args.work / f"lists-{name}{suffix}.json",
                            args.exclude, args.limit)
        lists += got
        if args.synthetic:
            made = synthetic_lists(folder, index_dir,
                                   args.work / f"cloze-{name}-{args.synthetic}-{args.seed}.json",
                                   [args.exclude, *args.dev], args.synthetic, args.seed)
            _log(f"{name}: {len(made)} cloze lists with a positive")
            synthetic += made
    if args.collect_only:
        _log(f"{len(lists)} lists cached under {args.work}")
        return 0
    train_lists, dev = split_lists(lists, args.exclude, args.dev)
    train_lists += [
        it for it in synthetic
        if not in_spans(str(it["date"]), [args.exclude, *args.dev])]
    if args.train_share < 1.0:
        import random

        keep = round(args.train_share * len(train_lists))
        train_lists = random.Random(args.seed).sample(train_lists, keep)
    with_pos = sum(any(c["label"] == 1 for c in it["candidates"]) for it in train_lists)
    _log(f"{len(train_lists)} training lists ({with_pos} with a positive), {len(dev)} dev lists")
    if not train_lists or not dev:
        print("error: need both training and dev questions", file=sys.stderr)
        return 2
    if args.refit is not None:
        return _refit(args, train_lists, dev)
    cfg = TrainConfig(layers=args.layers, epochs=args.epochs, offset=args.offset,
                      hard_share=args.hard_share, span=args.span, span_weight=args.span_weight,
                      max_steps=args.max_steps, seed=args.seed, context=args.context,
                      max_pieces=args.max_pieces, listwise_weight=args.listwise_weight,
                      pointwise_weight=args.pointwise_weight, kind=args.kind,
                      adapter=args.adapter, lr=args.lr,
                      same_article_share=args.same_article_share)
    out = args.out or MODEL_DIR
    info = train(train_lists, dev, out, cfg, _log,
                 sentence_embedder() if cfg.kind == "query" else None)
    _log(f"reader (epoch {info['epoch']} of {len(info['curve'])}) -> {out}")
    return 0


def refit_config(prior: dict[str, Any], max_steps: int | None = None) -> Any:
    """The :class:`TrainConfig` of the run ``prior`` (its ``reader.json``), for the epochs it
    kept."""
    from dataclasses import fields

    from newsqa.reader.train import TrainConfig

    given = prior.get("config")
    if not isinstance(given, dict) or "epoch" not in prior:
        raise ValueError("the reader to refit records no training configuration")
    known = {f.name for f in fields(TrainConfig)}
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                              for k, v in given.items() if k in known}
    values.update(epochs=int(prior["epoch"]), max_steps=max_steps)
    return TrainConfig(**values)


def _refit(args: argparse.Namespace, train_lists: list[dict[str, Any]],
           dev: list[dict[str, Any]]) -> int:
    import json

    from newsqa.reader.fusion import carried
    from newsqa.reader.runtime import MODEL_DIR
    from newsqa.reader.train import train

    source = args.refit / "reader.json"
    if not source.exists():
        print(f"error: no reader.json in {args.refit}", file=sys.stderr)
        return 2
    prior = json.loads(source.read_text(encoding="utf-8"))
    try:
        cfg = refit_config(prior, args.max_steps)
        carried(prior)  # before training, not after: what it would carry over must be there
    except (TypeError, ValueError) as exc:
        print(f"error: {source}: {exc}", file=sys.stderr)
        return 2
    out = args.out or MODEL_DIR
    if out.resolve() == args.refit.resolve():
        print("error: --out must differ from --refit (its choices are read from there)",
              file=sys.stderr)
        return 2
    _log(f"refit of {args.refit} ({cfg.kind}, {cfg.epochs} epochs, seed {cfg.seed}) on "
         f"{len(train_lists)} training and {len(dev)} dev lists together")
    info = train(train_lists + dev, [], out, cfg, _log,
                 sentence_embedder() if cfg.kind == "query" else None, refit=prior)
    _log(f"reader (refit, {info['epoch']} epochs) -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
