"""The index: a catalogue (articles, chunks, vectors, change log) and a search backend that
owns its data (local FAISS + BM25, or Milvus), behind the :class:`NewsIndex` facade."""

from newsqa.index.store import IndexBusyError, IndexMismatchError, NewsIndex

__all__ = ["IndexBusyError", "IndexMismatchError", "NewsIndex"]
