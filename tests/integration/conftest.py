"""PostgreSQL for integration tests: reachable or skipped, and one throwaway schema per test.

``LIBBOT_TEST_POSTGRES_URL`` names the database (default: the local trust-auth ``test`` database);
set it empty or ``off`` to skip the PostgreSQL tests. Each test gets a fresh schema with a random
name (``libbot_test_<hex>``, dropped at teardown) and a URL whose ``search_path`` selects it, so
concurrent test runs on one database never see each other's rows.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import asyncpg
import pytest

from bot.storage.postgres import postgres_dsn, redacted

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
