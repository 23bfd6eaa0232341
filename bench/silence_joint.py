"""Does the reader's probability tell silence better than the evidence model alone? (issue 41)

Reads two ``bench/answer_quality.py`` runs over the same questions, both with abstention off
(``--set composition__abstain_threshold=0``): one with the reader on, whose ``evidence`` is the
reader's best calibrated probability, and one with it off, whose ``evidence`` is the composer's
evidence model's probability. Three abstention scores are compared: each alone, and a logistic
model of both (their log-odds), fitted on 2023 May–June only (the months the reader was not
trained on; July–December is never fitted on). For each, the share of ``answerable: false``
questions that abstain when a given share of answerable ones does, per half; a question that
abstained in either run (no passage, a year no passage names) abstains under every score.

    .venv/bin/python -m bench.answer_quality --label on0 --set composition__abstain_threshold=0
    .venv/bin/python -m bench.answer_quality --label off0 --set composition__abstain_threshold=0 \\
        --set reader__mode=off
    .venv/bin/python -m bench.silence_joint bench/.cache/answer-quality-on0.json \\
        bench/.cache/answer-quality-off0.json
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from newsqa.training.evidence import logistic

#: The months the joint model is fitted on, and the halves reported.
FIT_MONTHS = ("202305", "202306")
HALVES = (("Jan–Jun (tuning)", "202301", "202306"), ("Jul–Dec (held out)", "202307", "202312"))
SHARES = (0.03, 0.048, 0.06, 0.08)


def log_odds(p: float | None) -> float:
    """The log-odds of probability ``p``, clipped to [1e-4, 1 − 1e-4]; None counts as 1e-4."""
    q = min(max(p if p is not None else 1e-4, 1e-4), 1 - 1e-4)
    return math.log(q / (1 - q))


def joined(
    on: Sequence[Mapping[str, Any]], off: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """One row per question of both runs: ``id``, ``answerable``, ``hard`` (abstained in both
    runs, or without evidence in one), ``reader`` and ``evidence`` (log-odds)."""
    by_id = {r["id"]: r for r in off}
    out = []
    for r in on:
        o = by_id.get(r["id"])
        if o is None:
            continue
        hard = (r.get("evidence") is None or o.get("evidence") is None
                or (bool(r.get("abstained")) and bool(o.get("abstained"))))
        out.append({"id": str(r["id"]), "answerable": bool(r.get("answerable")), "hard": hard,
                    "reader": log_odds(r.get("evidence")), "evidence": log_odds(o.get("evidence"))})
    return out


def scores(rows: Sequence[Mapping[str, Any]], features: Sequence[str], w: np.ndarray) -> np.ndarray:
    """Each row's score under weights ``w`` (−inf for a row that abstains whatever)."""
    x = np.array([[1.0, *(r[f] for f in features)] for r in rows]).reshape(len(rows), -1)
    return np.where([r["hard"] for r in rows], -np.inf, x @ w)


def unanswerable_at(s: np.ndarray, answerable: np.ndarray, share: float) -> float:
    """The share of unanswerable rows under the cut at which ``share`` of answerable rows fall."""
    ans = np.sort(s[answerable])
    cut = ans[min(int(share * len(ans)), len(ans) - 1)]
    return float(np.mean(s[~answerable] < cut))


def compare(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """For each scorer (evidence, reader, joint) and half, the unanswerable share abstaining at
    each of :data:`SHARES` of answerable ones, and the fitted weights."""
    fit_rows = [r for r in rows if r["id"][:6] in FIT_MONTHS and not r["hard"]]
    out = []
    for name, features in (("evidence model", ("evidence",)), ("reader", ("reader",)),
                           ("joint", ("evidence", "reader"))):
        w = logistic(np.array([[r[f] for f in features] for r in fit_rows]),
                         np.array([r["answerable"] for r in fit_rows], dtype=float))
        for label, lo, hi in HALVES:
            half = [r for r in rows if lo <= r["id"][:6] <= hi]
            s = scores(half, features, w)
            answerable = np.array([r["answerable"] for r in half])
            out.append({"scorer": name, "half": label, "weights": [round(float(v), 3) for v in w],
                        **{f"{share:.3f}": unanswerable_at(s, answerable, share)
                           for share in SHARES}})
    return out


def main(argv: list[str] | None = None) -> int:
    """Print the comparison table (markdown)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("reader_on", type=Path, help="answer_quality rows, reader on, threshold 0")
    ap.add_argument("reader_off", type=Path, help="the same with reader__mode=off")
    args = ap.parse_args(argv)
    on = json.loads(args.reader_on.read_text())["rows"]
    off = json.loads(args.reader_off.read_text())["rows"]
    table = compare(joined(on, off))
    print("| scorer | half | weights | " + " | ".join(
        f"unans. at {100 * s:.1f} % ans." for s in SHARES) + " |")
    print("|---|---|---|" + "---:|" * len(SHARES))
    for r in table:
        print(f"| {r['scorer']} | {r['half']} | {r['weights']} | " + " | ".join(
            f"{100 * r[f'{s:.3f}']:.1f} %" for s in SHARES) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
