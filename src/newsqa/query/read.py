"""Answers chosen by the reader (:mod:`newsqa.reader`): every candidate sentence of the first
``passages`` passages is scored by the reader (a ``query`` reader reads its stored sentence
vector), its logit fused with the composer's score of the same sentence
(:func:`newsqa.query.compose.score_candidates`, weights fit on the training years), the answer
leads with the best one, and the calibrated probability that it answers (the composer's
evidence weighing in) decides abstention.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from newsqa.query.compose import (
    ComposeConfig,
    Composed,
    Scored,
    abstention,
    answer_candidates,
    cite,
    with_antecedents,
)
from newsqa.query.sentences import Question, analyse, answer_span
from newsqa.reader.inputs import Candidate
from newsqa.records import Passage
from newsqa.text import split_sentences

if TYPE_CHECKING:
    from newsqa.reader.runtime import ReaderInfo


class Scorer(Protocol):
    """What composition needs of a reader (:class:`newsqa.reader.runtime.Reader`, or a fake)."""

    def logits(self, question: str, candidates: Sequence[Candidate]) -> np.ndarray:
        """One logit per candidate."""
        ...

    def probability(self, logit: float) -> float:
        """The calibrated chance that a candidate with ``logit`` answers."""
        ...


@dataclass
class ReadConfig:
    """How the reader is used: passages whose sentences it reads, the probability under which
    the answer abstains, and the share of the best probability a further sentence needs."""

    passages: int = 3
    abstain_below: float = 0.5
    keep_share: float = 0.5
    rerank: bool = False  # order the passages read by their best sentence's score
    rank_penalty: float = 0.0  # logit a candidate loses per place of its passage
    composer_weight: float = 0.0  # weight of the composer's score of a candidate in its logit
    evidence_weight: float = 0.0  # weight of the composer's evidence in the calibrated logit

    @classmethod
    def recorded(cls, info: ReaderInfo, passages: int, abstain_below: float | None = None,
                 rerank: bool = False) -> ReadConfig:
        """How a reader whose ``reader.json`` says ``info`` is used, reading ``passages``:
        the fusion, rank penalty and keep share it records, and its abstention threshold unless
        ``abstain_below`` overrides it."""
        return cls(passages, info.abstain_below if abstain_below is None else abstain_below,
                   info.keep_share, rerank, info.rank_penalty, info.composer_weight,
                   info.evidence_weight)


@dataclass
class Reading:
    """The reader's answer and, best first, the order of the passages it read by their best
    candidate's logit (passages without a candidate last, in their retrieval order)."""

    composed: Composed
    order: list[int]

    def reranked(self, passages: Sequence[Passage]) -> list[Passage]:
        """``passages`` with the ones read in the reader's order, the rest after them."""
        seen = set(self.order)
        return [passages[i] for i in self.order] + [
            p for i, p in enumerate(passages) if i not in seen]


def reader_candidates(
    passages: Sequence[Passage], q: Question,
    cands: list[tuple[int, int, str]] | None = None, vectors: np.ndarray | None = None,
) -> tuple[list[tuple[int, int, str]], list[Candidate]]:
    """Composition's candidates of ``passages`` (or ``cands``, already found, with their
    sentence ``vectors``) and what the reader reads of each."""
    if cands is None:
        cands = answer_candidates(passages, q)
    sentences = {pi: split_sentences(passages[pi].text) for pi in {pi for pi, _, _ in cands}}
    reads = [
        Candidate(s, passages[pi].title or "", sentences[pi][si - 1] if si > 0 else "",
                  None if vectors is None else vectors[j])
        for j, (pi, si, s) in enumerate(cands)
    ]
    return cands, reads


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def repeats(a: str, b: str) -> bool:
    """Whether sentence ``b`` mostly restates ``a`` (a wire copy's lead, a headline)."""
    wa, wb = _words(a), _words(b)
    return bool(wa and wb) and len(wa & wb) / min(len(wa), len(wb)) > 0.7


def fuse(
    logits: np.ndarray, composer: Sequence[float] | np.ndarray, ranks: Sequence[int],
    composer_weight: float, rank_penalty: float,
) -> np.ndarray:
    """The fused score of each candidate: the reader's logit, plus ``composer_weight`` times
    the composer's score of it, less ``rank_penalty`` per place of its passage (training
    chooses the weights with this same function)."""
    return (np.asarray(logits, dtype=np.float32)
            + composer_weight * np.asarray(composer, dtype=np.float32)
            - rank_penalty * np.asarray(ranks, dtype=np.float32))


