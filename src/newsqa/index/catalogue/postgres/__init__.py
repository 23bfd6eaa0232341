"""The catalogue in PostgreSQL (``NEWSQA_INDEX__CATALOG_URL=postgresql://...``): one schema per
index, psycopg 3 with its pool, imported only when such a URL is configured (``pip install
'newsqa[postgres]'``)."""

from newsqa.index.catalogue.postgres.catalogue import PostgresCatalogue
from newsqa.index.catalogue.postgres.connect import CatalogURL, is_postgres_url
from newsqa.index.catalogue.postgres.schema import open_manifest, stored_manifest

__all__ = ["CatalogURL", "PostgresCatalogue", "is_postgres_url", "open_manifest",
           "stored_manifest"]
