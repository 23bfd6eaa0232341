"""FAISS vector store keyed by chunk id, saved atomically next to the SQLite database."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import faiss
import numpy as np


class VectorStore(Protocol):
    """Nearest-neighbour search over unit vectors keyed by chunk id (what the index needs)."""

    dim: int

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors under the given int64 ids."""
        ...

    def remove(self, ids: np.ndarray) -> None:
        """Remove the vectors with these ids (missing ids are ignored)."""
        ...

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Top ``k`` (id, cosine) pairs; with ``allowed``, only among those ids."""
        ...

    def search_many(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` (cosines, ids) per row of ``queries``, unfiltered; missing ids are -1."""
        ...

    def reconstruct(self, ids: list[int]) -> np.ndarray:
        """The stored vectors of these ids, in order."""
        ...

    def save(self, path: Path) -> None:
        """Write to ``path`` atomically."""
        ...

    def __len__(self) -> int: ...


class FaissStore:
    """Exact inner-product search (vectors are normalised, so scores are cosines)."""

    def __init__(self, dim: int, index: faiss.Index | None = None) -> None:
        self.dim = dim
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors under the given int64 ids."""
        if len(ids):
            self.index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64)
            )

    def remove(self, ids: np.ndarray) -> None:
        """Remove the vectors with these ids (missing ids are ignored)."""
        if len(ids):
            self.index.remove_ids(np.asarray(ids, dtype=np.int64))  # type: ignore[arg-type]

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Top ``k`` (id, cosine) pairs; an empty ``allowed`` returns nothing (fails closed)."""
        if self.index.ntotal == 0 or k <= 0:
            return []
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        params = None
        if allowed is not None:
            if len(allowed) == 0:
                return []
            # Exact shortcut: when k allowed ids are among the unfiltered top 4k, they are the
            # filtered top k. Otherwise search again restricted to the allowed ids.
            wide = min(4 * k, self.index.ntotal)
            scores, ids = self.index.search(q, wide)
            keep = np.isin(ids[0], allowed)
            if int(keep.sum()) >= min(k, len(allowed)):
                pairs = zip(ids[0][keep], scores[0][keep], strict=True)
                return [(int(i), float(s)) for i, s in pairs if i >= 0][:k]
            params = faiss.SearchParameters(  # type: ignore[call-arg]
                sel=faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
            )
            k = min(k, len(allowed))
        k = min(k, self.index.ntotal)
        scores, ids = self.index.search(q, k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def search_many(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` (cosines, ids) per row of ``queries``, unfiltered; missing ids are -1."""
        q = np.ascontiguousarray(queries, dtype=np.float32)
        scores, ids = self.index.search(q, k)
        return scores, ids

    def reconstruct(self, ids: list[int]) -> np.ndarray:
        """The stored vectors of these ids, in order."""
        return (
            np.vstack([self.index.reconstruct(int(i)) for i in ids])
            if ids
            else np.zeros((0, self.dim), dtype=np.float32)
        )

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def save(self, path: Path) -> None:
        """Write to ``path`` atomically (temporary file, fsync, rename)."""
        tmp = path.with_suffix(path.suffix + ".tmp")
        faiss.write_index(self.index, str(tmp))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, dim: int) -> FaissStore:
        """Read an index written by :meth:`save`."""
        index = faiss.read_index(str(path))
        if index.d != dim:
            raise ValueError(f"vector file {path} has dimension {index.d}, expected {dim}")
        return cls(dim, index)
