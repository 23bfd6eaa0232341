"""The catalogue contract: what the index facade (:class:`~newsqa.index.store.NewsIndex`), the
search backends and the lexicon need of a catalogue, whichever database holds it (``sqlite``:
:class:`~newsqa.index.catalogue.sqlite.SqliteCatalogue`; ``postgres``:
:class:`~newsqa.index.catalogue.postgres.PostgresCatalogue`), and the manifest check both apply.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from newsqa.index.catalogue.log import LogView
from newsqa.index.errors import IndexMismatchError
from newsqa.index.filters import CompiledFilter
from newsqa.index.postings import LexicalView
from newsqa.index.rescore import Postings
from newsqa.index.rows import ArticleRow

IDENTITY_KEYS = ("model", "dim", "tokenizer")


class Catalogue(Protocol):
    """Articles, chunks with their vectors, story clusters, sentence vectors, the lexical
    index, the change log and the write generation of one index; safe across threads."""

    #: ``sqlite`` or ``postgres``.
    name: str
    #: The index directory: where a backend keeps what it can rebuild (snapshots, postings).
    path: Path
    dim: int

    def close(self) -> None:
        """Release connections."""
        ...

    def cross_lock(self) -> AbstractContextManager[None]:
        """The writer lock between processes: held on entering, or IndexBusyError at once."""
        ...

    def generation(self) -> int:
        """Write counter; bumps in every write transaction."""
        ...

    # the change log, for backends
    def view(self) -> AbstractContextManager[LogView]:
        """One consistent view of generation, log and chunks."""
        ...

    def writer_view(self) -> AbstractContextManager[LogView]:
        """The same view, whose marks may be set (under the writer lock)."""
        ...

    def prune_log(self, upto: int) -> None:
        """Forget the changes up to generation ``upto`` (every backend reflects them)."""
        ...

    # writing (under the writer lock)
    def write(self, rows: Sequence[ArticleRow]) -> tuple[int, list[int], list[int]]:
        """Insert or replace articles in one transaction: its generation, chunk ids added and
        removed."""
        ...

    def delete(self, id_or_url: str) -> tuple[int, list[int]] | None:
        """Remove an article in one transaction: its generation and chunk ids removed, or None."""
        ...

    def add_sentence_vectors(self, rows: Sequence[tuple[int, np.ndarray]]) -> int:
        """Store sentence vectors of chunks already indexed; the chunks stored."""
        ...

    # the lexical index
    def stamped_postings(self, term: str, title_weight: float) -> Postings:
        """One word's passage ids (ascending), one-word BM25 scores (higher is better) and the
        state they were read in, where the catalogue tells it."""
        ...

    def carried_postings(self, term: str, title_weight: float, old: Postings) -> Postings | None:
        """``old`` carried to the state now (:mod:`newsqa.index.rescore`); None where the
        catalogue cannot."""
        ...

    def term_matches(self, term: str) -> int:
        """Passages containing ``term``, matched as the lexical index matches it."""
        ...

    def top_chunk_id(self) -> int:
        """The highest chunk id stored (0: none)."""
        ...

    def chunk_count(self) -> int:
        """Chunks stored."""
        ...

    def lexical_view(self) -> AbstractContextManager[LexicalView]:
        """One consistent state of the lexical index, for freezing common words' postings."""
        ...

    # reading
    def existing(
        self, ids: Sequence[str], urls: Sequence[str | None]
    ) -> dict[str, tuple[str, str]]:
        """Map each given id or url that is stored to (article id, content hash)."""
        ...

    def chunk_table(self) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        """The generation, every chunk id, its article's date (bytes) and outlet key."""
        ...

    def sentence_vectors(self, chunk_ids: Sequence[int]) -> dict[int, np.ndarray]:
        """Stored title and sentence vectors by chunk id (a chunk without them left out)."""
        ...

    def chunks_without_sentences(self, limit: int) -> tuple[int, list[tuple[int, str, str]]]:
        """How many chunks lack sentence vectors, and (id, title, text) of up to ``limit``."""
        ...

    def latest_date(self, f: CompiledFilter) -> str | None:
        """Publication date of the newest article that passes the filters."""
        ...

    def chunk_rows(self, columns: str, chunk_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """``columns`` of chunks ``c`` joined with their articles ``a``, keyed by chunk id."""
        ...

    def article(self, id_or_url: str) -> dict[str, Any] | None:
        """One article with its full text, by id or URL."""
        ...

    def list_articles(
        self, f: CompiledFilter, offset: int = 0, limit: int = 20
    ) -> tuple[int, list[dict[str, Any]]]:
        """A page of article metadata, newest first, and the total matching the filters."""
        ...

    def cluster_sources(self, cluster_ids: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
        """For each story cluster, its members as (article id, source)."""
        ...

    def counts(self) -> dict[str, Any]:
        """Articles, stories, chunks, outlets and the date range."""
        ...


def check_manifest(
    where: str, stored: dict[str, Any], manifest: dict[str, Any], versions: Sequence[int]
) -> None:
    """Raise :class:`IndexMismatchError` when the ``stored`` manifest of the index ``where``
    names another model, dimension, tokenizer or search backend than ``manifest``, or a format
    version not in ``versions``."""
    for key in IDENTITY_KEYS:
        if stored.get(key) != manifest.get(key):
            raise IndexMismatchError(
                f"index {where} was built with {key}={stored.get(key)!r}, but this "
                f"configuration uses {key}={manifest.get(key)!r}; re-ingest into a new "
                "index directory or use the matching model"
            )
    version = stored.get("format_version")
    if version not in versions:
        readable = " and ".join(str(v) for v in versions)
        raise IndexMismatchError(
            f"index {where} has format_version={version!r}; this newsqa reads formats "
            f"{readable}; re-ingest into a new index directory or use the matching newsqa"
        )


def check_search_backend(where: str, stored: dict[str, Any], manifest: dict[str, Any]) -> None:
    """Raise :class:`IndexMismatchError` when the index ``where`` searches with another
    backend than ``manifest`` names."""
    if stored.get("backend", "local") != manifest.get("backend", "local"):
        raise IndexMismatchError(
            f"index {where} searches with the {stored.get('backend', 'local')!r} backend, but "
            f"this configuration uses {manifest.get('backend', 'local')!r}; re-ingest into a "
            "new index directory or set NEWSQA_INDEX__BACKEND to match"
        )


#: Every chunk id with its article's publication date and outlet key, the columns a filter
#: mask is computed over (:meth:`Catalogue.filter_columns`), in the same SQL for both databases.
FILTER_COLUMNS_SQL = (
    "SELECT c.id, coalesce(a.published_at, ''), coalesce(a.source_key, '') "
    "FROM chunks c JOIN articles a ON a.id=c.article_id ORDER BY c.id"
)


def filter_arrays(rows: Sequence[Sequence[Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows of :data:`FILTER_COLUMNS_SQL` as arrays: chunk ids, dates (bytes, b"" when
    undated) and outlet keys."""
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    dates = np.array([r[1].encode() for r in rows], dtype=bytes)
    sources = np.array([r[2] for r in rows], dtype=object)
    return ids, dates, sources