def select_sentences(
    texts: Sequence[str], probs: Sequence[float], ranked: Sequence[int], keep_share: float,
    max_sentences: int, max_words: int,
) -> list[int]:
    """The answer's sentences (indices into ``texts``), best first: taken in ``ranked`` order
    while each reaches ``keep_share`` of the first one's probability, within ``max_sentences``
    and ``max_words`` (the first always), none restating one already chosen."""
    chosen: list[int] = []
    words = 0
    for j in ranked:
        if len(chosen) >= max_sentences or probs[j] < probs[ranked[0]] * keep_share:
            break
        n_words = len(texts[j].split())
        if chosen and words + n_words > max_words:
            continue
        if any(repeats(texts[c], texts[j]) for c in chosen):
            continue
        chosen.append(j)
        words += n_words
    return chosen


def read_answer(
    question: str,
    passages: Sequence[Passage],
    reader: Scorer,
    cfg: ComposeConfig,
    read: ReadConfig,
    scored: Scored | None = None,
) -> Composed:
    """The reader's answer from the first ``read.passages`` of ``passages``, or an abstention
    when no candidate's probability reaches ``read.abstain_below``."""
    return read_passages(question, passages, reader, cfg, read, scored).composed


def read_passages(
    question: str,
    passages: Sequence[Passage],
    reader: Scorer,
    cfg: ComposeConfig,
    read: ReadConfig,
    scored: Scored | None = None,
) -> Reading:
    """:func:`read_answer` with the order of the passages read (see :class:`Reading`).

    ``scored``: the composer's scores of the candidates of the passages read; its candidates are
    the ones read, and its scores and evidence are fused in, and the answer abstains where its
    evidence model does (``cfg.abstain_threshold``) as well as where the reader does. Without it
    the reader reads every candidate alone."""
    considered = passages[: read.passages]
    if scored is not None:
        q, cands, composer, evidence = scored.question, scored.cands, scored.scores, scored.evidence
        _, reads = reader_candidates(considered, q, cands, scored.svecs)
    else:
        q = analyse(question)
        cands, reads = reader_candidates(considered, q)
        composer, evidence = [0.0] * len(cands), 0.0
    if not cands:
        return Reading(abstention(0.0), list(range(len(considered))))
    if scored is not None and scored.answers < cfg.abstain_threshold:
        # The evidence model finds the passages on the topic but not answering it.
        return Reading(abstention(scored.answers), list(range(len(considered))))
    logits = fuse(reader.logits(question, reads), composer, [pi for pi, _, _ in cands],
                  read.composer_weight, read.rank_penalty)
    best_of: dict[int, float] = {}
    for (pi, _, _), x in zip(cands, logits, strict=True):
        best_of[pi] = max(best_of.get(pi, -np.inf), float(x))
    order = sorted(range(len(considered)), key=lambda i: (-best_of.get(i, -np.inf), i))
    shift = read.evidence_weight * evidence
    return Reading(_answer(q, considered, cands, logits, shift, reader, cfg, read), order)


def _answer(
    q: Question,
    considered: Sequence[Passage],
    cands: list[tuple[int, int, str]],
    logits: np.ndarray,
    shift: float,
    reader: Scorer,
    cfg: ComposeConfig,
    read: ReadConfig,
) -> Composed:
    probs = [reader.probability(float(x) + shift) for x in logits]
    ranked = sorted(range(len(cands)), key=lambda j: -logits[j])
    best = probs[ranked[0]]
    if best < read.abstain_below:
        return abstention(best)
    chosen = select_sentences([c[2] for c in cands], probs, ranked, read.keep_share,
                              cfg.max_sentences, cfg.max_words)
    shown = with_antecedents([cands[j] for j in chosen], considered, cfg.max_words)
    if not shown:
        return abstention(best)
    span = answer_span(q, shown[0][2]) if len(shown[0][2].split()) <= cfg.max_words else None
    return cite([(j, "") for j in range(len(shown))], shown, considered, best, cfg, " ", span)
