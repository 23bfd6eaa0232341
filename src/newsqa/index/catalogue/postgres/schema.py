"""The PostgreSQL catalogue's schema (one PostgreSQL schema per index) and its manifest, kept
as a row of the ``manifest`` table and checked on every open as ``manifest.json`` is for
SQLite. Creation is serialised by a transaction-scoped advisory lock, so processes that open a
new index at once create it once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from newsqa.index.catalogue.base import check_manifest, check_search_backend
from newsqa.index.catalogue.postgres.connect import CatalogURL, connect, reaching
from newsqa.index.catalogue.schema import FORMAT_VERSION
from newsqa.index.errors import IndexMismatchError

#: Texts compared as SQLite compares them (bytes), whatever the database's locale.
_C = 'COLLATE "C"'

TABLES = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE manifest (id INTEGER PRIMARY KEY CHECK (id = 1), body JSONB NOT NULL);
CREATE TABLE articles (
    id TEXT {_C} PRIMARY KEY,
    url TEXT UNIQUE,
    title TEXT NOT NULL,
    source TEXT,
    published_at TEXT {_C},
    authors TEXT NOT NULL DEFAULT '[]',
    text TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    cluster_id TEXT {_C},
    origin TEXT,
    ingested_at TEXT NOT NULL
        DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),
    source_key TEXT {_C}
);
CREATE INDEX articles_published ON articles(published_at);
CREATE INDEX articles_source ON articles(source);
CREATE INDEX articles_source_key ON articles(source_key);
CREATE INDEX articles_cluster ON articles(cluster_id);
CREATE TABLE chunks (
    id BIGSERIAL PRIMARY KEY,
    article_id TEXT {_C} NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    ord INTEGER NOT NULL,
    text TEXT NOT NULL,
    vector BYTEA NOT NULL,
    ntok INTEGER NOT NULL
);
CREATE INDEX chunks_article ON chunks(article_id);
CREATE TABLE postings (
    term TEXT {_C} NOT NULL,
    chunk_id BIGINT NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
    tf_title SMALLINT NOT NULL,
    tf_text SMALLINT NOT NULL,
    ntok INTEGER NOT NULL,
    PRIMARY KEY (term, chunk_id)
);
CREATE INDEX postings_chunk ON postings(chunk_id);
CREATE TABLE changes (gen BIGINT NOT NULL, chunk_id BIGINT NOT NULL, op SMALLINT NOT NULL);
CREATE INDEX changes_gen ON changes(gen);
CREATE TABLE sentences (
    chunk_id BIGINT PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
    vectors BYTEA NOT NULL
);
INSERT INTO meta(key, value) VALUES
    ('generation', '0'), ('log_start', '0'), ('lex_rows', '0'), ('lex_tokens', '0')
"""


def _exists(conn: Any, url: CatalogURL) -> bool:
    row = conn.execute("SELECT to_regclass(%s)", [f"{url.schema}.manifest"]).fetchone()
    return row[0] is not None


def _read(conn: Any) -> dict[str, Any] | None:
    row = conn.execute("SELECT body FROM manifest WHERE id=1").fetchone()
    if row is None:
        return None
    body = row[0]
    return dict(json.loads(body) if isinstance(body, str) else body)


def open_manifest(
    url: CatalogURL, path: Path, manifest: dict[str, Any], create: bool
) -> dict[str, Any]:
    """The stored manifest of the index in ``url``'s schema, after creating it from
    ``manifest`` when missing and ``create``. The index directory ``path`` is made for what
    backends keep there (caches they can rebuild); one that holds a SQLite index is refused.
    Raises :class:`IndexMismatchError` on another model, dimension, tokenizer, format or
    backend, FileNotFoundError when missing,
    :class:`~newsqa.index.errors.CatalogueUnavailableError` when the server is unreachable."""
    if (path / "manifest.json").exists():
        raise IndexMismatchError(
            f"index {path} keeps its catalogue in SQLite (news.sqlite), but "
            f"NEWSQA_INDEX__CATALOG_URL names {url.shown}: copy it there with `newsqa migrate "
            "--to URL`, or use another index directory"
        )
    conn = connect(url)
    try:
        with reaching(url), conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [url.lock_key("create")])
            if not _exists(conn, url):
                if not create:
                    raise FileNotFoundError(
                        f"no index in {url.shown} (run `newsqa ingest ...` with "
                        "NEWSQA_INDEX__CATALOG_URL set)"
                    )
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {url.schema}")
                conn.execute(f"SET LOCAL search_path = {url.schema}")
                for stmt in TABLES.split(";"):
                    conn.execute(stmt)
                body = dict(manifest, catalog="postgres")
                conn.execute("INSERT INTO manifest(id, body) VALUES (1, %s)", [json.dumps(body)])
            stored = _read(conn) or {}
    finally:
        conn.close()
    check_manifest(url.shown, stored, manifest, (FORMAT_VERSION,))
    check_search_backend(url.shown, stored, manifest)
    path.mkdir(parents=True, exist_ok=True)
    return stored


def stored_manifest(url: CatalogURL) -> dict[str, Any]:
    """The manifest stored in ``url``'s schema ({} when there is no index there yet)."""
    conn = connect(url)
    try:
        with reaching(url):
            return (_read(conn) or {}) if _exists(conn, url) else {}
    finally:
        conn.close()
