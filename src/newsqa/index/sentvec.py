"""Sentence vectors stored with each chunk: the title's and each sentence's vector, read in the
passage's context by the same forward pass that embedded the chunk (ingest), so composing an
answer needs no model run for the sentences it compares with the question.

A chunk's rows are its title, then every sentence of :func:`~newsqa.text.split_sentences` of its
text, in order. They are stored in int8 with one scale per row (384 + 4 bytes a row, a quarter of
float32; the cosine to float32 stays within ~0.005), and an all-zero row means "none" (a chunk
without a title, or a sentence the tokenizer could not place).
"""

from __future__ import annotations

import numpy as np


def pack(rows: np.ndarray) -> bytes:
    """``rows`` (n, dim) float as bytes: n float32 scales, then n x dim int8."""
    rows = np.asarray(rows, dtype=np.float32)
    top = np.abs(rows).max(axis=1) if rows.size else np.zeros(len(rows), np.float32)
    scale = (top / 127.0).astype(np.float32)
    safe = np.where(scale > 0, scale, 1.0)[:, None]
    q = np.clip(np.rint(rows / safe), -127, 127).astype(np.int8)
    return scale.tobytes() + q.tobytes()


def unpack(blob: bytes, dim: int) -> np.ndarray:
    """What :func:`pack` wrote, as float32 (n, dim) unit rows (zero rows stay zero)."""
    n = len(blob) // (4 + dim)
    if n * (4 + dim) != len(blob):
        raise ValueError(f"a sentence-vector blob of {len(blob)} bytes is not n x (4 + {dim})")
    scale = np.frombuffer(blob, dtype=np.float32, count=n)
    q = np.frombuffer(blob, dtype=np.int8, offset=4 * n).reshape(n, dim)
    rows = q.astype(np.float32) * scale[:, None]
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)
