"""PostgresStore: the Store port on an asyncpg pool, shared safely by several bot processes.

Concurrency, across connections and processes alike (READ COMMITTED, the PostgreSQL default):
- Every write is one transaction. A refused enqueue rolls back its debits and its insert together.
- Quota counters are locked (``SELECT ... FOR UPDATE``) before they are checked and incremented, and
  always in the same order (sorted by key) by enqueue, refund and settlement, so two transactions
  never deadlock on them and a limit can never be overspent.
- The per-user active cap and the queue cap are counts over ``jobs``; row locks cannot guard a count,
  so the enqueues that check one first take a transaction-level advisory lock (per user; global for
  the queue cap), serialising exactly the enqueues that could race past the cap.
- Transitions are guarded ``UPDATE ... WHERE state = ANY(expected)``: the row lock makes a second
  mover wait, re-check the state and find nothing to move, so a refund happens once.

The schema lives in the first schema of the connection's ``search_path`` (``public`` by default;
``?search_path=bot`` in the URL picks another); migrations under ``migrations/postgres`` are tracked in
``schema_migrations`` and applied under an advisory lock, so processes starting together apply each once.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from importlib.resources.abc import Traversable
from types import TracebackType
from typing import Any, Final, Self, TypeAlias
from urllib.parse import urlsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from bot.models import ACTIVE_STATES, Job, JobState, UsageDebit, utcnow
from bot.storage import _common
from bot.storage._common import JOB_FIELDS, REFUNDING_STATES, Rollback
from bot.storage.base import AuditEntry, EnqueueOutcome, EnqueueResult, PromptLogEntry, Settlement, UsageRow

__all__ = ["Conn", "PostgresStore", "apply_migrations", "open_postgres_store", "postgres_dsn", "redacted"]

log = logging.getLogger(__name__)

# A direct connection or one borrowed from the pool: the same API.
Conn: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"

_SCHEMES: Final = ("postgresql://", "postgres://", "postgresql+asyncpg://")
_ACTIVE: Final = sorted(str(s) for s in ACTIVE_STATES)

_INSERT_JOB_SQL: Final = (
    f"INSERT INTO jobs ({', '.join(JOB_FIELDS)}) "  # noqa: S608 - column names from the Job dataclass
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(JOB_FIELDS) + 1))})"
)
_COUNT_ACTIVE_SQL: Final = "SELECT COUNT(*) FROM jobs WHERE user_id = $1 AND state = ANY($2::text[])"
_QUEUE_POSITION_SQL: Final = """
SELECT COUNT(*) FROM jobs AS q, jobs AS me
WHERE me.id = $1 AND q.state = 'queued' AND (q.created_at, q.seq) <= (me.created_at, me.seq)
"""
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
# Unchecked adjustment (refund: negative deltas; settlement: actual - reserved), clamped at 0.
_ADJUST_SQL: Final = """
INSERT INTO usage (scope, scope_id, "window", images, points)
VALUES ($1, $2, $3, GREATEST($4::integer, 0), GREATEST($5::integer, 0))
ON CONFLICT (scope, scope_id, "window") DO UPDATE
SET images = GREATEST(usage.images + $4::integer, 0), points = GREATEST(usage.points + $5::integer, 0)
"""
_LOCK_SQL: Final = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"


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


# -- encoding: asyncpg binds and returns aware datetimes, booleans and floats natively --------------


def _decode_datetime(raw: datetime) -> datetime:
    return raw.astimezone(UTC)


def _encode_field(name: str, value: Any) -> Any:
    """Python value of Job attribute ``name`` -> the value asyncpg binds for its column."""
    if name == "percent" and value is not None:
        return float(value)
    return _common.encode_field(name, value)


def _row_to_job(row: asyncpg.Record) -> Job:
    return _common.row_to_job(row, decode_datetime=_decode_datetime)


def _encode_updates(fields: Mapping[str, Any]) -> dict[str, Any]:
    return _common.encode_updates(fields, _encode_field)


def _assignments(names: Iterable[str], first: int = 1) -> str:
    """``a = $1, b = $2`` for validated column names (values are bound, never interpolated)."""
    return ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=first))


def _counter_key(debit: UsageDebit) -> tuple[str, int, str]:
    return (debit.scope, debit.scope_id, debit.window)


# -- migrations -------------------------------------------------------------------------------------


def _load_migrations(directory: Traversable) -> list[tuple[int, str, str]]:
    """(version, name, sql) for every ``NNNN_name.sql``, in order; versions must run 1, 2, 3 …"""
    return _common.check_contiguous(_common.scan_migrations(directory))


async def _current_schema(conn: Conn) -> str:
    schema = await conn.fetchval("SELECT current_schema()")
    if schema is None:
        path = await conn.fetchval("SHOW search_path")
        raise RuntimeError(f"no schema of search_path {path!r} exists: create it first")
    return str(schema)


async def apply_migrations(conn: Conn, directory: Traversable | None = None) -> int:
    """Apply the pending numbered migrations, each in its own transaction; returns the schema version.

    ``schema_migrations`` records each applied migration. Each transaction first takes an advisory
    lock named after the schema and reads the version again, so concurrent openers apply each once.
    """
    migrations = _load_migrations(directory if directory is not None else _common.default_migrations("postgres"))
    latest = migrations[-1][0] if migrations else 0
    lock = f"libbot:migrations:{await _current_schema(conn)}"
    current = 0
    for version, name, sql in migrations:
        async with conn.transaction():
            await conn.execute(_LOCK_SQL, lock)
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version     INTEGER PRIMARY KEY,
                       name        TEXT NOT NULL,
                       applied_at  TIMESTAMPTZ NOT NULL DEFAULT now())"""
            )
            current = int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))
            if current > latest:
                raise RuntimeError(f"database schema version {current} is newer than this code ({latest})")
            if current >= version:
                continue
            await conn.execute(sql)  # no arguments: the simple protocol runs a multi-statement script
            await conn.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name)
            current = version
        log.info("applied migration %s", name)
    return current


