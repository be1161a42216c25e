"""PostgreSQL for tests: reachable or skipped, and throwaway schemas (fixtures registered in tests/conftest.py).

``LIBBOT_TEST_POSTGRES_URL`` names the database (default: the local trust-auth ``test`` database);
set it empty or ``off`` to skip the PostgreSQL tests. Tests reach it through URLs whose
``search_path`` selects a schema with a random name (``libbot_test_<hex>``, dropped afterwards), so
concurrent test runs on one database never see each other's rows:
- ``pg_store_url``: the run's migrated schema, emptied before each test (fast: most tests use it);
- ``pg_schema_url``: a fresh, empty schema of the test's own (for migration tests).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote

import asyncpg
import pytest

from bot.storage.postgres import apply_migrations, postgres_dsn, redacted

PG_URL_ENV = "LIBBOT_TEST_POSTGRES_URL"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
# Read at import: the suite-wide autouse fixture clears LIBBOT_* variables around each test.
_CONFIGURED_PG_URL = os.environ.get(PG_URL_ENV, DEFAULT_PG_URL).strip()


def with_search_path(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}search_path={quote(schema)}"


async def _probe(url: str) -> None:
    conn = await asyncpg.connect(postgres_dsn(url), timeout=3)
    await conn.close()


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The test database URL; skips (once per session, cached) when it is disabled or unreachable."""
    url = _CONFIGURED_PG_URL
    if url.lower() in {"", "off", "none", "0"}:
        pytest.skip(f"PostgreSQL tests disabled ({PG_URL_ENV} is {url!r})")
    try:
        asyncio.run(_probe(url))
    except (OSError, TimeoutError, ValueError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        pytest.skip(
            f"PostgreSQL not reachable at {redacted(url)} ({type(exc).__name__}: {exc}); "
            f"set {PG_URL_ENV} to a reachable database to run these tests"
        )
    return url


async def raw_pg(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Run one statement behind the store's back on its own connection (autocommit)."""
    conn = await asyncpg.connect(postgres_dsn(url))
    try:
        return [tuple(row) for row in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


@pytest.fixture
async def pg_schema_url(pg_url: str) -> AsyncIterator[str]:
    """A URL on a fresh, empty schema of the test database; the schema is dropped afterwards."""
    schema = f"libbot_test_{secrets.token_hex(6)}"
    await raw_pg(pg_url, f'CREATE SCHEMA "{schema}"')
    try:
        yield with_search_path(pg_url, schema)
    finally:
        await raw_pg(pg_url, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="session")
def _pg_run_schema_url(pg_url: str) -> Iterator[str]:
    schema = f"libbot_test_{secrets.token_hex(6)}"
    asyncio.run(raw_pg(pg_url, f'CREATE SCHEMA "{schema}"'))
    try:
        yield with_search_path(pg_url, schema)
    finally:
        asyncio.run(raw_pg(pg_url, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@pytest.fixture
async def pg_store_url(_pg_run_schema_url: str) -> str:
    """A URL on this run's migrated schema, every table emptied for this test."""
    conn = await asyncpg.connect(postgres_dsn(_pg_run_schema_url))
    try:
        await apply_migrations(conn)  # the first test of the run creates the tables
        tables = await conn.fetch(
            "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename <> 'schema_migrations'"
        )
        # tiny tables: DELETE is faster than TRUNCATE; names are quote_ident()ed by the catalog query
        await conn.execute("".join(f"DELETE FROM {t[0]};" for t in tables))  # noqa: S608
    finally:
        await conn.close()
    return _pg_run_schema_url
