"""What the reader reads: one (question, candidate) pair as text, and its word pieces.

Shared by training and serving, so that the model is always asked what it was trained on. A
candidate is read as its sentence, then its article's headline, then the sentence before it in
the passage (context for "he", "the deal", ...), or less of that (``CONTEXTS``, a training
choice recorded with the model); the pair is cut to ``max_pieces`` word pieces
from the candidate's end, so the sentence itself is kept whole whenever it fits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: Word pieces per pair (question and candidate together, [CLS] and [SEP]s included).
MAX_PIECES = 128

#: What a candidate is read with besides its sentence (``TrainConfig.context``).
CONTEXTS = ("headline+before", "headline", "before", "sentence")
DEFAULT_CONTEXT = CONTEXTS[0]


@dataclass(frozen=True)
class Candidate:
    """A sentence that may answer: its text, its article's headline and the sentence before it
    in its passage ("" for none), and the sentence vector the index stored for it (unit length;
    what a ``query`` reader compares the question with, :mod:`newsqa.reader.dual`)."""

    sentence: str
    title: str = ""
    before: str = ""
    vector: np.ndarray | None = field(default=None, compare=False, repr=False)


def check_context(context: str) -> str:
    """``context`` if it is one of :data:`CONTEXTS`, else a ValueError that lists them."""
    if context not in CONTEXTS:
        raise ValueError(f"unknown reader context {context!r} (one of {', '.join(CONTEXTS)})")
    return context


def candidate_text(c: Candidate, context: str = DEFAULT_CONTEXT) -> str:
    """The candidate side of a pair: the sentence, then (as ``context`` says, one of
    :data:`CONTEXTS`) its headline and the one before it."""
    check_context(context)
    parts = [c.sentence.strip()]
    if "headline" in context and c.title and c.title.strip() != c.sentence.strip():
        parts.append(c.title.strip())
    if "before" in context and c.before:
        parts.append(c.before.strip())
    return " | ".join(parts)


class PairTokenizer:
    """Word pieces of (question, candidate) pairs, padded into one batch."""

    def __init__(
        self, tokenizer_json: Path, max_pieces: int = MAX_PIECES, context: str = DEFAULT_CONTEXT,
    ) -> None:
        from tokenizers import Tokenizer

        self.context = check_context(context)
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
        return _padded(self._tok.encode_batch(
            [(q, candidate_text(c, self.context) or "?") for c in candidates]))

    def encode_texts(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The same arrays for texts read alone (a dual reader's questions)."""
        return _padded(self._tok.encode_batch([" ".join(t.split()) or "?" for t in texts]))

    def encode_candidates(
        self, candidates: Sequence[Candidate]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The same arrays for candidates read alone (a dual reader's candidates)."""
        return self.encode_texts([candidate_text(c, self.context) for c in candidates])

    def piece_id(self, piece: str) -> int:
        """The vocabulary id of one word piece."""
        got = self._tok.token_to_id(piece)
        if got is None:
            raise KeyError(piece)
        return int(got)

    def answer_tokens(
        self, question: str, candidates: Sequence[Candidate], answer: str, width: int
    ) -> np.ndarray:
        """Float32 (len(candidates), ``width``): 1 for each candidate-side word piece inside a
        mention of ``answer`` (case and runs of spacing ignored, as near as a regular expression
        comes to :func:`newsqa.eval.contains_answer`), else 0; what the reader's word-piece
        head learns to point at."""
        q = " ".join(question.split()) or "?"
        words = answer.split()
        pattern = re.compile(r"\s+".join(map(re.escape, words)), re.IGNORECASE) if words else None
        out = np.zeros((len(candidates), width), dtype=np.float32)
        for i, c in enumerate(candidates):
            text = candidate_text(c, self.context) or "?"
            spans = [m.span() for m in pattern.finditer(text)] if pattern else []
            if not spans:
                continue
            enc = self._tok.encode(q, text)
            for t, (seq, (lo, hi)) in enumerate(zip(enc.sequence_ids, enc.offsets, strict=True)):
                if t < width and seq == 1 and hi > lo and any(
                        lo < b and hi > a for a, b in spans):
                    out[i, t] = 1.0
        return out


def _padded(encs: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