async def _check_columns(conn: Conn) -> None:
    """Fail fast when a Job field has no column (a field added without a migration)."""
    rows = await conn.fetch(
        "SELECT attname FROM pg_attribute WHERE attrelid = 'jobs'::regclass AND attnum > 0 AND NOT attisdropped"
    )
    _common.check_job_columns(str(row[0]) for row in rows)


# -- the store --------------------------------------------------------------------------------------


class PostgresStore:
    """The Store for several processes. Create with ``await PostgresStore.open(url)``."""

    def __init__(self, pool: asyncpg.Pool[asyncpg.Record], schema: str, target: str) -> None:
        self._pool: asyncpg.Pool[asyncpg.Record] | None = pool
        self._schema = schema
        self._target = target

    @classmethod
    async def open(
        cls, url: str, *, min_size: int = 1, max_size: int = 10, migrations: Traversable | None = None
    ) -> Self:
        """Create the pool and apply pending migrations (the schema itself must exist)."""
        pool = await asyncpg.create_pool(postgres_dsn(url), min_size=min_size, max_size=max_size)
        try:
            async with pool.acquire() as conn:
                schema = await _current_schema(conn)
                version = await apply_migrations(conn, migrations)
                await _check_columns(conn)
        except BaseException:
            await pool.close()
            raise
        target = redacted(url)
        log.info("PostgreSQL store open: %s, schema %s (version %d)", target, schema, version)
        return cls(pool, schema, target)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def schema(self) -> str:
        return self._schema

    @property
    def pool(self) -> asyncpg.Pool[asyncpg.Record]:
        """The connection pool (for adapters sharing this database, e.g. the dispatcher lease)."""
        if self._pool is None:
            raise RuntimeError("the store is closed")
        return self._pool

    # -- plumbing ---------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Conn]:
        """One transaction on a pooled connection: committed on exit, rolled back on any exception."""
        async with self.pool.acquire() as conn, conn.transaction():
            yield conn

    async def _lock(self, conn: Conn, name: str) -> None:
        """Transaction-level advisory lock, namespaced by schema (locks are database-wide)."""
        await conn.execute(_LOCK_SQL, f"libbot:{self._schema}:{name}")

    # -- jobs -------------------------------------------------------------------------------------

    async def enqueue(
        self, job: Job, *, max_active_per_user: int | None = None, max_queued_total: int | None = None
    ) -> EnqueueResult:
        if job.state is not JobState.QUEUED:
            raise ValueError(f"enqueue needs a QUEUED job, got {job.state}")
        values = [_encode_field(name, getattr(job, name)) for name in JOB_FIELDS]  # refuse bad input first
        try:
            async with self._transaction() as conn:
                result = await self._enqueue_in_tx(conn, job, values, max_active_per_user, max_queued_total)
        except Rollback as rollback:
            result = rollback.result
        return await _common.with_usage_totals(result, self.get_usage)

    async def _enqueue_in_tx(
        self, conn: Conn, job: Job, values: Sequence[Any], max_active: int | None, max_queued: int | None
    ) -> EnqueueResult:
        # Lock order everywhere: queue lock, user lock, then counters sorted by key.
        if max_queued is not None:
            await self._lock(conn, "queue")
        if max_active is not None:
            await self._lock(conn, f"user:{job.user_id}")
            active = int(await conn.fetchval(_COUNT_ACTIVE_SQL, job.user_id, _ACTIVE))
            if active >= max_active:
                raise Rollback(EnqueueResult(EnqueueOutcome.TOO_MANY_ACTIVE, active_count=active))
        if max_queued is not None:
            queued = int(await conn.fetchval("SELECT COUNT(*) FROM jobs WHERE state = 'queued'"))
            if queued >= max_queued:
                raise Rollback(EnqueueResult(EnqueueOutcome.QUEUE_FULL, active_count=queued))
        await self._lock_counters(conn, job.debits)
        for debit in job.debits:
            applied = await conn.fetchval(
                _DEBIT_SQL, *_counter_key(debit), debit.images, debit.points, debit.max_images, debit.max_points
            )
            if applied is None:
                raise Rollback(EnqueueResult(EnqueueOutcome.QUOTA_EXCEEDED, failed_debit=debit))
        await conn.execute(_INSERT_JOB_SQL, *values)
        position = int(await conn.fetchval(_QUEUE_POSITION_SQL, job.id))
        return EnqueueResult(EnqueueOutcome.OK, queue_position=position)

    @staticmethod
    async def _lock_counters(conn: Conn, debits: Iterable[UsageDebit]) -> None:
        """Create (at zero) and row-lock every counter of ``debits``, in key order: no deadlocks."""
        for key in sorted({_counter_key(d) for d in debits}):
            await conn.execute(_ENSURE_COUNTER_SQL, *key)
            await conn.execute(_LOCK_COUNTER_SQL, *key)

    async def get_job(self, job_id: str) -> Job | None:
        row = await self.pool.fetchrow("SELECT * FROM jobs WHERE id = $1", job_id)
        return _row_to_job(row) if row is not None else None

    async def transition(
        self,
        job_id: str,
        expected: JobState | Iterable[JobState],
        new: JobState,
        *,
        settlement: Settlement | None = None,
        **fields: Any,
    ) -> Job | None:
        """See ``Store.transition``: one guarded ``UPDATE ... WHERE state = ANY(expected)``.

        The checks and defaults are ``_common.transition_sources`` and ``_common.transition_updates``.
        """
        sources = _common.transition_sources(expected, new, settlement)
        updates = _common.transition_updates(_encode_updates(fields), new, settlement, now=utcnow())
        n = len(updates)
        # Column names come from _encode_updates (validated Job field names); values are bound.
        sql = (
            f"UPDATE jobs SET {_assignments(updates)} "  # noqa: S608
            f"WHERE id = ${n + 1} AND state = ANY(${n + 2}::text[]) RETURNING *"
        )
        async with self._transaction() as conn:
            row = await conn.fetchrow(sql, *updates.values(), job_id, sorted(str(s) for s in sources))
            if row is None:
                return None
            job = _row_to_job(row)
            if new in REFUNDING_STATES:
                job = await self._refund_in_tx(conn, job)
            elif settlement is not None:
                job = await self._settle_in_tx(conn, job, settlement)
        return job

    async def _refund_in_tx(self, conn: Conn, job: Job) -> Job:
        row = await conn.fetchrow("UPDATE jobs SET refunded = TRUE WHERE id = $1 AND NOT refunded RETURNING *", job.id)
        if row is None:  # already refunded
            return job
        await self._adjust(conn, _common.refund_deltas(job.debits))
        return _row_to_job(row)

    async def _settle_in_tx(self, conn: Conn, job: Job, settlement: Settlement) -> Job:
        if job.refunded or not job.debits:
            return job
        await self._adjust(conn, _common.settlement_deltas(job.debits, settlement))
        settled = _common.encode_debits(_common.settled_debits(job.debits, settlement))
        row = await conn.fetchrow("UPDATE jobs SET debits = $1 WHERE id = $2 RETURNING *", settled, job.id)
        return _row_to_job(row) if row is not None else job

    @staticmethod
    async def _adjust(conn: Conn, deltas: Iterable[_common.Delta]) -> None:
        """Unchecked counter adjustments, applied in key order like every counter lock."""
        for debit, images, points in sorted(deltas, key=lambda item: _counter_key(item[0])):
            await conn.execute(_ADJUST_SQL, *_counter_key(debit), images, points)

    async def update_job(self, job_id: str, **fields: Any) -> None:
        """Set non-state fields (progress message id, percent, ...)."""
        updates = _encode_updates(fields)
        if not updates:
            return
        sql = f"UPDATE jobs SET {_assignments(updates)} WHERE id = ${len(updates) + 1}"  # noqa: S608 - validated names
        await self.pool.execute(sql, *updates.values(), job_id)

    async def list_jobs(
        self,
        states: Iterable[JobState],
        *,
        guild_id: int | None = None,
        user_id: int | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Job]:
        """Jobs in ``states``, oldest first by creation (newest first when asked)."""
        wanted = sorted({str(s) for s in states})
        if not wanted or (limit is not None and limit <= 0):
            return []
        sql = "SELECT * FROM jobs WHERE state = ANY($1::text[])"
        params: list[Any] = [wanted]
        if guild_id is not None:
            params.append(guild_id)
            sql += f" AND guild_id = ${len(params)}"
        if user_id is not None:
            params.append(user_id)
            sql += f" AND user_id = ${len(params)}"
        direction = "DESC" if newest_first else "ASC"
        sql += f" ORDER BY created_at {direction}, seq {direction}"
        if limit is not None:
            params.append(limit)
            sql += f" LIMIT ${len(params)}"
        rows = await self.pool.fetch(sql, *params)
        return [_row_to_job(row) for row in rows]

    async def count_active(self, user_id: int) -> int:
        return int(await self.pool.fetchval(_COUNT_ACTIVE_SQL, user_id, _ACTIVE))

    async def find_recent_by_fingerprint(
        self, fingerprint: str, *, since: datetime, guild_id: int | None, user_id: int | None = None
    ) -> Job | None:
        sql = (
            "SELECT * FROM jobs WHERE fingerprint = $1 AND created_at >= $2 AND state = $3"
            " AND result IS NOT NULL AND guild_id IS NOT DISTINCT FROM $4"
        )
        params: list[Any] = [fingerprint, since, str(JobState.SUCCEEDED), guild_id]
        if user_id is not None:
            sql += " AND user_id = $5"
            params.append(user_id)
        row = await self.pool.fetchrow(sql + " ORDER BY created_at DESC, seq DESC LIMIT 1", *params)
        return _row_to_job(row) if row is not None else None

    # -- quota counters ---------------------------------------------------------------------------

    async def get_usage(self, scope: str, scope_id: int, window: str) -> tuple[int, int]:
        """(images, points) used in that counter; (0, 0) when none."""
        row = await self.pool.fetchrow(
            'SELECT images, points FROM usage WHERE scope = $1 AND scope_id = $2 AND "window" = $3',
            scope,
            scope_id,
            window,
        )
        return (int(row["images"]), int(row["points"])) if row is not None else (0, 0)

    async def list_usage(self, scope: str, window: str, *, limit: int | None = None) -> list[UsageRow]:
        """Every counter of ``scope`` in ``window``, most points first (then most images, then scope_id)."""
        rows = await self.pool.fetch(
            'SELECT scope, scope_id, "window", images, points FROM usage WHERE scope = $1 AND "window" = $2 '
            "ORDER BY points DESC, images DESC, scope_id LIMIT $3",
            scope,
            window,
            None if limit is None else max(limit, 0),
        )
        return [UsageRow(r["scope"], int(r["scope_id"]), r["window"], int(r["images"]), int(r["points"])) for r in rows]

    async def reset_usage(self, scope: str, scope_id: int, windows: Iterable[str]) -> None:
        """Zero those counters (an admin's reset). Later refunds of older jobs clamp at zero."""
        await self.pool.execute(
            'DELETE FROM usage WHERE scope = $1 AND scope_id = $2 AND "window" = ANY($3::text[])',
            scope,
            scope_id,
            list(windows),
        )

    # -- server administration --------------------------------------------------------------------

    async def get_guild_config(self, guild_id: int) -> dict[str, dict[str, Any]]:
        """Every scope's stored settings object ("server", "channel:<id>", "role:<id>", "member:<id>")."""
        rows = await self.pool.fetch("SELECT scope, config FROM guild_config WHERE guild_id = $1", guild_id)
        return {str(r["scope"]): dict(json.loads(r["config"])) for r in rows}

    async def set_guild_config(self, guild_id: int, scope: str, config: dict[str, Any] | None) -> None:
        """Replace one scope's settings object (JSON-serialisable); None or {} deletes it."""
        if not config:
            await self.pool.execute("DELETE FROM guild_config WHERE guild_id = $1 AND scope = $2", guild_id, scope)
            return
        await self.pool.execute(
            """INSERT INTO guild_config (guild_id, scope, config, updated_at) VALUES ($1, $2, $3::jsonb, $4)
               ON CONFLICT (guild_id, scope)
               DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at""",
            guild_id,
            scope,
            json.dumps(config, ensure_ascii=False, sort_keys=True),
            utcnow(),
        )

    async def append_audit(self, entry: AuditEntry) -> None:
        await self.pool.execute(
            "INSERT INTO admin_audit (guild_id, actor_id, action, detail, created_at) VALUES ($1, $2, $3, $4, $5)",
            entry.guild_id,
            entry.actor_id,
            entry.action,
            entry.detail,
            _common.check_aware(entry.created_at),
        )

    async def list_audit(self, guild_id: int, *, limit: int = 20) -> list[AuditEntry]:
        """Newest first."""
        rows = await self.pool.fetch(
            "SELECT * FROM admin_audit WHERE guild_id = $1 ORDER BY id DESC LIMIT $2", guild_id, max(limit, 0)
        )
        return [_common.audit_entry(r, decode_datetime=_decode_datetime) for r in rows]

    async def append_prompt_log(self, entry: PromptLogEntry, *, prune_before: datetime | None = None) -> None:
        """Record a prompt; with ``prune_before``, also delete entries created before it (retention)."""
        async with self._transaction() as conn:
            await conn.execute(
                """INSERT INTO prompt_log (guild_id, channel_id, user_id, job_id, mode, prompt, negative_prompt,
                                           created_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
                entry.guild_id,
                entry.channel_id,
                entry.user_id,
                entry.job_id,
                entry.mode,
                entry.prompt,
                entry.negative_prompt,
                _common.check_aware(entry.created_at),
            )
            if prune_before is not None:
                await conn.execute("DELETE FROM prompt_log WHERE created_at < $1", prune_before)

    async def list_prompt_log(
        self, guild_id: int, *, user_id: int | None = None, limit: int = 20
    ) -> list[PromptLogEntry]:
        """Newest first, with each job's state, images and points joined."""
        rows = await self.pool.fetch(
            """SELECT p.*, j.state AS job_state, j.points_cost, j.points_reserved,
                      jsonb_array_length(j.result -> 'images') AS result_images
               FROM prompt_log AS p LEFT JOIN jobs AS j ON j.id = p.job_id
               WHERE p.guild_id = $1 AND ($2::bigint IS NULL OR p.user_id = $2)
               ORDER BY p.id DESC LIMIT $3""",
            guild_id,
            user_id,
            max(limit, 0),
        )
        return [_prompt_log_entry(r) for r in rows]

    async def prune_prompt_log(self, before: datetime) -> int:
        """Delete entries created before ``before``; returns how many."""
        status = await self.pool.execute("DELETE FROM prompt_log WHERE created_at < $1", before)
        return _affected(status)

    async def add_strike(self, guild_id: int, user_id: int, at: datetime, *, since: datetime) -> int:
        async with self._transaction() as conn:
            await conn.execute(
                "DELETE FROM strikes WHERE guild_id = $1 AND user_id = $2 AND created_at < $3", guild_id, user_id, since
            )
            await conn.execute(
                "INSERT INTO strikes (guild_id, user_id, created_at) VALUES ($1, $2, $3)", guild_id, user_id, at
            )
            count = await conn.fetchval(
                "SELECT COUNT(*) FROM strikes WHERE guild_id = $1 AND user_id = $2", guild_id, user_id
            )
        return int(count or 0)

    async def clear_strikes(self, guild_id: int, user_id: int) -> int:
        status = await self.pool.execute("DELETE FROM strikes WHERE guild_id = $1 AND user_id = $2", guild_id, user_id)
        return _affected(status)

    async def get_timer(self, guild_id: int, user_id: int, kind: str) -> datetime | None:
        """When the member's ``kind`` timer ("cooldown", "blocked", ...) ends, or None."""
        value: datetime | None = await self.pool.fetchval(
            "SELECT until FROM member_timers WHERE guild_id = $1 AND user_id = $2 AND kind = $3",
            guild_id,
            user_id,
            kind,
        )
        return value

    async def set_timer(self, guild_id: int, user_id: int, kind: str, until: datetime | None) -> None:
        """Set (or with None clear) a member's timer."""
        if until is None:
            await self.pool.execute(
                "DELETE FROM member_timers WHERE guild_id = $1 AND user_id = $2 AND kind = $3", guild_id, user_id, kind
            )
            return
        await self.pool.execute(
            """INSERT INTO member_timers (guild_id, user_id, kind, until) VALUES ($1, $2, $3, $4)
               ON CONFLICT (guild_id, user_id, kind) DO UPDATE SET until = excluded.until""",
            guild_id,
            user_id,
            kind,
            until,
        )

    async def claim_timer(
        self, guild_id: int, user_id: int, kind: str, *, now: datetime, until: datetime
    ) -> datetime | None:
        async with self._transaction() as conn:
            started = await conn.fetchval(
                """INSERT INTO member_timers (guild_id, user_id, kind, until) VALUES ($1, $2, $3, $4)
                   ON CONFLICT (guild_id, user_id, kind) DO UPDATE SET until = excluded.until
                   WHERE member_timers.until <= $5
                   RETURNING until""",
                guild_id,
                user_id,
                kind,
                until,
                now,
            )
            if started is not None:
                return None
            current: datetime | None = await conn.fetchval(
                "SELECT until FROM member_timers WHERE guild_id = $1 AND user_id = $2 AND kind = $3",
                guild_id,
                user_id,
                kind,
            )
        return current

    # -- meta -------------------------------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        value = await self.pool.fetchval("SELECT value FROM meta WHERE key = $1", key)
        return str(value) if value is not None else None

    async def set_meta(self, key: str, value: str) -> None:
        await self.pool.execute(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            key,
            value,
        )

    # -- lifecycle --------------------------------------------------------------------------------

    async def ping(self) -> bool:
        """True when the database answers (health checks)."""
        if self._pool is None:
            return False
        try:
            return bool(await self._pool.fetchval("SELECT 1", timeout=5.0) == 1)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError):
            return False

    async def close(self) -> None:
        """Close the pool (waits for connections in use to be released); safe to call twice."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
            log.info("PostgreSQL store closed: %s", self._target)


async def open_postgres_store(url: str, *, min_size: int = 1, max_size: int = 10) -> PostgresStore:
    """Open a PostgresStore on ``url`` (migrating as needed). The caller closes it."""
    return await PostgresStore.open(url, min_size=min_size, max_size=max_size)


def _affected(status: str) -> int:
    """Rows affected, from a command tag such as ``DELETE 3``."""
    return int(status.rsplit(" ", 1)[-1]) if status and status[-1].isdigit() else 0


def _prompt_log_entry(row: asyncpg.Record) -> PromptLogEntry:
    return _common.prompt_log_entry(row, result_images=_result_images, decode_datetime=_decode_datetime)


def _result_images(row: _common.Row) -> int | None:
    """Images in the joined job's result, counted by the query (``result_images``)."""
    return int(row["result_images"]) if row["result_images"] is not None else None
