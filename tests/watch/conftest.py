"""The PostgreSQL fixtures of the index tests, for the watch store's contract test."""

from tests.index.conftest import catalog_url, postgres_url

__all__ = ["catalog_url", "postgres_url"]
