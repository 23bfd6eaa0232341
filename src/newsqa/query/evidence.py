"""The evidence an extractive answer is composed from, and its composition: the stage between
retrieval and the answer that benchmarks replay from a cache (``bench/answers.py``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from newsqa.query.claims import Encode
from newsqa.query.compose import ComposeConfig, Composed, compose
from newsqa.records import Passage


@dataclass(frozen=True)
class Evidence:
    """What composition weighs: the retrieved ``passages`` (best first), the sentence vectors
    ``stored`` with those it considers (by chunk id), the archive's ``idf`` of the question's
    words (None: every word weighs the same) and ``query_vector``, the question embedded as
    those sentences were."""

    question: str
    passages: Sequence[Passage]
    stored: Mapping[int, np.ndarray]
    idf: Mapping[str, float] | None
    query_vector: np.ndarray


def compose_evidence(
    evidence: Evidence, encode: Encode, cfg: ComposeConfig, view: str = "answer"
) -> Composed:
    """The extractive answer of ``view`` from ``evidence``; ``encode`` embeds the sentences
    that have no stored vector (:func:`newsqa.query.compose.compose`)."""
    e = evidence
    return compose(e.question, e.passages, encode, e.query_vector, cfg, view, e.idf, e.stored)
