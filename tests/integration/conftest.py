"""PostgreSQL helpers for the integration tests; the fixtures (``pg_url``, ``pg_schema_url``, ``pg_store_url``)
live in ``tests/pg.py`` and are registered suite-wide by ``tests/conftest.py``."""

from __future__ import annotations

from tests.pg import raw_pg, with_search_path

__all__ = ["raw_pg", "with_search_path"]
