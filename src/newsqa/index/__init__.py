"""The on-disk index: SQLite (articles, chunks, FTS5) plus FAISS (chunk vectors)."""

from newsqa.index.store import IndexMismatchError, NewsIndex

__all__ = ["IndexMismatchError", "NewsIndex"]
