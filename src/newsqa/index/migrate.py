"""``newsqa migrate --to postgresql://...``: copy a SQLite index (its articles, chunks with their
vectors, story clusters and sentence vectors) into a PostgreSQL catalogue, and its vectors into
the configured search backend, then verify the counts.

Articles go over in batches, each one write transaction of the target (so the target's change
log carries them to every node and, for ``milvus``, into a collection of the target's own). An
article the target already holds with the same content is skipped, so running it again (after
an interruption, or to bring over what the SQLite index gained since) is harmless.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from newsqa.index.catalogue import stored_manifest
from newsqa.index.catalogue.schema import open_manifest as open_sqlite_manifest
from newsqa.index.catalogue.sqlite import SqliteCatalogue
from newsqa.index.errors import IndexMismatchError
from newsqa.index.manifest import IndexManifest, read_manifest
from newsqa.index.rows import ArticleRow
from newsqa.index.store import NewsIndex


def _target_manifest(source: IndexManifest, url: str) -> IndexManifest:
    """What the target is created with: the source's manifest, a collection of its own for
    ``milvus`` (the source's collection stays the source's); the target's own when it exists."""
    existing = stored_manifest(url)
    if existing:
        return IndexManifest.from_dict(existing)
    out = replace(source, catalog=None)
    if out.backend == "milvus":
        out = replace(out, milvus_collection=f"newsqa_{uuid.uuid4().hex[:16]}")
    return out


def _rows(cat: SqliteCatalogue, ids: list[str], dim: int) -> list[ArticleRow]:
    """The articles ``ids`` of the source as rows to write, chunks and vectors included."""
    marks = ",".join("?" * len(ids))
    arts = cat.read(
        "SELECT id, url, title, source, published_at, authors, text, content_hash, cluster_id,"
        f" origin FROM articles WHERE id IN ({marks})", ids,
    )
    chunks: dict[str, list[Any]] = {}
    for r in cat.read(
        f"SELECT id, article_id, text, vector FROM chunks WHERE article_id IN ({marks}) "
        "ORDER BY article_id, ord", ids,
    ):
        chunks.setdefault(r[1], []).append(r)
    sentences = cat.sentence_vectors([int(c[0]) for cs in chunks.values() for c in cs])
    out = []
    for a in arts:
        mine = chunks.get(a["id"], [])
        sv = [sentences.get(int(c[0])) for c in mine]
        out.append(ArticleRow(
            id=a["id"], url=a["url"], title=a["title"], source=a["source"],
            published_at=a["published_at"], authors=json.loads(a["authors"]), text=a["text"],
            content_hash=a["content_hash"], origin=a["origin"] or "migrate",
            chunks=[c[2] for c in mine],
            vectors=np.frombuffer(b"".join(c[3] for c in mine), np.float32).reshape(-1, dim),
            cluster_id=a["cluster_id"],
            sentence_vectors=None if any(v is None for v in sv) else [
                v for v in sv if v is not None],
        ))
    return out


def _batches(cat: SqliteCatalogue, size: int) -> Iterator[list[str]]:
    ids = [r[0] for r in cat.read("SELECT id FROM articles ORDER BY id", [])]
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def migrate(
    source: Path, url: str, search_uri: str | None = None, search_token: str | None = None,
    batch: int = 256, progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Copy the SQLite index at ``source`` into the PostgreSQL catalogue ``url`` (and the
    search backend its manifest names); returns what was copied and both sides' counts.
    Raises :class:`IndexMismatchError` when the counts disagree afterwards."""
    if not (Path(source) / "manifest.json").exists():
        raise FileNotFoundError(f"no SQLite index at {source} to migrate")
    manifest = read_manifest(Path(source))
    if manifest is None:
        raise FileNotFoundError(f"no readable manifest at {source}")
    stored = IndexManifest.from_dict(
        open_sqlite_manifest(Path(source), manifest.to_dict(), create=False))
    src = SqliteCatalogue(Path(source), stored.dim)
    with tempfile.TemporaryDirectory(prefix="newsqa-migrate-") as cache:
        target = NewsIndex.open(Path(cache) / "index", _target_manifest(stored, url),
                                search_uri=search_uri, search_token=search_token,
                                catalog_url=url)
        copied = skipped = 0
        try:
            total = int(src.one("SELECT count(*) FROM articles"))
            for ids in _batches(src, batch):
                have = target.existing(ids, [])
                hashes = dict(src.read(
                    f"SELECT id, content_hash FROM articles WHERE id IN "
                    f"({','.join('?' * len(ids))})", ids))
                todo = [i for i in ids if have.get(i, ("", None))[1] != hashes[i]]
                skipped += len(ids) - len(todo)
                if todo:
                    target.write(_rows(src, todo, target.dim))
                    copied += len(todo)
                if progress is not None:
                    progress(copied + skipped, total)
            target.save_snapshot()
            before, after = src.counts(), target.stats()
        finally:
            target.close()
            src.close()
    report = {"copied": copied, "skipped": skipped, "source": before,
              "target": {k: after[k] for k in ("articles", "chunks", "stories", "vectors")}}
    for key in ("articles", "chunks"):
        if after[key] < before[key]:
            raise IndexMismatchError(
                f"migrated {key} do not match: {before[key]} in {source}, {after[key]} in the "
                "target; run the migration again"
            )
    return report
