"""What an index was built with, its manifest: the one definition of its keys
(:class:`IndexManifest`) and the one place it is read (:func:`read_manifest`).

The catalogue stores the manifest as a JSON object (``manifest.json`` beside ``news.sqlite``,
or a row of the PostgreSQL schema) and checks it on open
(:func:`newsqa.index.catalogue.open_manifest`); this module is what the rest of newsqa reads
it as."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from newsqa.index.catalogue import stored_manifest as catalogue_manifest


@dataclass(frozen=True)
class IndexManifest:
    """The manifest of an index. An index written before a key existed reads as its default:
    no ``embed_backend`` (torch built it), ``local`` search. Keys this version does not know are
    not kept."""

    #: The embedding model's identity (:func:`newsqa.embedding.base.model_name`) and dimension.
    model: str
    dim: int
    tokenizer: str = "cl100k_base"
    chunk_tokens: int = 0
    chunk_overlap: int = 0
    #: The embedder's input limit in word pieces, which chunking respects.
    max_wordpieces: int = 0
    #: What computed the vectors (``torch``, ``onnx-fp32``, ``onnx-int8``, ``hash``) and in which
    #: precision; None for an index from before these were recorded.
    embed_backend: str | None = None
    embed_precision: str | None = None
    format_version: int | None = None
    newsqa_version: str | None = None
    #: Where chunks are searched (``local`` or ``milvus``) and, for Milvus, this index's collection.
    backend: str = "local"
    milvus_collection: str | None = None
    #: ``postgres`` when the catalogue is a PostgreSQL schema (the catalogue adds it).
    catalog: str | None = None

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> IndexManifest:
        """The manifest stored as the JSON object ``body``."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in body.items() if k in known and v is not None})

    def to_dict(self) -> dict[str, Any]:
        """The JSON object the catalogue stores (keys that are None are left out)."""
        return {k: v for k, v in asdict(self).items() if v is not None}


def read_manifest(path: Path, catalog_url: str | None = None) -> IndexManifest | None:
    """The manifest of the index at ``path`` (or in the PostgreSQL schema ``catalog_url``
    names), None when there is no index there yet or its manifest cannot be read."""
    body = catalogue_manifest(catalog_url)
    if body is None:
        try:
            body = dict(json.loads((Path(path) / "manifest.json").read_text()))
        except (OSError, ValueError):
            return None
    return IndexManifest.from_dict(body) if body else None
