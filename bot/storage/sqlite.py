"""SqliteStore: the Store port on one aiosqlite connection (WAL, migrations on open, guarded writes).

Every write is one explicit transaction (``BEGIN IMMEDIATE`` … ``COMMIT``) taken under an
``asyncio.Lock``, so the quota checks, the debits and the job insert of an enqueue commit or roll
back together, and no coroutine ever reads another's uncommitted rows. ``BEGIN IMMEDIATE`` takes
SQLite's write lock up front, so a second process on the same file waits (``busy_timeout``) instead
of failing half-way.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import UTC, datetime
from importlib.resources.abc import Traversable
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

import aiosqlite

from bot.models import ACTIVE_STATES, Job, JobResult, JobState, utcnow
from bot.storage import _common
from bot.storage._common import JOB_FIELDS, REFUNDING_STATES, Rollback
from bot.storage.base import AuditEntry, EnqueueOutcome, EnqueueResult, PromptLogEntry, Settlement, UsageRow

__all__ = ["SqliteStore", "apply_migrations", "open_sqlite_store", "sqlite_path_from_url"]

log = logging.getLogger(__name__)

MEMORY: Final = ":memory:"

_DEBIT_SQL: Final = """
INSERT INTO usage (scope, scope_id, "window", images, points)
SELECT :scope, :scope_id, :window, :images, :points
WHERE (:max_images IS NULL OR :images <= :max_images) AND (:max_points IS NULL OR :points <= :max_points)
ON CONFLICT (scope, scope_id, "window") DO UPDATE
SET images = usage.images + excluded.images, points = usage.points + excluded.points
WHERE (:max_images IS NULL OR usage.images + excluded.images <= :max_images)
  AND (:max_points IS NULL OR usage.points + excluded.points <= :max_points)
