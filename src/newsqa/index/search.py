"""Where an index's chunks are searched: one contract, a backend per value of the manifest's
``backend`` key, picked by :func:`make_search`.

``local`` (the default, :mod:`newsqa.index.local`) searches in this process: FAISS over the
vectors it holds (brought up to date from the catalogue's change log, snapshotted to
``vectors.faiss``) and FTS5 in the catalogue. ``milvus`` searches a Milvus collection shared by
every process (:mod:`newsqa.index.milvus`, imported only then). Each backend owns its data and
reads the catalogue only through its contract. Fusion, the date priors, story clustering and
composition sit above this contract and do not fork per backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Protocol

import numpy as np

from newsqa.index.catalogue.base import Catalogue
from newsqa.index.errors import IndexMismatchError
from newsqa.index.filters import CompiledFilter
from newsqa.index.lexicon import Lexicon
from newsqa.index.local import Hits, LocalSearch
from newsqa.index.manifest import IndexManifest

__all__ = ["Hits", "SearchBackend", "make_search"]


class SearchBackend(Protocol):
    """What the index needs from a search backend."""

    name: str
    #: True when this process holds the vectors itself (they catch up from the change log and
    #: are snapshotted by the writer); False when a shared service holds them.
    in_process: bool
    #: The catalogue generation the backend reflects.
    loaded_generation: int
    #: Postings and idf of the catalogue's passages.
    lexicon: Lexicon

    def refresh(self) -> None:
        """Catch up with the catalogue's change log (cheap when current)."""
        ...

    def updating(self) -> AbstractContextManager[None]:
        """Hold the backend current while a write lands (under the writer lock)."""
        ...

    def written(
        self, gen: int, added: Sequence[int], vecs: np.ndarray, removed: Sequence[int]
    ) -> None:
        """Take in a write the catalogue committed as generation ``gen``."""
        ...

    def resume(self) -> None:
        """Complete a write a killed writer left behind (under the writer lock)."""
        ...

    def checkpoint(self) -> None:
        """Persist what the backend holds and prune the change log up to it (under the writer
        lock)."""
        ...

    def candidates(
        self, qvec: np.ndarray, terms: Sequence[str], n: int, title_weight: float,
        f: CompiledFilter,
    ) -> tuple[Hits, Hits]:
        """Dense and lexical top ``n`` (chunk id, score), best first, under the filters; the
        filters fail closed."""
        ...

    def neighbours(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` (cosines, ids) per query row over every chunk; -1 where there is none."""
        ...

    def vectors_of(self, ids: list[int]) -> np.ndarray:
        """The stored vectors of these chunk ids, in order (zeros for one not stored)."""
        ...

    def held(self) -> int:
        """Vectors held in this process."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def make_search(
    catalogue: Catalogue, manifest: IndexManifest, uri: str | None,
    token: str | None = None, vector_codec: str = "flat",
) -> SearchBackend:
    """The backend the manifest's ``backend`` names (``local`` when it names none)."""
    backend = manifest.backend
    if backend == "local":
        return LocalSearch(catalogue, vector_codec)
    if backend == "milvus":
        from newsqa.index.milvus import MilvusSearch

        return MilvusSearch(
            catalogue, Lexicon(catalogue), uri or str(catalogue.path / "milvus.db"),
            str(manifest.milvus_collection), token,
        )
    raise IndexMismatchError(f"index {catalogue.path} names an unknown backend {backend!r}")
