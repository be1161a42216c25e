"""PostgresStore: the store ports on an asyncpg pool, shared safely by several bot processes.

The queries and their orchestration are SqlStore's (``_sql.py``); this module adds the driver, the
pool, the transactions, the locks and PostgreSQL's spelling of a few statements.

Concurrency, across connections and processes alike (READ COMMITTED, the PostgreSQL default):
- Every write is one transaction. A refused enqueue rolls back its debits and its insert together.
- Quota counters are locked (``SELECT ... FOR UPDATE``) before they are checked and incremented, and
  always in the same order (sorted by key) by enqueue, refund and settlement, so two transactions
  never deadlock on them and a limit can never be overspent.
- The per-user active cap and the queue cap are counts over ``jobs``; row locks cannot guard a count,
  so the enqueues that check one first take a transaction-level advisory lock (per user; global for
  the queue cap), serialising exactly the enqueues that could race past the cap.
- Transitions are guarded ``UPDATE ... WHERE state IN (expected)``: the row lock makes a second
  mover wait, re-check the state and find nothing to move, so a refund happens once.

The schema lives in the first schema of the connection's ``search_path`` (``public`` by default;
``?search_path=bot`` in the URL picks another); migrations under ``migrations/postgres`` are recorded in
``schema_migrations`` and applied under an advisory lock, so processes starting together apply each once.
The dispatcher lease is a row of ``leases`` (``PostgresLease``) with an epoch, the fencing token that a
transition given a ``Fence`` checks (``_FENCE_SQL``). Every wait for a pooled connection is bounded
(``ACQUIRE_TIMEOUT``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from importlib.resources.abc import Traversable
from typing import Any, Final, Self, TypeAlias
from urllib.parse import urlsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from bot.storage import _common
from bot.storage._common import CounterKey
from bot.storage._migrations import Migration, applied_names, load_migrations, migrate
from bot.storage._sql import Params, SqlConnection, SqlStore
from bot.storage.base import Fence

__all__ = [
    "Conn",
    "PostgresLease",
    "PostgresStore",
    "apply_migrations",
    "open_postgres_store",
    "postgres_dsn",
    "redacted",
]

log = logging.getLogger(__name__)

# A direct connection or one borrowed from the pool: the same API.
Conn: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"

_SCHEMES: Final = ("postgresql://", "postgres://", "postgresql+asyncpg://")

_ENSURE_COUNTER_SQL: Final = """
INSERT INTO usage (scope, scope_id, "window") VALUES ($1, $2, $3) ON CONFLICT (scope, scope_id, "window") DO NOTHING
"""
_LOCK_COUNTER_SQL: Final = 'SELECT 1 FROM usage WHERE scope = $1 AND scope_id = $2 AND "window" = $3 FOR UPDATE'
# Checked increment of a counter the transaction has locked; no row back: over a limit.
_DEBIT_SQL: Final = """
UPDATE usage SET images = images + $4, points = points + $5
WHERE scope = $1 AND scope_id = $2 AND "window" = $3
  AND ($6::integer IS NULL OR images + $4 <= $6) AND ($7::integer IS NULL OR points + $5 <= $7)
RETURNING images
"""
_ADJUST_SQL: Final = """
INSERT INTO usage (scope, scope_id, "window", images, points)
VALUES ($1, $2, $3, GREATEST($4::integer, 0), GREATEST($5::integer, 0))
ON CONFLICT (scope, scope_id, "window") DO UPDATE
SET images = GREATEST(usage.images + $4::integer, 0), points = GREATEST(usage.points + $5::integer, 0)
"""
_LOCK_SQL: Final = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"
# The longest a statement waits for a pooled connection (all busy, or a new one that cannot connect: asyncpg's
# own connect timeout is 60 s). A dispatcher whose store stalls longer must not act on a belief that old.
ACQUIRE_TIMEOUT: Final = 10.0


# -- URLs -------------------------------------------------------------------------------------------


def postgres_dsn(url: str) -> str:
    """``postgresql://``, ``postgres://`` or ``postgresql+asyncpg://`` URL -> a DSN asyncpg accepts.

    Query parameters asyncpg does not know become server settings (``?search_path=bot``).
    """
    if not url.startswith(_SCHEMES):
        raise ValueError(f"not a PostgreSQL URL: {redacted(url)!r}")
    return "postgresql://" + url.split("://", 1)[1]


def redacted(url: str) -> str:
    """The URL without its password, for logs and errors."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def _affected(status: str) -> int:
    """Rows affected, from a command tag such as ``DELETE 3``."""
    return int(status.rsplit(" ", 1)[-1]) if status and status[-1].isdigit() else 0


