"""The catalogue: articles, their full text, chunks with their vectors, story clusters, the
change log and the write generation — what every search backend is built from and kept in step
with, behind one contract (:class:`~newsqa.index.catalogue.base.Catalogue`). ``sqlite``
(:class:`SqliteCatalogue`, ``news.sqlite`` in the index directory) is the default; ``postgres``
(:mod:`newsqa.index.catalogue.postgres`, a schema of a PostgreSQL database named by a
``postgresql://`` URL) is imported only when such a URL is given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from newsqa.index.catalogue import schema
from newsqa.index.catalogue.base import Catalogue
from newsqa.index.catalogue.log import Delta, LogView
from newsqa.index.catalogue.schema import FORMAT_VERSION
from newsqa.index.catalogue.sqlite import SqliteCatalogue

__all__ = [
    "FORMAT_VERSION", "Catalogue", "Delta", "LogView", "SqliteCatalogue", "make_catalogue",
    "open_manifest", "stored_manifest",
]


def _postgres(url: str | None) -> Any:
    """The postgres package when ``url`` names PostgreSQL (None for SQLite)."""
    if not url:
        return None
    if not url.startswith(("postgresql:", "postgres:")):
        raise ValueError(f"catalogue URL {url.split('@')[-1]!r} is not a postgresql:// URL")
    from newsqa.index.catalogue import postgres

    return postgres


def open_manifest(
    path: Path, manifest: dict[str, Any], create: bool, url: str | None = None
) -> dict[str, Any]:
    """The stored manifest of the index at ``path`` (its catalogue in ``news.sqlite`` there,
    or in the PostgreSQL schema ``url`` names), created from ``manifest`` when missing and
    ``create``; see :func:`newsqa.index.catalogue.schema.open_manifest`."""
    pg = _postgres(url)
    if pg is None:
        return schema.open_manifest(path, manifest, create)
    return dict(pg.open_manifest(pg.CatalogURL.parse(str(url)), path, manifest, create))


def stored_manifest(url: str | None) -> dict[str, Any] | None:
    """The manifest stored in ``url``'s PostgreSQL schema ({} when none yet), or None for a
    SQLite catalogue (whose ``manifest.json`` the caller reads)."""
    pg = _postgres(url)
    return None if pg is None else dict(pg.stored_manifest(pg.CatalogURL.parse(str(url))))


def make_catalogue(
    path: Path, dim: int, url: str | None = None, pool_timeout: float | None = None
) -> Catalogue:
    """The catalogue of the index at ``path``: SQLite there, or PostgreSQL at ``url`` (whose
    requests wait ``pool_timeout`` seconds at most for a pooled connection)."""
    pg = _postgres(url)
    if pg is None:
        return SqliteCatalogue(path, dim)
    catalogue: Catalogue = pg.PostgresCatalogue(
        path, dim, pg.CatalogURL.parse(str(url)), pool_timeout
    )
    return catalogue
