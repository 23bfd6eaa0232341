"""Where an index's chunks are searched: one contract, a backend per value of the manifest's
``backend`` key, picked by :func:`make_search`.

``local`` (the default) searches in this process: FAISS over the vectors it holds (brought up
to date from the change log, snapshotted to ``vectors.faiss``) and FTS5 in the index's SQLite.
``milvus`` searches a Milvus collection shared by every process (:mod:`newsqa.index.milvus`,
imported only then). Fusion, the date priors, story clustering and composition sit above this
contract and do not fork per backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from newsqa.models import Filters

if TYPE_CHECKING:
    from newsqa.index.store import NewsIndex

Hits = list[tuple[int, float]]


class SearchBackend(Protocol):
    """What the index needs from a search backend."""

    name: str
    #: True when this process holds the vectors itself (they catch up from the change log and
    #: are snapshotted by the writer); False when a shared service holds them.
    in_process: bool

    def candidates(
        self, qvec: np.ndarray, terms: Sequence[str], n: int, title_weight: float,
        f: Filters | None,
    ) -> tuple[Hits, Hits]:
        """Dense and lexical top ``n`` (chunk id, score), best first, under the filters; the
        filters fail closed."""
        ...

    def neighbours(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` (cosines, ids) per query row over every chunk; -1 where there is none."""
        ...

    def vectors(self, ids: list[int]) -> np.ndarray:
        """The stored vectors of these chunk ids, in order (zeros for one not stored)."""
        ...

    def written(
        self, db: Any, added: Sequence[int], vecs: np.ndarray, removed: Sequence[int]
    ) -> int | None:
        """Take in a write the catalogue ``db`` has committed (under the writer lock); returns
        the generation the backend now reflects when it tracks one itself."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class LocalSearch:
    """FAISS over this process's copy of the vectors and FTS5 in the index's SQLite."""

    name = "local"
    in_process = True

    def __init__(self, index: NewsIndex) -> None:
        self.index = index

    def candidates(
        self, qvec: np.ndarray, terms: Sequence[str], n: int, title_weight: float,
        f: Filters | None,
    ) -> tuple[Hits, Hits]:
        """Both retrievers restricted to the chunk ids that pass the filters."""
        allowed = self.index.allowed_chunk_ids(f)
        if allowed is not None and len(allowed) == 0:
            return [], []
        return (
            self.index.vectors.search(qvec, n, allowed),
            self.index.lexical(terms, n, title_weight, allowed),
        )

    def neighbours(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """FAISS's unfiltered top ``k`` per row."""
        if len(self.index.vectors) == 0:
            return (np.full((len(queries), k), -1.0, np.float32),
                    np.full((len(queries), k), -1, np.int64))
        return self.index.vectors.search_many(queries, k)

    def vectors(self, ids: list[int]) -> np.ndarray:
        """From the in-memory FAISS copy."""
        return self.index.vectors.reconstruct(ids)

    def written(
        self, db: Any, added: Sequence[int], vecs: np.ndarray, removed: Sequence[int]
    ) -> int | None:
        """Apply the write to this process's vectors (FTS5 rows were written in its
        transaction)."""
        self.index.vectors.apply(
            np.array(added, dtype=np.int64), vecs, np.array(removed, dtype=np.int64)
        )
        return None

    def close(self) -> None:
        """Nothing to release: the index owns its connections."""


def make_search(
    index: NewsIndex, manifest: dict[str, Any], uri: str | None, token: str | None = None
) -> SearchBackend:
    """The backend the manifest's ``backend`` names (``local`` when it names none)."""
    backend = manifest.get("backend", "local")
    if backend == "local":
        return LocalSearch(index)
    if backend == "milvus":
        from newsqa.index.milvus import MilvusSearch

        return MilvusSearch(
            uri or str(Path(index.path) / "milvus.db"), str(manifest["milvus_collection"]),
            int(manifest["dim"]), token,
        )
    from newsqa.index.store import IndexMismatchError

    raise IndexMismatchError(f"index {index.path} names an unknown backend {backend!r}")
