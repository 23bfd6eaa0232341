"""The sentence vectors composition compares with the question: those ingest stored with each
chunk (:mod:`newsqa.index.sentvec`), the embedder's for the rest, and the shortlist of
candidates worth embedding when some have none."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from newsqa.records import Passage
from newsqa.text import split_sentences


def stored_vectors(
    cands: Sequence[tuple[int, int, str]],
    passages: Sequence[Passage],
    stored: Mapping[int, np.ndarray],
) -> list[np.ndarray | None]:
    """Each candidate's stored vector (row 0 is the headline's, row i + 1 sentence i's), or
    None where its chunk has none, the row is empty, or the rows do not match the sentences
    (split another way than when they were stored)."""
    usable: dict[int, np.ndarray | None] = {}
    for pi in {pi for pi, _, _ in cands}:
        rows = stored.get(passages[pi].chunk_id)
        fits = rows is not None and len(rows) == 1 + len(split_sentences(passages[pi].text))
        usable[pi] = rows if fits else None
    out: list[np.ndarray | None] = []
    for pi, si, _ in cands:
        rows = usable[pi]
        row = None if rows is None else rows[si + 1]
        out.append(row if row is not None and bool(np.any(row)) else None)
    return out


def sentence_matrix(
    known: Sequence[np.ndarray | None],
    texts: Sequence[str],
    encode: Callable[[Sequence[str]], np.ndarray],
) -> np.ndarray:
    """The stored vectors, and ``encode`` of the texts that have none (one call)."""
    missing = [j for j, v in enumerate(known) if v is None]
    fresh = encode([texts[j] for j in missing]) if missing else None
    dim = len(next((v for v in known if v is not None), fresh[0] if fresh is not None else []))
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for j, v in enumerate(known):
        if v is not None:
            out[j] = v
    if fresh is not None:
        out[missing] = fresh
    return out


def shortlist(
    lexical: Sequence[float], cands: Sequence[tuple[int, int, str]], n: int
) -> list[int]:
    """The candidates worth embedding: every sentence of the first passage, then the best
    ``n`` others by their lexical score, in candidate order."""
    first = [j for j, c in enumerate(cands) if c[0] == 0]
    rest = sorted((j for j, c in enumerate(cands) if c[0] != 0), key=lambda j: -lexical[j])
    return sorted(first + rest[: max(n - len(first), 0)])
