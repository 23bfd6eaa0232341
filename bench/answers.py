"""Answer composition measured offline, on cached retrieval (the issue-9 tuning loop).

``--collect`` (needs the full 2023 index, see ``bench/quality.py --build-only``) asks nothing:
for every question, answerable or not, as of its own date, it runs the product's answer pipeline
(:class:`newsqa.query.answer.AnswerPipeline`) up to its evidence: the top-k passages retrieved,
the archive's idf of the question's words and the question's vector as composition compares it;
it embeds every sentence of the passages once with the service's sentence embedder (as the
product does where no vector is stored) and keeps the sentence vectors the index stored with
them, if any (``bench/.cache/answers/``). Without ``--collect`` it composes the answers from
that cache through the product's composition stage
(:func:`newsqa.query.evidence.compose_evidence`) with the current code and settings (``--set
NAME=VALUE`` overrides a ComposeConfig field), and prints answer hit, citation hit and
abstention on January–June (the half settings may be tuned on) and July–December (held out),
with an abstention curve: answer hit and abstention rate at several thresholds. A cache
collected before the question vectors were kept uses the question's vector from the sentence
table, as it was then.

The figures to report come from ``bench/quality.py`` (end to end, through the service); this is
the fast loop that finds the settings worth measuring there.

    .venv/bin/python -m bench.answers --collect
    .venv/bin/python -m bench.answers [--set answer_type_weight=0.2 ...] [--curve]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.fragments import fragment_share, load_articles
from bench.quality import HELD_OUT_PREFIXES, TUNE_PREFIXES
from bench.slice import CACHE, require_data, slice_questions
from newsqa.eval import answer_hit, citation_hit, contains_answer
from newsqa.query.compose import ComposeConfig, considered_passages, score_candidates
from newsqa.query.evidence import Evidence, compose_evidence
from newsqa.query.statements import statement
from newsqa.records import Filters, Passage
from newsqa.service import NewsQA
from newsqa.settings import get_settings
from newsqa.text import split_sentences
from newsqa.training.evidence import fit, threshold

OUT = CACHE / "answers"
THRESHOLDS = (0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5)


def collect(index: Path, k: int) -> None:
    """Store each question's evidence, as the product's pipeline gathers it, and
    the vectors of all its passages' sentences and headlines."""
    svc = NewsQA.open(get_settings(index__path=str(index)), create=False)
    pipeline = svc.pipeline()
    items: list[dict[str, Any]] = []
    queries: list[np.ndarray] = []
    texts: dict[str, None] = {}
    try:
        for q in slice_questions(None):
            f = Filters(as_of=q["date"])
            plan = pipeline.plan(q["question"], f, asked_as_of=True)
            qvec = pipeline.embed_query(plan.text)
            got = pipeline.retrieve(plan, k, f, qvec)
            ev = pipeline.evidence(q["question"], plan, qvec, got)
            items.append({"q": q, "passages": [p.to_dict() for p in got], "idf": dict(ev.idf)})
            queries.append(ev.query_vector)
            for p in got:
                if p.title:
                    texts.setdefault(p.title, None)
                for s in split_sentences(p.text):
                    texts.setdefault(s, None)
                    said = statement(s)
                    if said:
                        texts.setdefault(said, None)
        keys = list(texts)
        vecs = svc.sentence_embedder.encode(keys)
        stored = svc.index.sentence_vectors(
            sorted({p["chunk_id"] for it in items for p in it["passages"]}))
    finally:
        svc.close()
    OUT.mkdir(parents=True, exist_ok=True)
    save_stored(stored)
    (OUT / "items.json").write_text(json.dumps(items), encoding="utf-8")
    np.save(OUT / "vectors.npy", vecs)
    np.save(OUT / "queries.npy", np.vstack(queries).astype(np.float32))
    (OUT / "texts.json").write_text(json.dumps(keys), encoding="utf-8")
    print(f"{len(items)} questions, {len(keys)} sentences -> {OUT}")


def save_stored(stored: dict[int, np.ndarray]) -> None:
    """The index's stored sentence vectors of the cached passages (none: an older index)."""
    spans, start = {}, 0
    for cid, rows in stored.items():
        spans[str(cid)] = [start, len(rows)]
        start += len(rows)
    flat = np.vstack(list(stored.values())) if stored else np.zeros((0, 384), np.float32)
    np.save(OUT / "stored.npy", flat.astype(np.float32))
    (OUT / "stored.json").write_text(json.dumps(spans), encoding="utf-8")


