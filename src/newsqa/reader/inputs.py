"""What the reader reads: the question and each candidate sentence as text, and their word
pieces, each cut to ``max_pieces``.

Shared by training and serving, so that the model is always asked what it was trained on. A
candidate is read as its sentence alone (``context`` "sentence" in ``reader.json``: reading its
headline or the sentence before it too was measured and rejected, see docs/reader.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: Word pieces per text ([CLS] and [SEP] included).
MAX_PIECES = 128

#: What a candidate is read with: its sentence alone (the one context the runtime reads).
CONTEXT = "sentence"
CONTEXTS = (CONTEXT,)


@dataclass(frozen=True)
class Candidate:
    """A sentence that may answer: its text, its article's headline and the sentence before it
    in its passage ("" for none), and the sentence vector the index stored for it (unit length).
    The reader reads the sentence (:func:`candidate_text`)."""

    sentence: str
    title: str = ""
    before: str = ""
    vector: np.ndarray | None = field(default=None, compare=False, repr=False)


def check_context(context: str) -> str:
    """``context`` if it is one of :data:`CONTEXTS`, else a ValueError that lists them."""
    if context not in CONTEXTS:
        raise ValueError(f"unknown reader context {context!r} (one of {', '.join(CONTEXTS)})")
    return context


def candidate_text(c: Candidate, context: str = CONTEXT) -> str:
    """What the reader reads of a candidate under ``context`` (one of :data:`CONTEXTS`): its
    sentence."""
    check_context(context)
    return c.sentence.strip()


class PairTokenizer:
    """Word pieces of questions and candidates read apart, padded into one batch."""

    def __init__(
        self, tokenizer_json: Path, max_pieces: int = MAX_PIECES, context: str = CONTEXT,
    ) -> None:
        from tokenizers import Tokenizer

        self.context = check_context(context)
        self._tok = Tokenizer.from_str(tokenizer_json.read_text(encoding="utf-8"))
        self._tok.no_padding()
        self._tok.enable_truncation(max_pieces, strategy="longest_first")
        self.max_pieces = max_pieces

    def encode_texts(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(input ids, attention mask, token type ids) for ``texts`` read alone, int64 arrays of
        shape (len(texts), longest text)."""
        return _padded(self._tok.encode_batch([" ".join(t.split()) or "?" for t in texts]))

    def encode_candidates(
        self, candidates: Sequence[Candidate]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The same arrays for what the reader reads of ``candidates``."""
        return self.encode_texts([candidate_text(c, self.context) for c in candidates])


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
