"""What the reader reads: one (question, candidate) pair as text, and its word pieces.

Shared by training and serving, so that the model is always asked what it was trained on. A
candidate is read as its sentence, then its article's headline, then the sentence before it in
the passage (context for "he", "the deal", ...); the pair is cut to ``max_pieces`` word pieces
from the candidate's end, so the sentence itself is kept whole whenever it fits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Word pieces per pair (question and candidate together, [CLS] and [SEP]s included).
MAX_PIECES = 128


@dataclass(frozen=True)
class Candidate:
    """A sentence that may answer: its text, its article's headline and the sentence before it
    in its passage ("" for none)."""

    sentence: str
    title: str = ""
    before: str = ""


def candidate_text(c: Candidate) -> str:
    """The candidate side of a pair: the sentence, then its headline and the one before it."""
    parts = [c.sentence.strip()]
    if c.title and c.title.strip() != c.sentence.strip():
        parts.append(c.title.strip())
    if c.before:
        parts.append(c.before.strip())
    return " | ".join(parts)


class PairTokenizer:
    """Word pieces of (question, candidate) pairs, padded into one batch."""

    def __init__(self, tokenizer_json: Path, max_pieces: int = MAX_PIECES) -> None:
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_str(tokenizer_json.read_text(encoding="utf-8"))
        self._tok.no_padding()
        self._tok.enable_truncation(max_pieces, strategy="longest_first")
        self.max_pieces = max_pieces

    def encode(
        self, question: str, candidates: Sequence[Candidate]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(input ids, attention mask, token type ids) for ``question`` with each candidate,
        int64 arrays of shape (len(candidates), longest pair)."""
        q = " ".join(question.split()) or "?"
        encs = self._tok.encode_batch([(q, candidate_text(c) or "?") for c in candidates])
        width = max((len(e.ids) for e in encs), default=1)
        ids = np.zeros((len(encs), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for i, e in enumerate(encs):
            n = len(e.ids)
            ids[i, :n] = e.ids
            mask[i, :n] = 1
            types[i, :n] = e.type_ids
        return ids, mask, types