def load_stored() -> dict[int, np.ndarray]:
    """What :func:`save_stored` wrote (empty when the cache predates it)."""
    if not (OUT / "stored.json").exists():
        return {}
    flat = np.load(OUT / "stored.npy")
    spans = json.loads((OUT / "stored.json").read_text(encoding="utf-8"))
    return {int(c): flat[a:a + n] for c, (a, n) in spans.items()}


def load_cache() -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """The cached questions with passages, and a text -> vector map; each item's ``qvec`` is
    its question's vector as composition compares it (in a cache collected before those were
    kept: the question's vector in the map)."""
    items = json.loads((OUT / "items.json").read_text(encoding="utf-8"))
    keys = json.loads((OUT / "texts.json").read_text(encoding="utf-8"))
    vecs = np.load(OUT / "vectors.npy")
    table = dict(zip(keys, vecs, strict=True))
    queries = np.load(OUT / "queries.npy") if (OUT / "queries.npy").exists() else None
    for i, item in enumerate(items):
        item["qvec"] = queries[i] if queries is not None else table[item["q"]["question"]]
    return items, table


def evidence(item: dict[str, Any], stored: dict[int, np.ndarray]) -> Evidence:
    """A cached question's evidence, as the product's pipeline gathered it (``stored``: the
    index's sentence vectors by chunk id; composition reads those of the passages it weighs)."""
    passages = [Passage(**p) for p in item["passages"]]
    return Evidence(item["q"]["question"], passages, stored, item.get("idf"), item["qvec"])


