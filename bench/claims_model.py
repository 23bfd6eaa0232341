"""The claim check on sentences a real language model writes, with each encoder it may use.

``bench/claims.py`` measures the check on claims made from the passages, whose truth is known.
This runs a real model instead: for a sample of answerable 2023 questions of each half (the
same draw every run), each as of its own date over the full 2023 index, the model writes its
answer once from the 5 best passages (``newsqa.query.generate``), and the same text is then
checked twice, the claim check embedding with the search embedder and with the shipped dual
reader's encoder (``NEWSQA_GENERATION__CLAIM_ENCODER``). It prints, per half, how many checked
sentences each keeps and how many answers keep at least one, then every sentence the two
encoders disagree on, with the passage the sentence cites and the closest sentence of all the
passages given (a sentence the check rates low within the passages it cites but that another
passage states nearly word for word was cited under the wrong number), for a person to judge.
Nothing here is a test.

Needs an OpenAI-compatible server (docs/benchmarks.md, issue 11, starts llama.cpp's with the
packaged Gemma 3 270M) and the full 2023 index (``bench/quality.py --build-only``):

    .venv/bin/python -m bench.claims_model --url http://127.0.0.1:8931/v1 [--per-half 25]
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.reader_curve import HALVES, half_of
from bench.serving_backend import cpu_flags
from bench.slice import CACHE, QUESTIONS, command_line, git_commit, now
from newsqa.eval import is_answerable, load_questions
from newsqa.models import Filters, Passage
from newsqa.query.claims import Encode
from newsqa.query.events import ClaimEvent
from newsqa.query.generate import GeneratedAnswer
from newsqa.query.llm import Generator
from newsqa.reader.runtime import load_reader
from newsqa.service import NewsQA
from newsqa.settings import get_settings
from newsqa.text import split_sentences

CHECKED = ("kept", "flagged", "dropped")


@dataclass
class Checked:
    """One sentence the check ruled on: its text and, per encoder, (status, similarity)."""

    text: str
    verdicts: dict[str, tuple[str, float]]


class Recording:
    """A language model that passes another's pieces on and keeps them."""

    def __init__(self, model: Generator) -> None:
        self.model = model
        self.pieces: list[str] = []

    def stream(self, messages: Sequence[dict[str, str]]) -> Iterator[str]:
        for piece in self.model.stream(messages):
            self.pieces.append(piece)
            yield piece


class Replay:
    """A language model that writes what another wrote."""

    def __init__(self, pieces: Sequence[str]) -> None:
        self.pieces = list(pieces)

    def stream(self, messages: Sequence[dict[str, str]]) -> Iterator[str]:
        yield from self.pieces


def paired(runs: dict[str, list[ClaimEvent]]) -> list[Checked]:
    """The sentences every encoder's run checked, in order, with each run's verdict. The runs
    replay one text, so their events line up one for one; a run that stopped early (its answer
    was long enough) leaves the rest unpaired."""
    names = list(runs)
    out = []
    for events in zip(*(runs[n] for n in names), strict=False):
        if len({e.text for e in events}) != 1:
            raise ValueError(f"the runs diverge at {events[0].text!r}")
        if all(e.status in CHECKED for e in events):
            out.append(Checked(events[0].text, {
                n: (e.status, float(e.similarity or 0.0)) for n, e in zip(names, events,
                                                                           strict=True)}))
    return out


def summary(rows: Sequence[Sequence[Checked]], names: Sequence[str]) -> dict[str, dict[str, int]]:
    """Per encoder: sentences checked and kept, and answers (one list of rows each) keeping at
    least one."""
    return {n: {"checked": sum(len(r) for r in rows),
                "kept": sum(c.verdicts[n][0] == "kept" for r in rows for c in r),
                "answers_kept": sum(any(c.verdicts[n][0] == "kept" for c in r) for r in rows)}
            for n in names}


def closest(text: str, passages: Sequence[Passage], encode: Encode) -> tuple[int, float, str]:
    """(passage number, cosine, sentence) of the sentence of ``passages`` closest to ``text``."""
    best = (0, -1.0, "")
    vec = encode([text])[0]
    for n, p in enumerate(passages, 1):
        sents = split_sentences(p.text)
        if sents:
            sims = encode(sents) @ vec
            j = int(np.argmax(sims))
            if float(sims[j]) > best[1]:
                best = (n, float(sims[j]), sents[j])
    return best


def main() -> None:
    """Generate once per question, check with each encoder, print the tables."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True, help="the OpenAI-compatible server's /v1 address")
    ap.add_argument("--index", type=Path, default=CACHE / "full-2023")
    ap.add_argument("--per-half", type=int, default=25, help="questions drawn per half")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=180.0, help="seconds per answer")
    args = ap.parse_args()
    svc = NewsQA.open(get_settings(index__path=str(args.index), generator__url=args.url,
                                   generator__timeout_s=args.timeout), create=False)
    assert svc.generator is not None
    encoders: dict[str, Encode] = {"embedder": svc.embedder.encode,
                                   "reader": load_reader(None).embed}
    questions = [q for q in load_questions(QUESTIONS) if is_answerable(q)]
    rng = random.Random(args.seed)
    print(f"command: {command_line()}\ncommit {git_commit()}, {now()}; CPU flags: {cpu_flags()}")
    try:
        for half, _ in HALVES:
            pool = [q for q in questions if half_of(q) == half]
            rows: list[list[Checked]] = []
            notes: list[str] = []
            for q in rng.sample(pool, min(args.per_half, len(pool))):
                passages = svc.search(q["question"], 5, Filters(as_of=q["date"]))
                record = Recording(svc.generator)
                runs: dict[str, list[ClaimEvent]] = {}
                for name, encode in encoders.items():
                    model = record if not runs else Replay(record.pieces)
                    gen = GeneratedAnswer(q["question"], passages, q["date"], model, encode,
                                          svc.generation)
                    runs[name] = [e for e in gen.run() if isinstance(e, ClaimEvent)]
                row = paired(runs)
                rows.append(row)
                for c in row:
                    if len({v[0] for v in c.verdicts.values()}) > 1:
                        notes.append(_disagreement(q, c, passages, encoders["embedder"]))
            print(f"\n{half}: {len(rows)} questions, gold answers not consulted\n")
            print("| encoder | sentences checked | kept | answers keeping one at least |")
            print("|---|---:|---:|---:|")
            for name, s in summary(rows, list(encoders)).items():
                print(f"| {name} | {s['checked']} | {s['kept']} | {s['answers_kept']} |")
            print(f"\n{len(notes)} sentences the encoders disagree on:\n")
            print("\n".join(notes))
    finally:
        svc.close()


def _disagreement(q: dict[str, Any], c: Checked, passages: Sequence[Passage],
                  encode: Encode) -> str:
    n, sim, sent = closest(c.text, passages, encode)
    verdicts = ", ".join(f"{k} {v[0]} ({v[1]:.2f})" for k, v in c.verdicts.items())
    return (f"- {q['id']} {c.text!r}: {verdicts} (similarity within the passages it cites); "
            f"closest sentence of all 5 passages, by the embedder: [{n}] ({sim:.2f}) "
            f"{sent[:160]!r}")


if __name__ == "__main__":
    main()
