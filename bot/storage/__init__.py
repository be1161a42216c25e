"""Durable jobs, quota counters, server settings and the dispatcher lease: the store ports (``base``), the
SQLite and PostgreSQL adapters over one shared SQL implementation, and ``open_store(url)``."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from bot.settings import POSTGRES_SCHEMES
from bot.storage._migrations import PendingMigrationsError
from bot.storage.base import (
    EnqueueOutcome,
    EnqueueResult,
    Fence,
    GuildSettingsStore,
    InvalidTransitionError,
    JobStore,
    Lease,
    LeaseStore,
    MetaStore,
    PreferenceStore,
    QuotaStore,
    Settlement,
    Store,
    StyleStore,
    UsageStore,
)
from bot.storage.postgres import PostgresStore, open_postgres_store
from bot.storage.sqlite import SqliteStore, open_sqlite_store

__all__ = [
    "EnqueueOutcome",
    "EnqueueResult",
    "Fence",
    "GuildSettingsStore",
    "InvalidTransitionError",
    "JobStore",
    "Lease",
    "LeaseStore",
    "MetaStore",
    "PendingMigrationsError",
    "PostgresStore",
    "PreferenceStore",
    "QuotaStore",
    "Settlement",
    "SqliteStore",
    "Store",
    "StyleStore",
    "UsageStore",
    "open_store",
]


def open_store(url: str, *, migrate: bool = True) -> AbstractAsyncContextManager[Store]:
    """Open the store named by ``url`` for the duration of an ``async with`` block.

    ``sqlite:///relative/path``, ``sqlite:////absolute/path`` and ``sqlite:///:memory:`` open a
    SqliteStore (creating the file's directory and applying migrations); a plain path is taken as
    a SQLite file. ``postgresql://user@host:5432/db`` (or ``postgres://``) opens a PostgresStore on
    an existing database, applying migrations; ``?search_path=name`` selects an existing schema.
    ``migrate=False`` (reads such as ``check``'s) changes no schema: a database with pending migrations is refused
    with PendingMigrationsError.
    """
    if url.startswith(POSTGRES_SCHEMES):
        return _opened(functools.partial(open_postgres_store, migrate=migrate), url)
    if "://" in url and not url.startswith("sqlite://"):
        raise ValueError(f"unsupported storage URL scheme: {url.split('://', 1)[0]!r}")
    return _opened(functools.partial(open_sqlite_store, migrate=migrate), url)


@asynccontextmanager
async def _opened(opener: Callable[[str], Awaitable[Store]], url: str) -> AsyncIterator[Store]:
    store = await opener(url)
    try:
        yield store
    finally:
        await store.close()
