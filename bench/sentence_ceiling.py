"""What answer composition can reach on cached retrieval (issue 9), and what the best weighting
of its own signals reaches.

Over the ``bench/answers.py --collect`` cache (each answerable question's top 10 passages as of
its date, with the sentence vectors the index stored), for January–June (tuning) and
July–December (held out) it prints:

* **ceiling**: the share of questions for which some candidate sentence (or answering headline)
  of the first ``--passages`` (3) / 10 passages contains the gold answer: no choice of
  sentences among them can do better;
* **composition**: the answer hit of the product's composition stage
  (:func:`newsqa.query.evidence.compose_evidence`) with the default
  settings, abstention off; and, to show how strict the string match is, the share of answers
  that contain the gold answer's last word ("Bucks" for "Milwaukee Bucks", "Paltrow" for
  "Gwyneth Paltrow");
* **best linear scorer**: every signal composition has, and a few it does not use (the names a
  sentence adds, how many passages repeat them, years and numbers that agree with the
  question, a new name's distance from the question's focus words), weighted by a listwise
  (softmax per question) linear model fit on January–June only, then used to pick up to 3
  sentences within 80 words, no sentence repeating another. If that does not beat composition
  on the held-out half, reweighting these signals cannot reach the issue's target.

    .venv/bin/python -m bench.sentence_ceiling [--passages 3] [--l2 0.1 1 10]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.optimize import minimize

from bench.answers import evidence, load_cache, load_stored, table_encode
from bench.quality import HELD_OUT_PREFIXES, TUNE_PREFIXES
from bench.slice import require_data
from newsqa.eval import contains_answer, normalize
from newsqa.query.compose import ComposeConfig, answer_candidates, key_terms
from newsqa.query.evidence import compose_evidence
from newsqa.query.sentences import Question, analyse, focus, match, new_names
from newsqa.query.vectors import stored_vectors
from newsqa.records import Passage
from newsqa.text import STOPWORDS, query_terms, stem

FEATURES = (
    "semantic", "overlap", "phrase", "novelty", "answer_type", "passage_1", "passage_2",
    "passage_3_on", "headline", "first_sentence", "second_sentence", "length", "new_names",
    "names_repeated", "type_name", "type_number", "type_time", "passage_score", "semantic_gap",
    "overlap_gap", "key_terms", "year_agrees", "year_conflicts", "number_agrees",
    "focus_proximity",
)
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_NUM = re.compile(r"\b\d[\d,.]*\b")
_WORDS = re.compile(r"[\w'’.-]+")


@dataclass
class Case:
    """One question's candidates: their sentences, features, labels and stored vectors."""

    id: str
    sentences: list[str]
    x: np.ndarray
    y: np.ndarray
    vectors: np.ndarray


def _agreement(question: str, sentence: str) -> list[float]:
    qy, sy = set(_YEAR.findall(question)), set(_YEAR.findall(sentence))
    qn, sn = set(_NUM.findall(question)) - qy, set(_NUM.findall(sentence))
    low = sentence.lower()
    terms = key_terms(question)
    return [
        sum(t in low for t in terms) / len(terms) if terms else 0.5,
        float(bool(qy & sy)),
        float(bool(qy and sy and not qy & sy)),
        float(bool(qn & sn)),
    ]


def _proximity(q: Question, sentence: str, focus_stems: set[str]) -> float:
    """1 / (1 + words between a new name and the nearest focus word / 3); 0 without either."""
    words = _WORDS.findall(sentence)
    near = [i for i, w in enumerate(words) if stem(w.lower()) in focus_stems]
    starts = [len(_WORDS.findall(sentence[:a])) for a, _ in new_names(q, sentence)]
    if not near or not starts:
        return 0.0
    return 1.0 / (1.0 + min(abs(s - n) for s in starts for n in near) / 3)


def case(item: dict[str, Any], table: dict[str, np.ndarray], stored: dict[int, np.ndarray],
         n_passages: int, cfg: ComposeConfig) -> Case | None:
    """The features of every candidate of the first ``n_passages`` passages."""
    question = item["q"]["question"]
    passages = [Passage(**p) for p in item["passages"]]
    considered = passages[:n_passages]
    q = analyse(question, item.get("idf"), cfg.focus_weight)
    cands = answer_candidates(considered, q)
    if not cands:
        return None
    known = stored_vectors(cands, considered, stored)
    vecs = np.vstack([v if v is not None else table[s] for v, (_, _, s) in zip(known, cands,
                                                                             strict=True)])
    sem = vecs @ item["qvec"]
    texts = [f"{p.title} {p.text}".lower() for p in passages]
    focus_stems = {stem(t) for t in query_terms(focus(question))}
    rows = []
    for j, (pi, si, s) in enumerate(cands):
        m = match(q, s)
        names = [s[a:b].lower() for a, b in new_names(q, s)]
        repeated = max((sum(n in t for t in texts) for n in names), default=0) / len(texts)
        rows.append([
            sem[j], m.overlap, m.phrase, m.novelty, m.fit, pi == 0, pi == 1, pi >= 2, si == -1,
            si == 0, si == 1, min(len(s.split()), 60) / 30, min(len(names), 5) / 5, repeated,
            m.fit * (q.kind == "name"), m.fit * (q.kind == "number"), m.fit * (q.kind == "time"),
            considered[pi].score / (considered[0].score or 1.0), 0.0, 0.0,
            *_agreement(question, s), _proximity(q, s, focus_stems),
        ])
    x = np.asarray(rows, dtype=np.float64)
    x[:, FEATURES.index("semantic_gap")] = x[:, 0] - x[:, 0].max()
    x[:, FEATURES.index("overlap_gap")] = x[:, 1] - x[:, 1].max()
    y = np.array([contains_answer(s, item["q"]["answer"]) for _, _, s in cands])
    return Case(item["q"]["id"], [s for _, _, s in cands], x, y, vecs)