class _Connection:
    """SqlConnection on an asyncpg connection (its ``$1`` parameters are PostgreSQL's own)."""

    def __init__(self, conn: Conn) -> None:
        self._conn = conn

    async def execute(self, sql: str, *params: Any) -> int:
        return _affected(await self._conn.execute(sql, *params))

    async def fetch(self, sql: str, *params: Any) -> list[asyncpg.Record]:
        return await self._conn.fetch(sql, *params)

    async def fetchrow(self, sql: str, *params: Any) -> asyncpg.Record | None:
        return await self._conn.fetchrow(sql, *params)

    async def fetchval(self, sql: str, *params: Any) -> Any:
        return await self._conn.fetchval(sql, *params)


# -- migrations -------------------------------------------------------------------------------------


class _MigrationSession:
    def __init__(self, conn: Conn) -> None:
        self._conn = conn

    async def recorded(self) -> list[tuple[int, str]]:
        await self._conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version     INTEGER PRIMARY KEY,
                   name        TEXT NOT NULL,
                   applied_at  TIMESTAMPTZ NOT NULL DEFAULT now())"""
        )
        rows = await self._conn.fetch("SELECT version, name FROM schema_migrations")
        return [(int(r["version"]), str(r["name"])) for r in rows]

    async def run(self, sql: str) -> None:
        await self._conn.execute(sql)  # no arguments: the simple protocol runs a multi-statement script

    async def record(self, migration: Migration) -> None:
        await self._conn.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", migration.version, migration.file
        )


async def _current_schema(conn: Conn) -> str:
    schema = await conn.fetchval("SELECT current_schema()")
    if schema is None:
        path = await conn.fetchval("SHOW search_path")
        raise RuntimeError(f"no schema of search_path {path!r} exists: create it first")
    return str(schema)


async def apply_migrations(conn: Conn, directory: Traversable | None = None, *, apply: bool = True) -> int:
    """Apply the pending migrations (``_migrations.migrate``), each in a transaction that first takes an
    advisory lock named after the schema, so concurrent openers apply each migration once."""
    lock = f"libbot:migrations:{await _current_schema(conn)}"

    @contextlib.asynccontextmanager
    async def begin() -> AsyncIterator[_MigrationSession]:
        async with conn.transaction():
            await conn.execute(_LOCK_SQL, lock)
            yield _MigrationSession(conn)

    return await migrate(begin, load_migrations("postgres", directory), apply=apply)


async def _check_columns(conn: Conn) -> None:
    """Fail fast when a Job field has no column (a field added without a migration)."""
    rows = await conn.fetch(
        "SELECT attname FROM pg_attribute WHERE attrelid = 'jobs'::regclass AND attnum > 0 AND NOT attisdropped"
    )
    _common.check_job_columns(str(row[0]) for row in rows)


# -- the dispatcher lease ---------------------------------------------------------------------------

# Take the row when it is ours (renewal) or expired (takeover); otherwise leave it and return nothing. The
# epoch (the fencing token) grows with every acquisition: a takeover, or a holder coming back after its own
# lease lapsed; a renewal of an unexpired lease keeps it. A released row is kept (expired) for its epoch.
_ACQUIRE_SQL: Final = """
INSERT INTO leases AS l (name, holder, expires_at, epoch)
VALUES ($1, $2, COALESCE($4::timestamptz, clock_timestamp()) + make_interval(secs => $3::float8), 1)
ON CONFLICT (name) DO UPDATE SET
    holder = excluded.holder,
    expires_at = excluded.expires_at,
    epoch = CASE
        WHEN l.holder = excluded.holder AND l.expires_at > COALESCE($4::timestamptz, clock_timestamp())
        THEN l.epoch ELSE l.epoch + 1
    END