RETURNING images, points
"""

_ACTIVE_JSON: Final = json.dumps(sorted(str(s) for s in ACTIVE_STATES))
_COUNT_ACTIVE_SQL: Final = "SELECT COUNT(*) FROM jobs WHERE user_id = ? AND state IN (SELECT value FROM json_each(?))"
_INSERT_JOB_SQL: Final = (
    f"INSERT INTO jobs ({', '.join(JOB_FIELDS)}) "  # noqa: S608 - column names from the Job dataclass
    f"VALUES ({', '.join('?' * len(JOB_FIELDS))})"
)

# Unchecked adjustment (refund: negative deltas; settlement: actual - reserved), clamped at 0.
_ADJUST_SQL: Final = """
INSERT INTO usage (scope, scope_id, "window", images, points)
VALUES (:scope, :scope_id, :window, MAX(:images, 0), MAX(:points, 0))
ON CONFLICT (scope, scope_id, "window") DO UPDATE
SET images = MAX(usage.images + :images, 0), points = MAX(usage.points + :points, 0)
"""


# -- encoding: Job datetimes are ISO 8601 text in UTC, ``refunded`` is 0/1 -----------------------


def _encode_datetime(value: datetime) -> str:
    return _common.check_aware(value).astimezone(UTC).isoformat(timespec="microseconds")


def _decode_datetime(raw: str) -> datetime:
    value = datetime.fromisoformat(raw)
    if value.tzinfo is None:  # never written by this store; be lenient with hand-edited rows
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _encode_field(name: str, value: Any) -> Any:
    """Python value of Job attribute ``name`` -> SQLite column value."""
    if name == "refunded" and value is not None:
        return int(bool(value))
    return _common.encode_field(name, value, encode_datetime=_encode_datetime)


def _job_to_row(job: Job) -> dict[str, Any]:
    return {name: _encode_field(name, getattr(job, name)) for name in JOB_FIELDS}


def _row_to_job(row: sqlite3.Row) -> Job:
    return _common.row_to_job(row, decode_datetime=_decode_datetime)


def _encode_updates(fields: Mapping[str, Any]) -> dict[str, Any]:
    return _common.encode_updates(fields, _encode_field)


# -- migrations -------------------------------------------------------------------------------------


def _load_migrations(directory: Traversable) -> list[tuple[int, str, str]]:
    """(version, name, sql) for every ``NNNN_name.sql``, in order, starting at 0001.

    Gaps are allowed (a number may be skipped), duplicates are
    not. ``user_version`` records the highest applied number, so a new migration must be numbered above
    every migration already released.
    """
    return _common.check_unique_from_one(_common.scan_migrations(directory))


def _split_statements(script: str) -> list[str]:
    """Split a SQL script into complete statements (trigger bodies and ';' in strings stay intact)."""
    statements: list[str] = []
    buffer = ""
    for piece in script.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            statement = buffer.strip()
            if statement.strip(";").strip() and not _is_only_comments(statement):
                statements.append(statement)
            buffer = ""
    if buffer.strip(";").strip() and not _is_only_comments(buffer):
        raise ValueError(f"incomplete SQL statement at end of migration: {buffer.strip()[:80]!r}")
    return statements


def _is_only_comments(sql: str) -> bool:
    lines = (line.split("--", 1)[0].strip() for line in sql.splitlines())
    return not "".join(lines).strip(";").strip()


async def apply_migrations(conn: aiosqlite.Connection, directory: Traversable | None = None) -> int:
    """Apply the pending numbered migrations, each in its own transaction; returns the schema version.

    ``PRAGMA user_version`` holds the number of the last applied migration. It is read again under
    the write lock, so two processes opening a fresh file at once apply each migration once.
    """
    migrations = _load_migrations(directory if directory is not None else _common.default_migrations("sqlite"))
    latest = migrations[-1][0] if migrations else 0
    for version, name, sql in migrations:
        await conn.execute("BEGIN IMMEDIATE")
        try:
            current = await _user_version(conn)
            if current > latest:
                raise RuntimeError(f"database schema version {current} is newer than this code ({latest})")
            if current >= version:
                await conn.execute("COMMIT")
                continue
            for statement in _split_statements(sql):
                await conn.execute(statement)
            await conn.execute(f"PRAGMA user_version = {version:d}")
            await conn.execute("COMMIT")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        log.info("applied migration %s", name)
    current = await _user_version(conn)
    if current > latest:
        raise RuntimeError(f"database schema version {current} is newer than this code ({latest})")
    return current


async def _user_version(conn: aiosqlite.Connection) -> int:
    rows = list(await conn.execute_fetchall("PRAGMA user_version"))
    return int(rows[0][0])


# -- the store --------------------------------------------------------------------------------------


def sqlite_path_from_url(url_or_path: str | Path) -> str:
    """``sqlite:///rel/path``, ``sqlite:////abs/path``, ``sqlite:///:memory:`` or a plain path -> a path."""
    if isinstance(url_or_path, Path):
        return str(url_or_path)
    if url_or_path.startswith("sqlite://"):
        rest = url_or_path.removeprefix("sqlite://")
        if not rest.startswith("/"):
            raise ValueError(f"unsupported SQLite URL {url_or_path!r}: use sqlite:///path or sqlite:///:memory:")
        path = rest[1:]
        if not path:
            raise ValueError("SQLite URL has no path")
        return path
    if "://" in url_or_path:
        raise ValueError(f"not a SQLite URL: {url_or_path!r}")
    return url_or_path


