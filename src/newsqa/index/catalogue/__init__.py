"""The catalogue: articles, their full text, chunks with their vectors, story clusters, the
change log and the write generation — what every search backend is built from and kept in step
with. ``sqlite`` (:class:`SqliteCatalogue`, ``news.sqlite`` in the index directory) is the one
there is."""

from newsqa.index.catalogue.log import Delta, LogView
from newsqa.index.catalogue.schema import FORMAT_VERSION, open_manifest
from newsqa.index.catalogue.sqlite import SqliteCatalogue

__all__ = ["FORMAT_VERSION", "Delta", "LogView", "SqliteCatalogue", "open_manifest"]
