"""An index directory read from outside, without opening the service: its row counts and the
state of its files (to tell whether something rewrote them)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def index_counts(index: Path) -> tuple[int, int, int]:
    """(articles, chunks, lexical rows) of the index at ``index``, read directly from SQLite."""
    if not (index / "news.sqlite").exists():
        return (0, 0, 0)
    db = sqlite3.connect(index / "news.sqlite")
    try:
        return (
            db.execute("SELECT count(*) FROM articles").fetchone()[0],
            db.execute("SELECT count(*) FROM chunks").fetchone()[0],
            db.execute("SELECT count(*) FROM chunks_fts").fetchone()[0],
        )
    except sqlite3.OperationalError:  # created a moment ago: tables not there yet
        return (0, 0, 0)
    finally:
        db.close()


def file_states(index: Path, names: tuple[str, ...] = ("vectors.faiss", "vectors.gen")) -> dict:
    """(size, mtime in ns) of the named index files, None for a missing one."""
    out: dict[str, tuple[int, int] | None] = {}
    for name in names:
        try:
            st = (index / name).stat()
            out[name] = (st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            out[name] = None
    return out
