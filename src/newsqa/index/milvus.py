"""Milvus as the search backend: chunks with their vectors, text, dates, outlets and story
clusters in one Milvus collection; dense search and Milvus's own BM25 full-text search, with
newsqa's filters as Milvus boolean expressions that fail closed.

The same code serves a local file (``milvus-lite``, for tests and laptops) and a Milvus cluster
(an ``http://host:19530`` URI). SQLite stays the catalogue (articles, their full text, the
change log and the writer lock); the collection is kept in step with it by replaying the change
log, so a write that died between the two stores is completed by the next writer.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from newsqa.index.catalogue.log import LogView
from newsqa.index.filters import CompiledFilter
from newsqa.text import lexical_form, stem

if TYPE_CHECKING:
    from newsqa.index.catalogue.base import Catalogue
    from newsqa.index.lexicon import Lexicon

_INSTALL = "Milvus support is not installed: pip install 'newsqa[milvus]'"
BODY_MAX = 65_535


def _client(uri: str, token: str | None) -> Any:
    try:
        from pymilvus import MilvusClient
    except ImportError as exc:
        raise RuntimeError(_INSTALL) from exc
    return MilvusClient(uri=uri, token=token or "")


class MilvusSearch:
    """One Milvus collection holding the index's chunks; the search half of a milvus index
    (a :class:`~newsqa.index.search.SearchBackend`)."""

    name = "milvus"
    in_process = False

    def __init__(
        self, catalogue: Catalogue, lexicon: Lexicon, uri: str, collection: str,
        token: str | None = None,
    ) -> None:
        self.catalogue = catalogue
        #: The catalogue's idf, which query planning and composition weigh words by.
        self.lexicon = lexicon
        self.uri = uri
        self.collection = collection
        self.dim = catalogue.dim
        self.loaded_generation = -1
        self.client = _client(uri, token)
        if not self.client.has_collection(collection):
            self._create()
        self.client.load_collection(collection)

    def _create(self) -> None:
        from pymilvus import DataType, Function, FunctionType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("article_id", DataType.VARCHAR, max_length=64)
        schema.add_field("published", DataType.VARCHAR, max_length=16)
        schema.add_field("source_key", DataType.VARCHAR, max_length=512)
        schema.add_field("cluster_id", DataType.VARCHAR, max_length=64)
        schema.add_field("body", DataType.VARCHAR, max_length=BODY_MAX, enable_analyzer=True)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dim)
        schema.add_function(Function(
            name="body_bm25", function_type=FunctionType.BM25,
            input_field_names=["body"], output_field_names=["sparse"],
        ))
        index = MilvusClient.prepare_index_params()
        index.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
        index.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX",
                        metric_type="BM25")
        self.client.create_collection(self.collection, schema=schema, index_params=index)

    # ------------------------------------------------------------------ writing
    def upsert(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert or replace chunks: dicts with id, article_id, published, source_key,
        cluster_id, title, text and vector (idempotent: replaying a change is harmless)."""
        data = [
            {
                "id": int(r["id"]),
                "article_id": r["article_id"],
                "published": r["published"] or "",
                "source_key": (r["source_key"] or "")[:512],
                "cluster_id": r["cluster_id"] or r["article_id"],
                "body": _body(r["title"], r["text"]),
                "vector": np.asarray(r["vector"], dtype=np.float32).tolist(),
            }
            for r in rows
        ]
        for start in range(0, len(data), 1000):
            self.client.upsert(self.collection, data[start : start + 1000])

    def remove(self, ids: Sequence[int]) -> None:
        """Delete chunks by id (missing ids are ignored)."""
        ids = [int(i) for i in ids]
        for start in range(0, len(ids), 1000):
            self.client.delete(self.collection, ids=ids[start : start + 1000])

    def refresh(self) -> None:
        """Nothing is held here: the collection is shared; note the catalogue's generation."""
        self.loaded_generation = self.catalogue.generation()

    @contextmanager
    def updating(self) -> Iterator[None]:
        """Nothing to hold current while a write lands."""
        yield

    def written(
        self, gen: int, added: Sequence[int], vecs: np.ndarray, removed: Sequence[int]
    ) -> None:
        """Replay the catalogue's change log into the collection (:func:`sync`); the chunks
        are read back from the catalogue, so a replay after a crash needs nothing else."""
        with self.catalogue.writer_view() as view:
            sync(view, self)
        self.loaded_generation = gen

    def resume(self) -> None:
        """Complete a write a killed writer left behind (the caller holds the writer lock)."""
        with self.catalogue.writer_view() as view:
            sync(view, self)

    def checkpoint(self) -> None:
        """Bring the collection up to the log, then prune the log up to there (the caller
        holds the writer lock)."""
        with self.catalogue.writer_view() as view:
            done = sync(view, self)
        self.catalogue.prune_log(done)

    # ------------------------------------------------------------------ reading
    def candidates(
        self, qvec: np.ndarray, terms: Sequence[str], n: int, title_weight: float,
        f: CompiledFilter,
    ) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
        """Dense and BM25 top ``n`` under the filters as one Milvus expression (the title
        weight does not apply: title and text are one BM25 field)."""
        expr = f.milvus()
        return self.dense(qvec, n, expr), self.lexical(terms, n, expr)

    def dense(self, qvec: np.ndarray, n: int, expr: str) -> list[tuple[int, float]]:
        """Top ``n`` (chunk id, inner product) under the filter expression."""
        hits = self.client.search(
            self.collection, data=[np.asarray(qvec, np.float32).reshape(-1).tolist()],
            anns_field="vector", limit=n, filter=expr, output_fields=[],
            search_params={"metric_type": "IP"},
        )
        return [(int(h["id"]), float(h["distance"])) for h in hits[0]]

    def lexical(self, terms: Sequence[str], n: int, expr: str) -> list[tuple[int, float]]:
        """Top ``n`` (chunk id, BM25 score) for the query words under the filter expression."""
        if not terms:
            return []
        hits = self.client.search(
            self.collection, data=[" ".join(dict.fromkeys(stem(t) for t in terms))],
            anns_field="sparse", limit=n,
            filter=expr, output_fields=[], search_params={"metric_type": "BM25"},
        )
        return [(int(h["id"]), float(h["distance"])) for h in hits[0]]

    def neighbours(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` (cosines, ids) per query row, unfiltered; missing ids are -1."""
        scores = np.full((len(queries), k), -1.0, dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        if len(queries) == 0:
            return scores, ids
        hits = self.client.search(
            self.collection, data=np.asarray(queries, np.float32).tolist(), anns_field="vector",
            limit=k, output_fields=[], search_params={"metric_type": "IP"},
        )
        for row, found in enumerate(hits):
            for col, h in enumerate(found[:k]):
                scores[row, col], ids[row, col] = float(h["distance"]), int(h["id"])
        return scores, ids

    def vectors_of(self, ids: Sequence[int]) -> np.ndarray:
        """The stored vectors of these ids, in order; zeros for an id not stored."""
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        if not ids:
            return out
        got = self.client.get(self.collection, ids=[int(i) for i in ids],
                              output_fields=["vector"])
        by_id = {int(r["id"]): r["vector"] for r in got}
        for row, i in enumerate(ids):
            if int(i) in by_id:
                out[row] = np.asarray(by_id[int(i)], dtype=np.float32)
        return out

    def flush(self) -> None:
        """Seal written rows into indexed segments (searches over unsealed rows are scans)."""
        self.client.flush(self.collection)

    def count(self) -> int:
        """Chunks in the collection."""
        res = self.client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(res[0]["count(*)"])

    def held(self) -> int:
        """Vectors held in this process: none (the collection holds them)."""
        return 0

    def close(self) -> None:
        """Close the connection."""
        self.client.close()


def _body(title: str, text: str) -> str:
    """What Milvus's BM25 indexes: the title and text in newsqa's own lexical form, so
    matching does not depend on the analysers a Milvus version has."""
    body = lexical_form(f"{title}\n{text}")
    while len(body.encode("utf-8")) > BODY_MAX:  # Milvus counts bytes
        body = body[: int(len(body) * 0.9)]
    return body


def sync(view: LogView, search: MilvusSearch) -> int:
    """Bring the collection up to the catalogue's write generation; returns that generation.

    Replays the change log since the last synchronised generation (the catalogue's mark
    ``milvus_gen``): each chunk touched is upserted from the catalogue if it still exists and
    deleted otherwise, so a replay after a crash is harmless. When the log no longer reaches
    back that far, every chunk is written again. Call it under the writer lock.
    """
    gen, done = view.generation(), view.meta("milvus_gen")
    if done >= gen:
        return gen
    if view.log_start() <= done:
        touched = view.touched(done, gen)
    else:
        search.client.delete(search.collection, filter="id >= 0")
        touched = view.chunk_ids()
    for start in range(0, len(touched), 2000):
        part = touched[start : start + 2000]
        rows = view.search_rows(part)
        search.upsert(rows)
        search.remove(sorted(set(part) - {r["id"] for r in rows}))
    search.flush()
    view.set_meta("milvus_gen", gen)
    return gen