WHERE l.holder = excluded.holder OR l.expires_at <= COALESCE($4::timestamptz, clock_timestamp())
RETURNING holder, epoch
"""
_RELEASE_SQL: Final = "UPDATE leases SET expires_at = '-infinity' WHERE name = $1 AND holder = $2"
_HOLDER_SQL: Final = """
SELECT holder FROM leases WHERE name = $1 AND expires_at > COALESCE($2::timestamptz, clock_timestamp())
"""
# Still the current token: the lease row is share-locked, so a concurrent takeover either waits for this
# transaction (whose move the new holder then finds) or committed first (and this move is refused).
_FENCE_SQL: Final = " AND EXISTS (SELECT 1 FROM leases WHERE name = {} AND holder = {} AND epoch = {} FOR SHARE)"


class PostgresLease:
    """A lease row in the ``leases`` table: one holder at a time, expiries by the database clock (one
    clock for every host, so no skew between processes). A holder renews; anyone may take an expired row.

    ``clock`` replaces the database clock (tests); by default expiries use ``clock_timestamp()``.
    """

    def __init__(
        self,
        pool: asyncpg.Pool[asyncpg.Record],
        *,
        ttl_seconds: float,
        name: str,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self._pool = pool
        self._ttl = ttl_seconds
        self._name = name
        self._clock = clock
        # A statement that hangs longer than this could not renew in time anyway.
        self._timeout = max(0.5, ttl_seconds / 3)

    def _now(self) -> datetime | None:
        return self._clock() if self._clock is not None else None

    async def acquire_or_renew(self, holder_id: str) -> Fence | None:
        # The pool's wait for a connection is bounded too: a renewal that cannot start in time is a failed one.
        async with self._pool.acquire(timeout=self._timeout) as conn:
            row = await conn.fetchrow(
                _ACQUIRE_SQL, self._name, holder_id, self._ttl, self._now(), timeout=self._timeout
            )
        if row is None or row["holder"] != holder_id:
            return None
        return Fence(self._name, holder_id, int(row["epoch"]))

    async def release(self, holder_id: str) -> None:
        try:
            async with self._pool.acquire(timeout=self._timeout) as conn:
                await conn.execute(_RELEASE_SQL, self._name, holder_id, timeout=self._timeout)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
            log.warning("lease %s: release failed (%s); it will expire", self._name, type(exc).__name__)

    async def holder(self) -> str | None:
        """Who holds the lease now (None: nobody, or expired). For diagnostics and admin views."""
        async with self._pool.acquire(timeout=self._timeout) as conn:
            value = await conn.fetchval(_HOLDER_SQL, self._name, self._now(), timeout=self._timeout)
        return str(value) if value is not None else None


# -- the store --------------------------------------------------------------------------------------


class PostgresStore(SqlStore):
    """The Store for several processes. Create with ``await PostgresStore.open(url)``."""

    _SEQ = "seq"
    _DEBIT_SQL = _DEBIT_SQL
    _ADJUST_SQL = _ADJUST_SQL
    _RESULT_IMAGES_SQL = "jsonb_array_length(j.result -> 'images')"

    def __init__(
        self,
        pool: asyncpg.Pool[asyncpg.Record],
        schema: str,
        target: str,
        *,
        acquire_timeout: float = ACQUIRE_TIMEOUT,
    ) -> None:
        self._pool: asyncpg.Pool[asyncpg.Record] | None = pool
        self._schema = schema
        self._target = target
        self._acquire_timeout = acquire_timeout

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        migrations: Traversable | None = None,
        acquire_timeout: float = ACQUIRE_TIMEOUT,
        migrate: bool = True,
    ) -> Self:
        """Create the pool and apply pending migrations (the schema itself must exist).

        ``acquire_timeout``: the longest any statement waits for a pooled connection (all in use, or a new
        one that cannot connect) before it fails with ``TimeoutError``."""
        pool = await asyncpg.create_pool(postgres_dsn(url), min_size=min_size, max_size=max_size)
        try:
            async with pool.acquire() as conn:
                schema = await _current_schema(conn)
                version = await apply_migrations(conn, migrations, apply=migrate)
                await _check_columns(conn)
        except BaseException:
            await pool.close()
            raise
        target = redacted(url)
        log.info("PostgreSQL store open: %s, schema %s (version %d)", target, schema, version)
        return cls(pool, schema, target, acquire_timeout=acquire_timeout)

    @property
    def schema(self) -> str:
        return self._schema

    @property
    def pool(self) -> asyncpg.Pool[asyncpg.Record]:
        """The connection pool (for tests and diagnostics that read this database directly)."""
        if self._pool is None:
            raise RuntimeError("the store is closed")
        return self._pool

    # -- SqlStore hooks ---------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _read(self) -> AsyncIterator[SqlConnection]:
        async with self.pool.acquire(timeout=self._acquire_timeout) as conn:
            yield _Connection(conn)

    _write = _read  # one statement commits on its own

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[SqlConnection]:
        """One transaction on a pooled connection: committed on exit, rolled back on any exception."""
        async with self.pool.acquire(timeout=self._acquire_timeout) as conn, conn.transaction():
            yield _Connection(conn)

    def _encode_datetime(self, value: datetime) -> datetime:
        return _common.check_aware(value)  # asyncpg binds aware datetimes natively

    def _decode_datetime(self, raw: Any) -> datetime:
        value: datetime = raw
        return value.astimezone(UTC)

    def _encode_field(self, name: str, value: Any) -> Any:
        if name == "percent" and value is not None:
            return float(value)  # a DOUBLE PRECISION column: asyncpg binds floats only
        return super()._encode_field(name, value)

    def _fence_condition(self, params: Params, fence: Fence) -> str:
        return _FENCE_SQL.format(params.add(fence.lease), params.add(fence.holder), params.add(fence.epoch))

    async def _lock_caps(self, conn: SqlConnection, user_id: int, *, queue: bool, user: bool) -> None:
        # Lock order everywhere: queue lock, user lock, then counters sorted by key.
        if queue:
            await self._advisory_lock(conn, "queue")
        if user:
            await self._advisory_lock(conn, f"user:{user_id}")

    async def _advisory_lock(self, conn: SqlConnection, name: str) -> None:
        """Transaction-level advisory lock, namespaced by schema (locks are database-wide)."""
        await conn.execute(_LOCK_SQL, f"libbot:{self._schema}:{name}")

    async def _lock_counters(self, conn: SqlConnection, keys: Sequence[CounterKey]) -> None:
        """Create (at zero) and row-lock every counter, in key order: no deadlocks."""
        for key in keys:
            await conn.execute(_ENSURE_COUNTER_SQL, *key)
            await conn.execute(_LOCK_COUNTER_SQL, *key)

    # -- the lease --------------------------------------------------------------------------------

    @property
    def multi_process(self) -> bool:
        return True

    def lease(self, name: str, *, ttl_seconds: float) -> PostgresLease:
        return PostgresLease(self.pool, ttl_seconds=ttl_seconds, name=name)

    # -- lifecycle --------------------------------------------------------------------------------

    async def ping(self) -> bool:
        """True when the database answers (health checks)."""
        if self._pool is None:
            return False
        try:
            async with self._pool.acquire(timeout=5.0) as conn:
                return bool(await conn.fetchval("SELECT 1", timeout=5.0) == 1)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError):
            return False

    async def close(self) -> None:
        """Close the pool (waits for connections in use to be released); safe to call twice."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
            log.info("PostgreSQL store closed: %s", self._target)


