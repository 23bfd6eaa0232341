"""Milvus as the search backend: chunks with their vectors, text, dates, outlets and story
clusters in one Milvus collection; dense search and Milvus's own BM25 full-text search, with
newsqa's filters as Milvus boolean expressions that fail closed.

The same code serves a local file (``milvus-lite``, for tests and laptops) and a Milvus cluster
(an ``http://host:19530`` URI). SQLite stays the catalogue (articles, their full text, the
change log and the writer lock); the collection is kept in step with it by replaying the change
log, so a write that died between the two stores is completed by the next writer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from newsqa.models import Filters
from newsqa.text import lexical_form, stem

_INSTALL = "Milvus support is not installed: pip install 'newsqa[milvus]'"
_NOTHING = "id < 0"  # an expression no chunk satisfies: what a filter that matches nothing becomes
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
BODY_MAX = 65_535


def _client(uri: str, token: str | None) -> Any:
    try:
        from pymilvus import MilvusClient
    except ImportError as exc:
        raise RuntimeError(_INSTALL) from exc
    return MilvusClient(uri=uri, token=token or "")


def _literal(value: str) -> str:
    """A Milvus string literal for any text (quotes and backslashes escaped)."""
    return json.dumps(value, ensure_ascii=False)


def filter_expression(f: Filters | None, source_keys: Sequence[str] | None) -> str:
    """The Milvus boolean expression for newsqa's filters ("" when nothing is filtered).

    Undated chunks fail ``since``/``until`` and pass ``as_of`` (as in the local backend); an
    empty outlet list, or a date that is not ``YYYY-MM-DD``, matches nothing.
    """
    if f is None:
        return ""
    conds: list[str] = []
    for value, cond in ((f.since, "published >= {}"), (f.until, "published <= {}")):
        if value:
            if not _ISO.match(value):
                return _NOTHING
            conds.append(f'(published != "" and {cond.format(_literal(value))})')
    if f.as_of:
        if not _ISO.match(f.as_of):
            return _NOTHING
        conds.append(f'(published == "" or published <= {_literal(f.as_of)})')
    if source_keys is not None:
        if not source_keys:
            return _NOTHING
        conds.append(f"source_key in [{', '.join(_literal(k) for k in source_keys)}]")
    return " and ".join(conds)


class MilvusSearch:
    """One Milvus collection holding the index's chunks; the search half of a milvus index
    (a :class:`~newsqa.index.search.SearchBackend`)."""

    name = "milvus"
    in_process = False

    def __init__(self, uri: str, collection: str, dim: int, token: str | None = None) -> None:
        self.uri = uri
        self.collection = collection
        self.dim = dim
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

    def written(
        self, db: Any, added: Sequence[int], vecs: np.ndarray, removed: Sequence[int]
    ) -> int | None:
        """Replay the catalogue's change log into the collection (:func:`sync`); the chunks
        are read back from the catalogue, so a replay after a crash needs nothing else."""
        db.execute("BEGIN")
        try:
            return sync(db, self)
        finally:
            db.execute("COMMIT")

    # ------------------------------------------------------------------ reading
    def candidates(
        self, qvec: np.ndarray, terms: Sequence[str], n: int, title_weight: float,
        f: Filters | None,
    ) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
        """Dense and BM25 top ``n`` under the filters as one Milvus expression (the title
        weight does not apply: title and text are one BM25 field)."""
        expr = self.expression(f)
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

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
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

    def expression(self, f: Filters | None) -> str:
        """The filter expression for ``f`` (outlets matched as the catalogue matches them)."""
        from newsqa.index.store import normalize_source

        keys = None if f is None or f.sources is None else [
            k for k in map(normalize_source, f.sources) if k
        ]
        return filter_expression(f, keys)

    def count(self) -> int:
        """Chunks in the collection."""
        res = self.client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(res[0]["count(*)"])

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


def _meta(db: Any, key: str, default: int = 0) -> int:
    row = db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    return int(row[0]) if row else default


def sync(db: Any, search: MilvusSearch) -> int:
    """Bring the collection up to the catalogue's write generation; returns that generation.

    Replays the change log since the last synchronised generation (``meta.milvus_gen``): each
    chunk touched is upserted from SQLite if it still exists and deleted otherwise, so a replay
    after a crash is harmless. When the log no longer reaches back that far, every chunk is
    written again. Call it under the writer lock.
    """
    gen, done = _meta(db, "generation"), _meta(db, "milvus_gen")
    if done >= gen:
        return gen
    if _meta(db, "log_start") <= done:
        touched = sorted({int(r[0]) for r in db.execute(
            "SELECT chunk_id FROM changes WHERE gen>? AND gen<=?", (done, gen))})
    else:
        search.client.delete(search.collection, filter="id >= 0")
        touched = [int(r[0]) for r in db.execute("SELECT id FROM chunks ORDER BY id")]
    for start in range(0, len(touched), 2000):
        part = touched[start : start + 2000]
        rows = _catalogue_rows(db, part, search.dim)
        search.upsert(rows)
        search.remove(sorted(set(part) - {r["id"] for r in rows}))
    search.flush()
    db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('milvus_gen', ?)", (str(gen),))
    return gen


def _catalogue_rows(db: Any, ids: Sequence[int], dim: int) -> list[dict[str, Any]]:
    marks = ",".join("?" * len(ids))
    rows = db.execute(
        "SELECT c.id, c.article_id, c.text, c.vector, a.title, a.published_at, a.source_key, "
        f"a.cluster_id FROM chunks c JOIN articles a ON a.id=c.article_id WHERE c.id IN ({marks})",
        list(ids),
    ).fetchall()
    return [
        {
            "id": int(r[0]), "article_id": r[1], "text": r[2],
            "vector": np.frombuffer(r[3], dtype=np.float32, count=dim),
            "title": r[4], "published": r[5], "source_key": r[6], "cluster_id": r[7],
        }
        for r in rows
    ]
