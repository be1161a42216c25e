"""Durable jobs and quota counters: the Store port, its SQLite and PostgreSQL adapters, ``open_store(url)``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from bot.storage.base import EnqueueOutcome, EnqueueResult, InvalidTransitionError, Settlement, Store
from bot.storage.postgres import PostgresStore, open_postgres_store
from bot.storage.sqlite import SqliteStore, open_sqlite_store

__all__ = [
    "EnqueueOutcome",
    "EnqueueResult",
    "InvalidTransitionError",
    "PostgresStore",
    "Settlement",
    "SqliteStore",
    "Store",
    "open_store",
]

_POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+asyncpg://")


def open_store(url: str) -> AbstractAsyncContextManager[Store]:
    """Open the store named by ``url`` for the duration of an ``async with`` block.

    ``sqlite:///relative/path``, ``sqlite:////absolute/path`` and ``sqlite:///:memory:`` open a
    SqliteStore (creating the file's directory and applying migrations); a plain path is taken as
    a SQLite file. ``postgresql://user@host:5432/db`` (or ``postgres://``) opens a PostgresStore on
    an existing database, applying migrations; ``?search_path=name`` selects an existing schema.
    """
    if url.startswith(_POSTGRES_SCHEMES):
        return _open_postgres(url)
    if "://" in url and not url.startswith("sqlite://"):
        raise ValueError(f"unsupported storage URL scheme: {url.split('://', 1)[0]!r}")
    return _open_sqlite(url)


@asynccontextmanager
async def _open_sqlite(url: str) -> AsyncIterator[Store]:
    store = await open_sqlite_store(url)
    try:
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def _open_postgres(url: str) -> AsyncIterator[Store]:
    store = await open_postgres_store(url)
    try:
        yield store
    finally:
        await store.close()