def pick(scores: np.ndarray, c: Case, cfg: ComposeConfig) -> list[int]:
    """Up to ``max_sentences`` best within ``max_words``, none repeating a chosen one."""
    chosen: list[int] = []
    words = 0
    for i in np.argsort(-scores):
        n = len(c.sentences[i].split())
        if len(chosen) >= cfg.max_sentences:
            break
        if chosen and (words + n > cfg.max_words
                       or float(np.max(c.vectors[chosen] @ c.vectors[i])) > cfg.redundant_cosine):
            continue
        chosen.append(int(i))
        words += n
    return chosen


def fit_listwise(cases: Sequence[Case], l2: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights maximising, per question, the softmax probability of its answering candidates
    (questions without one teach nothing); features standardised on ``cases``."""
    allx = np.vstack([c.x for c in cases])
    mu, sd = allx.mean(0), allx.std(0) + 1e-6
    train = [((c.x - mu) / sd, c.y.astype(float)) for c in cases if c.y.any()]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = l2 * float(w @ w), 2 * l2 * w
        for x, pos in train:
            s = x @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            hit = float((p * pos).sum())
            total -= np.log(hit + 1e-12)
            grad -= (p * pos) @ x / hit - p @ x
        return total, grad

    w = minimize(loss, np.zeros(allx.shape[1]), jac=True, method="L-BFGS-B").x
    return w, mu, sd


def last_word_hit(answer: str, gold: str) -> bool:
    """The answer contains the gold answer, or its last content word."""
    words = [t for t in re.findall(r"\w+", normalize(gold)) if t not in STOPWORDS and len(t) > 2]
    return contains_answer(answer, gold) or bool(words) and words[-1] in normalize(answer)


def composition(items: Sequence[dict[str, Any]], table: dict[str, np.ndarray],
                stored: dict[int, np.ndarray], cfg: ComposeConfig) -> dict[str, tuple[bool, bool]]:
    """Per question: (answer hit, last-word hit) of the product's composition."""
    open_cfg = replace(cfg, abstain_threshold=float("-inf"))
    encode = table_encode(table)
    out = {}
    for it in items:
        q = it["q"]
        res = compose_evidence(evidence(it, stored), encode, open_cfg)
        out[q["id"]] = (contains_answer(res.answer, q["answer"]),
                        last_word_hit(res.answer, q["answer"]))
    return out


def main(argv: list[str] | None = None) -> int:
    """Print the ceilings, composition and the best linear scorer on both halves."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--passages", type=int, default=3, help="passages whose sentences compete")
    ap.add_argument("--l2", type=float, nargs="*", default=[0.1, 1.0, 10.0])
    args = ap.parse_args(argv)
    require_data()
    items, table = load_cache()
    stored = load_stored()
    cfg = ComposeConfig()
    halves = {"Jan–Jun (tuning)": TUNE_PREFIXES, "Jul–Dec (held out)": HELD_OUT_PREFIXES}
    n = {h: sum(it["q"]["id"].startswith(p) for it in items) for h, p in halves.items()}
    wide = {it["q"]["id"]: case(it, table, stored, 10, cfg) for it in items}
    cases = {it["q"]["id"]: case(it, table, stored, args.passages, cfg) for it in items}
    comp = composition(items, table, stored, cfg)

    def share(half: str, test: Any) -> float:
        return sum(bool(test(i)) for i in comp if i.startswith(halves[half])) / (n[half] or 1)

    rows = {
        f"ceiling, first {args.passages} passages": lambda i: cases[i] is not None
        and cases[i].y.any(),
        "ceiling, first 10 passages": lambda i: wide[i] is not None and wide[i].y.any(),
        "composition (answer hit)": lambda i: comp[i][0],
        "composition, gold's last word": lambda i: comp[i][1],
    }
    tune = [c for i, c in cases.items() if c is not None and i.startswith(TUNE_PREFIXES)]
    for l2 in args.l2:
        w, mu, sd = fit_listwise(tune, l2)
        picks = {i: c.y[pick(((c.x - mu) / sd) @ w, c, cfg)].any()
                 for i, c in cases.items() if c is not None}
        rows[f"best linear scorer, l2 {l2:g}"] = lambda i, p=picks: p.get(i, False)
    print(f"{'(answerable questions)':<36}" + "".join(f"{h:>22}" for h in halves))
    for name, test in rows.items():
        print(f"{name:<36}" + "".join(f"{share(h, test):>22.3f}" for h in halves))
    print(f"weights (l2 {args.l2[-1]:g}, per unit of each feature): " + ", ".join(
        f"{f} {v:+.2f}" for f, v in zip(FEATURES, w / sd, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
