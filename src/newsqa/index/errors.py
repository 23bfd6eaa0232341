"""The errors an index raises, shared by the catalogue, the writer lock and the backends."""

from __future__ import annotations


class IndexMismatchError(RuntimeError):
    """The index on disk was built with another model, tokenizer or format."""


class IndexBusyError(RuntimeError):
    """Another ingest or delete is writing to this index (in this or another process)."""


class CatalogueUnavailableError(RuntimeError):
    """The catalogue's server (PostgreSQL) cannot be reached or went away."""
