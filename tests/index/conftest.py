"""Fixtures of the index tests: a PostgreSQL server of the session's own (started from Debian's
package on 127.0.0.1, stopped at the end) and, per test, a catalogue URL naming a fresh schema
of it. Without PostgreSQL or psycopg the tests that need them skip and say why."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from newsqa.testing.servers import postgres_bin, postgres_server


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The URL of the session's PostgreSQL server (its ``postgres`` database)."""
    pytest.importorskip("psycopg", reason="psycopg missing: pip install 'newsqa[postgres]'")
    pytest.importorskip("psycopg_pool", reason="pip install 'newsqa[postgres]'")
    if postgres_bin() is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql): initdb not found")
    with postgres_server() as url:
        yield url


@pytest.fixture
def catalog_url(postgres_url: str) -> str:
    """A catalogue URL of the session's server naming a schema no other test uses."""
    return f"{postgres_url}?schema=t_{uuid.uuid4().hex[:12]}"
