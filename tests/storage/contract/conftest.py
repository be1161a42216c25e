"""The contract suite runs every test once per Store adapter: ``store`` and ``backend`` are parametrized.

SQLite runs everywhere; PostgreSQL runs when ``LIBBOT_TEST_POSTGRES_URL`` (default: the local ``test``
database) is reachable and skips with the reason otherwise (see tests/pg.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.storage import Store, open_store
from tests.pg import raw_pg


@dataclass(frozen=True)
class Backend:
    """One database under test: open more stores on it (other connections or "processes") or poke it raw."""

    kind: str
    url: str

    def open(self) -> AbstractAsyncContextManager[Store]:
        return open_store(self.url)

    async def raw(self, sql: str) -> list[tuple[Any, ...]]:
        """Run SQL behind the stores' backs on a separate connection (committed at once)."""
        if self.kind == "postgres":
            return await raw_pg(self.url, sql)
        raw = sqlite3.connect(self.url.removeprefix("sqlite:///"))
        try:
            with raw:
                return [tuple(row) for row in raw.execute(sql)]
        finally:
            raw.close()


@pytest.fixture
def sqlite_backend(tmp_path: Path) -> Backend:
    return Backend("sqlite", f"sqlite:///{tmp_path / 'data' / 'bot.db'}")


@pytest.fixture
def postgres_backend(pg_store_url: str) -> Backend:
    return Backend("postgres", pg_store_url)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> Backend:
    found: Backend = request.getfixturevalue(f"{request.param}_backend")
    return found


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    async with backend.open() as opened:
        yield opened
