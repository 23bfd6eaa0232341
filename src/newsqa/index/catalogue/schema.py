"""The SQLite catalogue's files: ``news.sqlite`` (its schema and the upgrade from format 1),
``manifest.json`` (what the index was built with, checked on every open) and connections."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from pathlib import Path
from typing import Any

from newsqa.index.catalogue.base import check_manifest, check_search_backend
from newsqa.index.filters import normalize_source
from newsqa.index.lock import file_lock

log = logging.getLogger("newsqa.index")

FORMAT_VERSION = 2  # 2: change log, normalised source key

#: Each chunk's title and sentence vectors (:mod:`newsqa.index.sentvec`), where ingest made them.
SENTENCES_TABLE = """CREATE TABLE IF NOT EXISTS sentences (
    chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
    vectors BLOB NOT NULL
)"""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    url TEXT UNIQUE,
    title TEXT NOT NULL,
    source TEXT,
    published_at TEXT,
    authors TEXT NOT NULL DEFAULT '[]',
    text TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    cluster_id TEXT,
    origin TEXT,
    ingested_at TEXT NOT NULL DEFAULT (datetime('now')),
    source_key TEXT
);
CREATE INDEX IF NOT EXISTS articles_published ON articles(published_at);
CREATE INDEX IF NOT EXISTS articles_source ON articles(source);
CREATE INDEX IF NOT EXISTS articles_source_key ON articles(source_key);
CREATE INDEX IF NOT EXISTS articles_cluster ON articles(cluster_id);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    ord INTEGER NOT NULL,
    text TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(title, text, tokenize='porter unicode61');
CREATE TABLE IF NOT EXISTS changes (
    gen INTEGER NOT NULL,
    chunk_id INTEGER NOT NULL,
    op INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS changes_gen ON changes(gen);
INSERT OR IGNORE INTO meta(key, value) VALUES ('generation', '0');
INSERT OR IGNORE INTO meta(key, value) VALUES ('log_start', '0');
""" + SENTENCES_TABLE


def connect(path: Path) -> sqlite3.Connection:
    """A connection to the catalogue of the index directory ``path`` (autocommit: every
    transaction is explicit)."""
    db = sqlite3.connect(path / "news.sqlite", check_same_thread=False, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA busy_timeout=30000")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    return db


def write_atomic(path: Path, text: str) -> None:
    """Replace the file ``path`` whole with ``text``."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _run_schema(db: sqlite3.Connection) -> None:
    for stmt in _SCHEMA.split(";"):
        db.execute(stmt)


def _create(path: Path, manifest: dict[str, Any]) -> None:
    db = connect(path)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("BEGIN IMMEDIATE")
        _run_schema(db)
        db.execute("COMMIT")
    finally:
        db.close()
    write_atomic(path / "manifest.json", json.dumps(manifest, indent=2, sort_keys=True))


def _migrate_v1(path: Path, stored: dict[str, Any]) -> dict[str, Any]:
    """Format 1 → 2: add the change log (starting at the current generation) and source keys."""
    db = connect(path)
    try:
        db.execute("BEGIN IMMEDIATE")
        columns = {r[1] for r in db.execute("PRAGMA table_info(articles)")}
        if "source_key" not in columns:
            db.execute("ALTER TABLE articles ADD COLUMN source_key TEXT")
        _run_schema(db)
        sources = [r[0] for r in db.execute("SELECT DISTINCT source FROM articles")]
        db.executemany(
            "UPDATE articles SET source_key=? WHERE source IS ?",
            [(normalize_source(s), s) for s in sources],
        )
        db.execute(
            "UPDATE meta SET value=(SELECT value FROM meta WHERE key='generation') "
            "WHERE key='log_start'"
        )
        db.execute("COMMIT")
    finally:
        db.close()
    upgraded = dict(stored, format_version=FORMAT_VERSION)
    write_atomic(path / "manifest.json", json.dumps(upgraded, indent=2, sort_keys=True))
    log.warning("index %s upgraded from format 1 to %d", path, FORMAT_VERSION)
    return upgraded


def open_manifest(path: Path, manifest: dict[str, Any], create: bool) -> dict[str, Any]:
    """The stored manifest of the index at ``path``, after creating the index from
    ``manifest`` (when missing and ``create``) or upgrading it from format 1 (under the writer
    lock). Raises :class:`IndexMismatchError` when it names another model, dimension,
    tokenizer, format or search backend than ``manifest``, FileNotFoundError when missing."""
    mpath = path / "manifest.json"
    if not mpath.exists():
        if not create:
            raise FileNotFoundError(f"no index at {path} (run `newsqa ingest ... --index {path}`)")
        path.mkdir(parents=True, exist_ok=True)
        with file_lock(path):
            if not mpath.exists():
                _create(path, manifest)
    stored: dict[str, Any] = json.loads(mpath.read_text())
    check_manifest(str(path), stored, manifest, (1, FORMAT_VERSION))
    if stored.get("format_version") != FORMAT_VERSION:
        with file_lock(path):
            stored = json.loads(mpath.read_text())
            if stored.get("format_version") != FORMAT_VERSION:
                stored = _migrate_v1(path, stored)
    check_search_backend(str(path), stored, manifest)
    return stored