def table_encode(table: dict[str, np.ndarray]) -> Callable[[Sequence[str]], np.ndarray]:
    """``encode`` answering from the cached sentence vectors."""

    def encode(texts: Sequence[str]) -> np.ndarray:
        return np.vstack([table[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)

    return encode


def score(
    items: Sequence[dict[str, Any]], table: dict[str, np.ndarray], cfg: ComposeConfig,
    stored: dict[int, np.ndarray] | None = None,
) -> list[dict[str, Any]]:
    """Compose every cached question with ``cfg``; one row per question (abstention off).
    ``stored``: the index's sentence vectors by chunk id, used as the service uses them."""
    encode = table_encode(table)
    rows = []
    open_cfg = replace(cfg, abstain_threshold=0.0)
    for item in items:
        q = item["q"]
        res = compose_evidence(evidence(item, stored or {}), encode, open_cfg)
        segments = [s.to_dict() for s in res.segments]
        citations = [c.to_dict() for c in res.citations]
        rows.append({
            "id": q["id"],
            "answerable": bool(q.get("answerable", True)),
            "evidence": res.evidence,
            "answer_hit": answer_hit(segments, q["answer"]),
            "citation_hit": citation_hit(citations, q["gold_urls"], q["answer"]),
            "words": sum(len(s["text"].split()) for s in segments),
            "sentences": len(segments),
            "padding": padding(segments, citations, q),
            "segments": segments,
            "citations": citations,
            "abstained": res.abstained,
        })
    return rows


def padding(segments: Sequence[dict[str, Any]], citations: Sequence[dict[str, Any]],
            q: dict[str, Any]) -> int:
    """Sentences of an answer to an answerable question that neither state the gold answer nor
    come from a gold article: a proxy for padding from unrelated articles."""
    if not q.get("answerable", True):
        return 0
    url = {c["n"]: c["url"] for c in citations}
    gold = set(q.get("gold_urls") or [])
    return sum(
        not contains_answer(s["text"], q["answer"])
        and not any(url.get(n) in gold for n in s["citations"])
        for s in segments
    )


def summary(rows: Sequence[dict[str, Any]], threshold: float) -> dict[str, float]:
    """Answer hit, citation hit and abstention on the answerable questions, and abstention on
    the others, when answers under ``threshold`` abstain."""
    asked = [r for r in rows if r.get("answerable", True)]
    silent = [r for r in rows if not r.get("answerable", True)]
    n = len(asked) or 1
    kept = [r for r in asked if r["evidence"] >= threshold]
    return {
        "n": len(asked),
        "answer_hit": sum(r["answer_hit"] for r in kept) / n,
        "citation_hit": sum(r["citation_hit"] for r in kept) / n,
        "abstain": 1 - len(kept) / n,
        "unanswerable": len(silent),
        "abstain_unanswerable": (sum(r["evidence"] < threshold for r in silent) / len(silent)
                                 if silent else 0.0),
        "max_words": max((r["words"] for r in kept), default=0),
        "sentences": sum(r["sentences"] for r in kept) / (len(kept) or 1),
        "padding": (sum(r.get("padding", 0) for r in kept)
                    / (sum(r["sentences"] for r in kept) or 1)),
    }


def report(rows: Sequence[dict[str, Any]], cfg: ComposeConfig, curve: bool) -> None:
    """Print both halves at the configured threshold, and the curve when asked; then the share
    of answer sentences that do not read as sentences (``bench/fragments.py``)."""
    halves = (("Jan–Jun (tuning)", TUNE_PREFIXES), ("Jul–Dec (held out)", HELD_OUT_PREFIXES))
    thresholds = THRESHOLDS if curve else (cfg.abstain_threshold,)
    print(f"{'half':<20} {'threshold':>9} {'n':>4} {'answer hit':>10} {'citation':>9} "
          f"{'abstain':>8} {'abst. unans.':>12} {'sentences':>9} {'max words':>9}")
    for name, prefixes in halves:
        part = [r for r in rows if str(r["id"]).startswith(prefixes)]
        for t in thresholds:
            s = summary(part, t)
            print(f"{name:<20} {t:>9.2f} {s['n']:>4} {s['answer_hit']:>10.3f} "
                  f"{s['citation_hit']:>9.3f} {s['abstain']:>8.3f} "
                  f"{s['abstain_unanswerable']:>12.3f} {s['sentences']:>9.2f} {s['padding']:>8.3f} "
                  f"{s['max_words']:>9}")
    articles = load_articles({c["url"] for r in rows for c in r["citations"]})
    for name, prefixes in halves:
        answered = [r for r in rows if str(r["id"]).startswith(prefixes)
                    and r["evidence"] >= cfg.abstain_threshold and not r["abstained"]]
        f = fragment_share(answered, articles)
        faults = ", ".join(f"{k} {v}" for k, v in f["faults"].items() if v)
        print(f"{name}: fragments {f['faulty']}/{f['sentences']} = {f['share'] or 0:.3f}"
              f" ({faults}); first sentence dangling {f['dangling_first']}/{f['answers']}")


def fit_evidence(
    items: Sequence[dict[str, Any]], table: dict[str, np.ndarray], cfg: ComposeConfig,
    stored: dict[int, np.ndarray], share: float,
) -> tuple[dict[str, float], float]:
    """Fit the evidence model on the January–June questions, answerable and not (never on
    July–December), and the threshold under which ``share`` of the answerable ones fall."""
    encode = table_encode(table)
    signals, labels = [], []
    for item in items:
        if not str(item["q"]["id"]).startswith(TUNE_PREFIXES):
            continue
        e = evidence(item, stored)
        got = score_candidates(e.question, considered_passages(e.passages, cfg), encode,
                               e.query_vector, cfg, e.idf, e.stored)
        if got is not None:
            signals.append(got.signals)
            labels.append(bool(item["q"].get("answerable", True)))
    weights = fit(signals, labels)
    return weights, threshold(signals, labels, weights, share)


def parse_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """``NAME=VALUE`` pairs for ComposeConfig fields, typed like the field's default."""
    types = {f.name: type(getattr(ComposeConfig(), f.name)) for f in fields(ComposeConfig)}
    out: dict[str, Any] = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        if name not in types:
            sys.exit(f"unknown ComposeConfig field {name!r}; known: {', '.join(types)}")
        kind = types[name]
        out[name] = value.lower() in ("1", "true", "yes", "on") if kind is bool else kind(value)
    return out


def main(argv: list[str] | None = None) -> int:
    """Collect the cache, or compose from it and report."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--collect", action="store_true", help="build the cache from the index")
    ap.add_argument("--index", type=Path, default=CACHE / "full-2023")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE",
                    help="override a ComposeConfig field")
    ap.add_argument("--curve", action="store_true", help="several abstention thresholds")
    ap.add_argument("--no-stored", action="store_true",
                    help="ignore the index's stored sentence vectors (embed a shortlist, as an "
                    "index without them does)")
    ap.add_argument("--fit-evidence", type=float, default=None, metavar="SHARE",
                    help="fit the evidence model on January–June and print its weights and the "
                    "threshold at which SHARE of the answerable questions abstain")
    args = ap.parse_args(argv)
    require_data()
    if args.collect:
        collect(args.index, args.k)
        return 0
    cfg = replace(get_settings().composition, **parse_overrides(args.set))
    items, table = load_cache()
    stored = {} if args.no_stored else load_stored()
    if args.fit_evidence is not None:
        weights, cut = fit_evidence(items, table, cfg, stored, args.fit_evidence)
        print(json.dumps({"abstain_threshold": cut,
                          "evidence_weights": {k: round(v, 4) for k, v in weights.items()}}))
        cfg = replace(cfg, evidence_weights=weights, abstain_threshold=cut)
    report(score(items, table, cfg, stored), cfg, args.curve)
    return 0


if __name__ == "__main__":
    sys.exit(main())
