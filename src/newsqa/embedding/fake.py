"""The model-free embedder for tests about logic and for fault drills
(``NEWSQA_EMBEDDING__EMBEDDER=hash``)."""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Sequence

import numpy as np


class HashEmbedder:
    """A deterministic word-hashing embedder: no model, no relevance beyond shared words.

    Each lower-cased word adds +1 or -1 (by a CRC of the word) to one of ``dim`` buckets, and the
    sum is normalised, so texts that share words have a positive cosine and identical texts a
    cosine of 1. Tests that are about logic rather than relevance, and fault drills, use it so
    their results are exact and need no model load (``NEWSQA_EMBEDDING__EMBEDDER=hash``).
    """

    name = "newsqa/hash-embedder"
    backend = "hash"
    precision = "fp32"

    def __init__(self, dim: int = 384, max_seq_length: int = 256) -> None:
        self.dim = dim
        self.max_seq_length = max_seq_length

    def encode(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """One unit vector per text (all zeros for a text without words)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORDS.findall(text.lower()):
                h = zlib.crc32(word.encode("utf-8"))
                out[row, h % self.dim] += 1.0 if (h >> 16) & 1 else -1.0
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
        if progress is not None and len(texts):
            progress(len(texts))
        return out

    def encode_spans(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]],
        progress: Callable[[int], None] | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """:meth:`encode`, and each span's text hashed on its own (exact, for tests)."""
        pooled = [self.encode([t[a:b] for a, b in sp]) for t, sp in zip(texts, spans, strict=True)]
        return self.encode(texts, progress), pooled

    def count_wordpieces(self, text: str) -> int:
        """Words and punctuation marks, plus [CLS] and [SEP] (a stand-in for word pieces)."""
        return len(_PIECES.findall(text)) + 2


_WORDS = re.compile(r"\w+")
_PIECES = re.compile(r"\w+|[^\w\s]")
