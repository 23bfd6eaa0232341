"""How well the claim check of generated answers tells supported claims from unsupported ones.

For answerable questions it takes the passages the service retrieved (the cache of
``python -m bench.answers --collect``) and makes claims that cite passage [1]:

* true claims: one of its sentences verbatim; the sentence without its opening phrase or its
  attribution ("…, officials said"); two adjacent sentences merged into one;
* false claims: the sentence with a number changed; with a name swapped for one from another
  question's articles; a sentence of another retrieved article cited as [1] (misattributed;
  sentences that nearly repeat one of [1] are left out); a sentence about another question.

It prints, for January–June (the half the threshold is chosen on) and July–December (held
out), the share of each kind the check accepts at several similarity thresholds, for each
encoder the check may use (``NEWSQA_GENERATION__CLAIM_ENCODER``): the search embedder (the real
MiniLM) and the shipped dual reader's encoder, on the same claims. Nothing here is a test; it is
the measurement behind ``min_similarity`` and ``claim_encoder``.

    .venv/bin/python -m bench.claims [--questions 200] [--draws 1] [--encoders embedder reader]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.answers import OUT, load_cache
from bench.quality import HELD_OUT_PREFIXES, TUNE_PREFIXES
from newsqa.embedding.factory import load_embedder
from newsqa.query.claims import Claim, ClaimChecker, Encode
from newsqa.query.prompt import prompt_passages
from newsqa.reader.runtime import load_reader, shipped
from newsqa.records import Passage
from newsqa.settings import get_settings
from newsqa.text import STOPWORDS, split_sentences

THRESHOLDS = (0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)
TRUE_KINDS = ("verbatim", "trimmed", "merged")
FALSE_KINDS = ("number", "name", "misattributed", "off-topic")
_ATTRIBUTION = re.compile(r",? (?:\w+ ){0,4}(?:said|says|told \w+|according to [^,.]+)\.?$")
_NUMBER = re.compile(r"\b\d[\d,]*(?:\.\d+)?\b")
# A capitalised word inside a sentence (not its first word).
_NAME = re.compile(r"(?<=[a-z,] )[A-Z][a-z]{3,}\b")


class Encoder:
    """An encoder with a memo (``table``: vectors it already made)."""

    def __init__(self, encode: Encode, table: dict[str, np.ndarray] | None = None) -> None:
        self.encode = encode
        self.memo = dict(table or {})

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.memo]
        if missing:
            self.memo.update(zip(missing, self.encode(missing), strict=True))
        return np.vstack([self.memo[t] for t in texts])


def encoders(names: Sequence[str], table: dict[str, np.ndarray]) -> dict[str, Encoder]:
    """The claim check's encoders by name: ``embedder`` (the real model; the cache's sentence
    vectors seed its memo) and ``reader`` (the shipped dual reader's)."""
    out = {}
    for name in names:
        if name == "embedder":
            s = get_settings()
            model = load_embedder(s.embedding.model_path, s.embedding.batch_size)
            out[name] = Encoder(model.encode, table)
        else:
            out[name] = Encoder(load_reader(None).embed)
    return out


def _words(s: str) -> set[str]:
    return set(re.findall(r"\w+", s.lower()))


def _near(a: str, others: Sequence[str]) -> bool:
    wa = _words(a)
    return any(len(wa & _words(b)) / max(len(wa | _words(b)), 1) > 0.5 for b in others)


def claims_for(
    item: dict[str, Any], other: dict[str, Any], rng: random.Random
) -> list[tuple[str, str]]:
    """(kind, text) claims citing the item's first passage."""
    passages = item["passages"]
    first = [s for s in split_sentences(passages[0]["text"]) if len(s.split()) >= 6]
    if not first:
        return []
    s = rng.choice(first)
    out = [("verbatim", s)]
    trimmed = _ATTRIBUTION.sub(".", s)
    if trimmed == s and ", " in s[:60]:
        trimmed = s.split(", ", 1)[1]
        trimmed = trimmed[:1].upper() + trimmed[1:]
    if trimmed != s and len(trimmed.split()) >= 5:
        out.append(("trimmed", trimmed))
    i = first.index(s)
    if i + 1 < len(first):
        nxt = first[i + 1]
        out.append(("merged", f"{s.rstrip('.')}, and {nxt[:1].lower()}{nxt[1:]}"))
    if _NUMBER.search(s):
        m = _NUMBER.search(s)
        assert m is not None
        digits = m.group(0).replace(",", "")
        changed = str(int(float(digits)) * 2 + 3)
        out.append(("number", s[: m.start()] + changed + s[m.end() :]))
    foreign = [w for p in other["passages"] for w in _NAME.findall(p["text"])
               if w.lower() not in passages[0]["text"].lower() and w.lower() not in STOPWORDS]
    names = _NAME.findall(s)
    if names and foreign:
        out.append(("name", s.replace(names[0], rng.choice(foreign), 1)))
    elsewhere = [
        t for p in passages[1:] if p["article_id"] != passages[0]["article_id"]
        for t in split_sentences(p["text"])
        if len(t.split()) >= 6 and not _near(t, first)
    ]
    if elsewhere:
        out.append(("misattributed", rng.choice(elsewhere)))
    off = [t for p in other["passages"][:1] for t in split_sentences(p["text"])
           if len(t.split()) >= 6]
    if off:
        out.append(("off-topic", rng.choice(off)))
    return out


def measure(
    items: Sequence[dict[str, Any]], encode: Encode, seed: int, draws: int = 1
) -> list[dict[str, Any]]:
    """One row per claim (``draws`` claims of each kind per item, where it has them): its
    kind, whether its facts are stated, its best similarity."""
    rng = random.Random(seed)
    rows = []
    for j, item in [(j, it) for _ in range(draws) for j, it in enumerate(items)]:
        other = items[(j + len(items) // 2) % len(items)]
        given = prompt_passages([Passage(**item["passages"][0])])
        checker = ClaimChecker(given, encode, item["q"]["question"], min_similarity=-1.0)
        for kind, text in claims_for(item, other, rng):
            v = checker.check(Claim(text, [1]))
            rows.append({"kind": kind, "facts": v.supported, "sim": v.similarity})
    return rows


def table(rows: Sequence[dict[str, Any]]) -> str:
    """Acceptance per claim kind at each threshold (true kinds should be high, false low)."""
    kinds = [k for k in (*TRUE_KINDS, *FALSE_KINDS) if any(r["kind"] == k for r in rows)]
    head = "| threshold | " + " | ".join(
        f"{k} ({sum(r['kind'] == k for r in rows)})" for k in kinds
    ) + " | balanced |"
    lines = [head, "|" + "---|" * (len(kinds) + 2)]
    for t in THRESHOLDS:
        acc = {}
        for k in kinds:
            mine = [r for r in rows if r["kind"] == k]
            acc[k] = sum(r["facts"] and r["sim"] >= t for r in mine) / len(mine)
        true = np.mean([acc[k] for k in kinds if k in TRUE_KINDS])
        false = np.mean([1 - acc[k] for k in kinds if k in FALSE_KINDS])
        cells = " | ".join(f"{acc[k]:.3f}" for k in kinds)
        lines.append(f"| {t:.2f} | {cells} | {(true + false) / 2:.3f} |")
    return "\n".join(lines)


def main() -> None:
    """Print the acceptance tables for both halves of 2023."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--questions", type=int, default=200,
                    help="questions per half (0: all of them)")
    ap.add_argument("--draws", type=int, default=1,
                    help="claims of each kind drawn per question")
    ap.add_argument("--encoders", nargs="+", choices=("embedder", "reader"),
                    default=["embedder", "reader"], help="the claim check's encoders compared")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if not (OUT / "items.json").exists():
        sys.exit(f"no cache at {OUT}: run python -m bench.answers --collect first")
    items, vectors = load_cache()
    if "reader" in args.encoders and not shipped():
        sys.exit("the package holds no reader: run with --encoders embedder")
    checks = encoders(args.encoders, vectors)
    for name, prefixes in (("Jan–Jun (tuning)", TUNE_PREFIXES),
                           ("Jul–Dec (held out)", HELD_OUT_PREFIXES)):
        half = [it for it in items if it["q"]["id"].startswith(prefixes) and it["passages"]]
        if args.questions:
            half = random.Random(args.seed).sample(half, min(args.questions, len(half)))
        for label, encode in checks.items():
            print(f"\n{name}, {label}: {len(half)} questions × {args.draws}; share of claims "
                  "accepted\n")
            print(table(measure(half, encode, args.seed, args.draws)))


if __name__ == "__main__":
    main()
