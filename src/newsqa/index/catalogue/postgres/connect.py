"""Reaching the PostgreSQL catalogue: its URL (``postgresql://user:pw@host:port/db?schema=x``,
one schema per index, ``newsqa`` by default), the driver (psycopg 3 and its pool, imported only
here), connections whose ``search_path`` is the index's schema, and the errors a caller sees:
:class:`~newsqa.index.errors.CatalogueUnavailableError` when the server cannot be reached and
a ``pip install`` hint when the driver is missing."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from newsqa.index.errors import CatalogueUnavailableError

INSTALL = "PostgreSQL support is not installed: pip install 'newsqa[postgres]'"
_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
#: Seconds to wait for the server before it counts as unreachable.
CONNECT_TIMEOUT = 5
#: Seconds a read or write waits for a pooled connection (NEWSQA_INDEX__CATALOG_POOL_TIMEOUT):
#: while the server is down the pool has none to give, and a request should fail, not hang.
POOL_TIMEOUT = 5.0


def is_postgres_url(url: str | None) -> bool:
    """Whether ``url`` names a PostgreSQL catalogue."""
    return bool(url) and str(url).split(":", 1)[0] in ("postgresql", "postgres")


@dataclass(frozen=True)
class CatalogURL:
    """A catalogue URL taken apart: what libpq connects to, the index's schema, and the URL as
    it may be shown (without its password)."""

    conninfo: str
    schema: str
    shown: str

    @classmethod
    def parse(cls, url: str) -> CatalogURL:
        """Parse ``url``; ValueError for a schema name that is not a plain lower-case
        identifier."""
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        schema = next((v for k, v in query if k == "schema"), "") or "newsqa"
        if not _SCHEMA.match(schema):
            raise ValueError(
                f"catalogue schema {schema!r} is not a lower-case identifier ([a-z_][a-z0-9_]*)"
            )
        rest = urlencode([(k, v) for k, v in query if k != "schema"])
        conninfo = urlunsplit((parts.scheme, parts.netloc, parts.path, rest, ""))
        netloc = parts.netloc
        if "@" in netloc:
            cred, host = netloc.rsplit("@", 1)
            netloc = f"{cred.split(':', 1)[0]}@{host}"
        shown = urlunsplit((parts.scheme, netloc, parts.path, f"schema={schema}", ""))
        return cls(conninfo, schema, shown)

    def lock_key(self, purpose: str) -> int:
        """A stable signed 64-bit advisory-lock key for ``purpose`` on this index."""
        digest = hashlib.blake2b(
            f"newsqa:{purpose}:{self.conninfo.split('?')[0]}:{self.schema}".encode(),
            digest_size=8,
        ).digest()
        return int.from_bytes(digest, "big", signed=True)

    def kwargs(self) -> dict[str, Any]:
        """Connection options: the index's schema first on the search path, a connect
        timeout, autocommit (every transaction is explicit)."""
        return {
            "options": f"-c search_path={self.schema}",
            "connect_timeout": CONNECT_TIMEOUT,
            "autocommit": True,
        }


def driver() -> tuple[Any, Any]:
    """The ``psycopg`` and ``psycopg_pool`` modules (RuntimeError with the install hint when
    they are missing)."""
    try:
        import psycopg
        import psycopg_pool
    except ImportError as exc:
        raise RuntimeError(INSTALL) from exc
    return psycopg, psycopg_pool


@contextmanager
def reaching(url: CatalogURL) -> Iterator[None]:
    """Turn the driver's connection failures inside the block into
    :class:`CatalogueUnavailableError` with a message that says where and what to check."""
    psycopg, pool = driver()
    try:
        yield
    except (psycopg.OperationalError, pool.PoolTimeout) as exc:
        raise CatalogueUnavailableError(
            f"the PostgreSQL catalogue at {url.shown} cannot be reached ({_first_line(exc)}); "
            "check NEWSQA_INDEX__CATALOG_URL and that the server is running"
        ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def connect(url: CatalogURL) -> Any:
    """One connection of its own (autocommit, search path set)."""
    psycopg, _ = driver()
    with reaching(url):
        return psycopg.connect(url.conninfo, **url.kwargs())


def make_pool(url: CatalogURL, max_size: int = 8, timeout: float = POOL_TIMEOUT) -> Any:
    """A connection pool for the index's reads and writes, opened and checked; a caller
    waits ``timeout`` seconds at most for one of its connections."""
    _, pool_module = driver()
    pool = pool_module.ConnectionPool(
        url.conninfo, min_size=1, max_size=max_size, kwargs=url.kwargs(), open=False,
        timeout=timeout, name=f"newsqa-{url.schema}",
    )
    with reaching(url):
        pool.open(wait=True, timeout=CONNECT_TIMEOUT * 2)
    return pool