async def open_postgres_store(
    url: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    acquire_timeout: float = ACQUIRE_TIMEOUT,
    migrate: bool = True,
) -> PostgresStore:
    """Open a PostgresStore on ``url`` (migrating as needed; ``migrate=False``: refuse a database with pending
    migrations). The caller closes it."""
    return await PostgresStore.open(
        url, min_size=min_size, max_size=max_size, acquire_timeout=acquire_timeout, migrate=migrate
    )


async def probe_postgres(url: str, *, connect_timeout: float = 5.0) -> str:
    """Read-only: connect, find the schema and compare its recorded migrations with this code's; a sentence
    for ``check``. Raises OSError/asyncpg errors/TimeoutError when unreachable, RuntimeError when unusable."""
    conn = await asyncpg.connect(postgres_dsn(url), timeout=connect_timeout)
    try:
        schema = await _current_schema(conn)
        migrations = load_migrations("postgres")
        exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
        recorded: list[tuple[int, str]] = []
        if exists:
            rows = await conn.fetch("SELECT version, name FROM schema_migrations")
            recorded = [(int(r["version"]), str(r["name"])) for r in rows]
        applied = applied_names(recorded, migrations)  # raises when the schema is newer than this code
    finally:
        await conn.close()
    pending = [m for m in migrations if m.name not in applied]
    where = f"PostgreSQL {redacted(url)} (schema {schema})"
    if not pending:
        return f"{where}: migrations up to date ({len(migrations)})"
    return f"{where}: {len(pending)} migration(s) pending, applied at the next start"
