"""The on-disk index: SQLite (articles, chunks, FTS5) plus FAISS (chunk vectors)."""

from newsqa.index.store import IndexBusyError, IndexMismatchError, NewsIndex

__all__ = ["IndexBusyError", "IndexMismatchError", "NewsIndex"]