class SqliteStore:
    """The default Store. Create with ``await SqliteStore.open(path)`` (or ``open_sqlite_store``)."""

    def __init__(self, conn: aiosqlite.Connection, path: str) -> None:
        self._conn: aiosqlite.Connection | None = conn
        self._path = path
        self._lock = asyncio.Lock()
        self._tx_dirty = False  # a ROLLBACK was interrupted (cancelled twice): redo it first

    @classmethod
    async def open(cls, path: str | Path, *, busy_timeout: float = 5.0, migrations: Traversable | None = None) -> Self:
        """Connect, set the pragmas and apply pending migrations. Creates the parent directory."""
        target = str(path)
        if target != MEMORY:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(target, isolation_level=None, timeout=busy_timeout)
        try:
            conn.row_factory = sqlite3.Row
            await conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000):d}")
            await conn.execute("PRAGMA foreign_keys = ON")
            mode = next(iter(await conn.execute_fetchall("PRAGMA journal_mode = WAL")))[0]
            if target != MEMORY and str(mode).lower() != "wal":
                log.warning("SQLite journal_mode is %s, not WAL (%s)", mode, target)
            await conn.execute("PRAGMA synchronous = NORMAL")
            version = await apply_migrations(conn, migrations)
            await _check_columns(conn)
        except BaseException:
            await conn.close()
            raise
        log.info("SQLite store open: %s (schema version %d)", target, version)
        return cls(conn, target)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def path(self) -> str:
        return self._path

    # -- plumbing ---------------------------------------------------------------------------------

    def _connection(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("the store is closed")
        return self._conn

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: committed on exit, rolled back on any exception."""
        async with self._lock:
            conn = self._connection()
            if self._tx_dirty:
                await self._rollback(conn)
            await conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                self._tx_dirty = True
                await self._rollback(conn)
                raise
            try:
                await conn.execute("COMMIT")
            except BaseException:
                self._tx_dirty = True
                await self._rollback(conn)
                raise

    async def _rollback(self, conn: aiosqlite.Connection) -> None:
        with contextlib.suppress(sqlite3.OperationalError):  # "no transaction is active": nothing to undo
            await conn.execute("ROLLBACK")
        self._tx_dirty = False

    @contextlib.asynccontextmanager
    async def _read(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            conn = self._connection()
            if self._tx_dirty:
                await self._rollback(conn)
            yield conn

    @staticmethod
    async def _fetchall(conn: aiosqlite.Connection, sql: str, params: Any = ()) -> list[sqlite3.Row]:
        return list(await conn.execute_fetchall(sql, params))

    @staticmethod
    async def _fetchone(conn: aiosqlite.Connection, sql: str, params: Any = ()) -> sqlite3.Row | None:
        rows = list(await conn.execute_fetchall(sql, params))
        return rows[0] if rows else None

    # -- jobs -------------------------------------------------------------------------------------

    async def enqueue(
        self, job: Job, *, max_active_per_user: int | None = None, max_queued_total: int | None = None
    ) -> EnqueueResult:
        if job.state is not JobState.QUEUED:
            raise ValueError(f"enqueue needs a QUEUED job, got {job.state}")
        try:
            async with self._write() as conn:
                result = await self._enqueue_in_tx(conn, job, max_active_per_user, max_queued_total)
        except Rollback as rollback:
            result = rollback.result
        return await _common.with_usage_totals(result, self.get_usage)

    async def _enqueue_in_tx(
        self, conn: aiosqlite.Connection, job: Job, max_active: int | None, max_queued: int | None
    ) -> EnqueueResult:
        if max_active is not None:
            row = await self._fetchone(conn, _COUNT_ACTIVE_SQL, (job.user_id, _ACTIVE_JSON))
            active = int(row[0]) if row else 0
            if active >= max_active:
                raise Rollback(EnqueueResult(EnqueueOutcome.TOO_MANY_ACTIVE, active_count=active))
        if max_queued is not None:
            row = await self._fetchone(conn, "SELECT COUNT(*) FROM jobs WHERE state = ?", (str(JobState.QUEUED),))
            queued = int(row[0]) if row else 0
            if queued >= max_queued:
                raise Rollback(EnqueueResult(EnqueueOutcome.QUEUE_FULL, active_count=queued))
        for debit in job.debits:
            applied = await self._fetchall(conn, _DEBIT_SQL, dataclasses.asdict(debit))
            if not applied:
                raise Rollback(EnqueueResult(EnqueueOutcome.QUOTA_EXCEEDED, failed_debit=debit))
        row_values = _job_to_row(job)
        await conn.execute(_INSERT_JOB_SQL, tuple(row_values.values()))
        row = await self._fetchone(
            conn,
            """SELECT COUNT(*) FROM jobs AS q, jobs AS me
               WHERE me.id = ? AND q.state = ?
                 AND (q.created_at < me.created_at OR (q.created_at = me.created_at AND q.rowid <= me.rowid))""",
            (job.id, str(JobState.QUEUED)),
        )
        position = int(row[0]) if row else 0
        return EnqueueResult(EnqueueOutcome.OK, queue_position=position)

    async def get_job(self, job_id: str) -> Job | None:
        async with self._read() as conn:
            row = await self._fetchone(conn, "SELECT * FROM jobs WHERE id = ?", (job_id,))
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
        """See ``Store.transition``: one ``BEGIN IMMEDIATE`` transaction guarded by the row's state.

        The checks and defaults are ``_common.transition_sources`` and ``_common.transition_updates``.
        """
        sources = _common.transition_sources(expected, new, settlement)
        updates = _common.transition_updates(_encode_updates(fields), new, settlement, now=_encode_datetime(utcnow()))
        assignments = ", ".join(f"{name} = ?" for name in updates)
        # Column names come from _encode_updates (validated Job field names); values are bound.
        sql = (
            f"UPDATE jobs SET {assignments} "  # noqa: S608
            "WHERE id = ? AND state IN (SELECT value FROM json_each(?)) RETURNING *"
        )
        source_states = json.dumps(sorted(str(s) for s in sources))
        async with self._write() as conn:
            row = await self._fetchone(conn, sql, (*updates.values(), job_id, source_states))
            if row is None:
                return None
            job = _row_to_job(row)
            if new in REFUNDING_STATES:
                job = await self._refund_in_tx(conn, job)
            elif settlement is not None:
                job = await self._settle_in_tx(conn, job, settlement)
        return job

    async def _refund_in_tx(self, conn: aiosqlite.Connection, job: Job) -> Job:
        row = await self._fetchone(
            conn, "UPDATE jobs SET refunded = 1 WHERE id = ? AND refunded = 0 RETURNING *", (job.id,)
        )
        if row is None:  # already refunded
            return job
        await self._adjust(conn, _common.refund_deltas(job.debits))
        return _row_to_job(row)

    async def _settle_in_tx(self, conn: aiosqlite.Connection, job: Job, settlement: Settlement) -> Job:
        if job.refunded or not job.debits:
            return job
        await self._adjust(conn, _common.settlement_deltas(job.debits, settlement))
        settled = _common.encode_debits(_common.settled_debits(job.debits, settlement))
        row = await self._fetchone(conn, "UPDATE jobs SET debits = ? WHERE id = ? RETURNING *", (settled, job.id))
        return _row_to_job(row) if row is not None else job

    @staticmethod
    async def _adjust(conn: aiosqlite.Connection, deltas: Iterable[_common.Delta]) -> None:
        """Unchecked counter adjustments, in the order of the job's debits."""
        for debit, images, points in deltas:
            key = {"scope": debit.scope, "scope_id": debit.scope_id, "window": debit.window}
            await conn.execute(_ADJUST_SQL, {**key, "images": images, "points": points})

    async def update_job(self, job_id: str, **fields: Any) -> None:
        """Set non-state fields (progress message id, percent, ...)."""
        updates = _encode_updates(fields)
        if not updates:
            return
        assignments = ", ".join(f"{name} = ?" for name in updates)
        sql = f"UPDATE jobs SET {assignments} WHERE id = ?"  # noqa: S608 - validated column names, bound values
        async with self._write() as conn:
            await conn.execute(sql, (*updates.values(), job_id))

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
        sql = "SELECT * FROM jobs WHERE state IN (SELECT value FROM json_each(?))"
        params: list[Any] = [json.dumps(wanted)]
        if guild_id is not None:
            sql += " AND guild_id = ?"
            params.append(guild_id)
        if user_id is not None:
            sql += " AND user_id = ?"
            params.append(user_id)
        direction = "DESC" if newest_first else "ASC"
        sql += f" ORDER BY created_at {direction}, rowid {direction}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        async with self._read() as conn:
            rows = await self._fetchall(conn, sql, params)
        return [_row_to_job(row) for row in rows]

    async def count_active(self, user_id: int) -> int:
        async with self._read() as conn:
            row = await self._fetchone(conn, _COUNT_ACTIVE_SQL, (user_id, _ACTIVE_JSON))
        return int(row[0]) if row else 0

    async def find_recent_by_fingerprint(
        self, fingerprint: str, *, since: datetime, guild_id: int | None, user_id: int | None = None
    ) -> Job | None:
        sql = (
            "SELECT * FROM jobs WHERE fingerprint = ? AND created_at >= ? AND state = ? AND result IS NOT NULL"
            " AND guild_id IS ?"
        )
        params: list[Any] = [fingerprint, _encode_datetime(since), str(JobState.SUCCEEDED), guild_id]
        if user_id is not None:
            sql += " AND user_id = ?"
            params.append(user_id)
        sql += " ORDER BY created_at DESC, rowid DESC LIMIT 1"
        async with self._read() as conn:
            row = await self._fetchone(conn, sql, params)
        return _row_to_job(row) if row is not None else None

    # -- quota counters ---------------------------------------------------------------------------

    async def get_usage(self, scope: str, scope_id: int, window: str) -> tuple[int, int]:
        """(images, points) used in that counter; (0, 0) when none."""
        async with self._read() as conn:
            row = await self._fetchone(
                conn,
                'SELECT images, points FROM usage WHERE scope = ? AND scope_id = ? AND "window" = ?',
                (scope, scope_id, window),
            )
        return (int(row[0]), int(row[1])) if row is not None else (0, 0)

    async def list_usage(self, scope: str, window: str, *, limit: int | None = None) -> list[UsageRow]:
        """Every counter of ``scope`` in ``window``, most points first (then most images, then scope_id)."""
        sql = (
            'SELECT scope, scope_id, "window", images, points FROM usage WHERE scope = ? AND "window" = ? '
            "ORDER BY points DESC, images DESC, scope_id"
        )
        params: list[Any] = [scope, window]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(max(limit, 0))
        async with self._read() as conn:
            rows = await self._fetchall(conn, sql, params)
        return [UsageRow(str(r[0]), int(r[1]), str(r[2]), int(r[3]), int(r[4])) for r in rows]

    async def reset_usage(self, scope: str, scope_id: int, windows: Iterable[str]) -> None:
        """Zero those counters (an admin's reset). Later refunds of older jobs clamp at zero."""
        keys = [(scope, scope_id, w) for w in windows]
        async with self._write() as conn:
            await conn.executemany('DELETE FROM usage WHERE scope = ? AND scope_id = ? AND "window" = ?', keys)

    # -- server administration --------------------------------------------------------------------

    async def get_guild_config(self, guild_id: int) -> dict[str, dict[str, Any]]:
        """Every scope's stored settings object ("server", "channel:<id>", "role:<id>", "member:<id>")."""
        async with self._read() as conn:
            rows = await self._fetchall(conn, "SELECT scope, config FROM guild_config WHERE guild_id = ?", (guild_id,))
        return {str(row[0]): dict(json.loads(row[1])) for row in rows}

    async def set_guild_config(self, guild_id: int, scope: str, config: dict[str, Any] | None) -> None:
        """Replace one scope's settings object (JSON-serialisable); None or {} deletes it."""
        async with self._write() as conn:
            if not config:
                await conn.execute("DELETE FROM guild_config WHERE guild_id = ? AND scope = ?", (guild_id, scope))
                return
            await conn.execute(
                """INSERT INTO guild_config (guild_id, scope, config, updated_at) VALUES (?, ?, ?, ?)
                   ON CONFLICT (guild_id, scope) DO UPDATE
                   SET config = excluded.config, updated_at = excluded.updated_at""",
                (guild_id, scope, json.dumps(config, ensure_ascii=False, sort_keys=True), _encode_datetime(utcnow())),
            )

    async def append_audit(self, entry: AuditEntry) -> None:
        async with self._write() as conn:
            await conn.execute(
                "INSERT INTO admin_audit (guild_id, actor_id, action, detail, created_at) VALUES (?, ?, ?, ?, ?)",
                (entry.guild_id, entry.actor_id, entry.action, entry.detail, _encode_datetime(entry.created_at)),
            )

    async def list_audit(self, guild_id: int, *, limit: int = 20) -> list[AuditEntry]:
        """Newest first."""
        async with self._read() as conn:
            rows = await self._fetchall(
                conn,
                "SELECT * FROM admin_audit WHERE guild_id = ? ORDER BY id DESC LIMIT ?",
                (guild_id, max(limit, 0)),
            )
        return [_common.audit_entry(r, decode_datetime=_decode_datetime) for r in rows]

    async def append_prompt_log(self, entry: PromptLogEntry, *, prune_before: datetime | None = None) -> None:
        """Record a prompt; with ``prune_before``, also delete entries created before it (retention)."""
        async with self._write() as conn:
            await conn.execute(
                """INSERT INTO prompt_log (guild_id, channel_id, user_id, job_id, mode, prompt, negative_prompt,
                                           created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    entry.guild_id,
                    entry.channel_id,
                    entry.user_id,
                    entry.job_id,
                    entry.mode,
                    entry.prompt,
                    entry.negative_prompt,
                    _encode_datetime(entry.created_at),
                ),
            )
            if prune_before is not None:
                await conn.execute("DELETE FROM prompt_log WHERE created_at < ?", (_encode_datetime(prune_before),))

    async def list_prompt_log(
        self, guild_id: int, *, user_id: int | None = None, limit: int = 20
    ) -> list[PromptLogEntry]:
        """Newest first, with each job's state, images and points joined."""
        sql = """SELECT p.*, j.state AS job_state, j.points_cost, j.points_reserved, j.result
                 FROM prompt_log AS p LEFT JOIN jobs AS j ON j.id = p.job_id
                 WHERE p.guild_id = ?"""
        params: list[Any] = [guild_id]
        if user_id is not None:
            sql += " AND p.user_id = ?"
            params.append(user_id)
        sql += " ORDER BY p.id DESC LIMIT ?"
        params.append(max(limit, 0))
        async with self._read() as conn:
            rows = await self._fetchall(conn, sql, params)
        return [_prompt_log_entry(r) for r in rows]

    async def prune_prompt_log(self, before: datetime) -> int:
        """Delete entries created before ``before``; returns how many."""
        async with self._write() as conn:
            cursor = await conn.execute("DELETE FROM prompt_log WHERE created_at < ?", (_encode_datetime(before),))
            return int(cursor.rowcount)

    async def add_strike(self, guild_id: int, user_id: int, at: datetime, *, since: datetime) -> int:
        async with self._write() as conn:
            await conn.execute(
                "DELETE FROM strikes WHERE guild_id = ? AND user_id = ? AND created_at < ?",
                (guild_id, user_id, _encode_datetime(since)),
            )
            await conn.execute(
                "INSERT INTO strikes (guild_id, user_id, created_at) VALUES (?, ?, ?)",
                (guild_id, user_id, _encode_datetime(at)),
            )
            row = await self._fetchone(
                conn, "SELECT COUNT(*) FROM strikes WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
            )
        return int(row[0]) if row else 0

    async def clear_strikes(self, guild_id: int, user_id: int) -> int:
        async with self._write() as conn:
            cursor = await conn.execute("DELETE FROM strikes WHERE guild_id = ? AND user_id = ?", (guild_id, user_id))
            return int(cursor.rowcount)

    async def get_timer(self, guild_id: int, user_id: int, kind: str) -> datetime | None:
        """When the member's ``kind`` timer ("cooldown", "blocked", ...) ends, or None."""
        async with self._read() as conn:
            row = await self._fetchone(
                conn,
                "SELECT until FROM member_timers WHERE guild_id = ? AND user_id = ? AND kind = ?",
                (guild_id, user_id, kind),
            )
        return _decode_datetime(row[0]) if row is not None else None

    async def set_timer(self, guild_id: int, user_id: int, kind: str, until: datetime | None) -> None:
        """Set (or with None clear) a member's timer."""
        async with self._write() as conn:
            if until is None:
                await conn.execute(
                    "DELETE FROM member_timers WHERE guild_id = ? AND user_id = ? AND kind = ?",
                    (guild_id, user_id, kind),
                )
                return
            await conn.execute(
                """INSERT INTO member_timers (guild_id, user_id, kind, until) VALUES (?, ?, ?, ?)
                   ON CONFLICT (guild_id, user_id, kind) DO UPDATE SET until = excluded.until""",
                (guild_id, user_id, kind, _encode_datetime(until)),
            )

    async def claim_timer(
        self, guild_id: int, user_id: int, kind: str, *, now: datetime, until: datetime
    ) -> datetime | None:
        async with self._write() as conn:
            row = await self._fetchone(
                conn,
                """INSERT INTO member_timers (guild_id, user_id, kind, until) VALUES (?, ?, ?, ?)
                   ON CONFLICT (guild_id, user_id, kind) DO UPDATE SET until = excluded.until
                   WHERE member_timers.until <= ?
                   RETURNING until""",
                (guild_id, user_id, kind, _encode_datetime(until), _encode_datetime(now)),
            )
            if row is not None:
                return None
            current = await self._fetchone(
                conn,
                "SELECT until FROM member_timers WHERE guild_id = ? AND user_id = ? AND kind = ?",
                (guild_id, user_id, kind),
            )
        return _decode_datetime(current[0]) if current is not None else None

    # -- meta -------------------------------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        async with self._read() as conn:
            row = await self._fetchone(conn, "SELECT value FROM meta WHERE key = ?", (key,))
        return str(row[0]) if row is not None else None

    async def set_meta(self, key: str, value: str) -> None:
        async with self._write() as conn:
            await conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # -- lifecycle --------------------------------------------------------------------------------

    async def ping(self) -> bool:
        """True when the database answers (health checks)."""
        if self._conn is None:
            return False
        try:
            async with self._read() as conn:
                row = await self._fetchone(conn, "SELECT 1")
        except (sqlite3.Error, ValueError, RuntimeError):
            return False
        return row is not None and row[0] == 1

    async def close(self) -> None:
        """Close the connection (waits for a running transaction); safe to call twice."""
        async with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                await conn.close()
                log.info("SQLite store closed: %s", self._path)


def _prompt_log_entry(row: sqlite3.Row) -> PromptLogEntry:
    return _common.prompt_log_entry(row, result_images=_result_images, decode_datetime=_decode_datetime)


def _result_images(row: _common.Row) -> int | None:
    """Images in the joined job's result (SQLite has the JSON text only)."""
    return len(JobResult.from_json(row["result"]).images) if row["result"] is not None else None


async def _check_columns(conn: aiosqlite.Connection) -> None:
    """Fail fast when a Job field has no column (a field added without a migration)."""
    rows = list(await conn.execute_fetchall("PRAGMA table_info(jobs)"))
    _common.check_job_columns(str(row[1]) for row in rows)


async def open_sqlite_store(url_or_path: str | Path, *, busy_timeout: float = 5.0) -> SqliteStore:
    """Open (creating the file, its directory and the schema as needed) and return a SqliteStore.

    Accepts ``sqlite:///relative/path``, ``sqlite:////absolute/path``, ``sqlite:///:memory:`` or a
    plain path. The caller closes it (``await store.close()`` or ``async with store:``).
    """
    return await SqliteStore.open(sqlite_path_from_url(url_or_path), busy_timeout=busy_timeout)
