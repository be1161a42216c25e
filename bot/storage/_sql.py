"""SqlStore: the Store logic SqliteStore and PostgresStore share; each adapter adds its driver and dialect.

Shared here: every query the two dialects spell alike, written with ``$1``-style parameters (the SQLite
adapter rewrites them to its numbered ``?1``), and all the orchestration: the enqueue's caps, debits and
insert; guarded transitions with their exactly-once refund or settlement (by LiblibAI's bill); the cancel
request; the job filters; the server-administration tables.

An adapter supplies (the abstract members below):
- connections: ``_read()`` for reads, ``_write()`` for one statement that writes, ``_transaction()``
  for several statements that commit or roll back together;
- how its driver binds and returns datetimes (and any other field it binds differently);
- its dialect's SQL: the checked debit, the clamped adjustment, the count of a result's images and the
  insertion-order column; and the locks it needs before the caps and the debits are checked.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from types import TracebackType
from typing import Any, ClassVar, Final, Protocol, Self

from bot.models import ACTIVE_STATES, Job, JobState, Preferences, Style, utcnow
from bot.storage import _common
from bot.storage._common import JOB_FIELDS, CounterKey, Rollback, Row, counter_key
from bot.storage.base import (
    AuditEntry,
    EnqueueOutcome,
    EnqueueResult,
    Fence,
    PromptLogEntry,
    Settlement,
    UsageRow,
)

__all__ = ["SqlConnection", "SqlStore"]


class SqlConnection(Protocol):
    """The statements SqlStore runs, with ``$1``-style parameters bound positionally."""

    async def execute(self, sql: str, *params: Any) -> int:
        """Run one statement; returns how many rows it changed."""

    async def fetch(self, sql: str, *params: Any) -> Sequence[Row]: ...

    async def fetchrow(self, sql: str, *params: Any) -> Row | None: ...

    async def fetchval(self, sql: str, *params: Any) -> Any: ...


class Params:
    """The bound values of a query built piece by piece: ``add`` returns the value's placeholder."""

    def __init__(self, *values: Any) -> None:
        self.values = list(values)

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"

    def add_all(self, values: Iterable[Any]) -> str:
        """Placeholders for ``values``, comma-separated (for ``IN (...)``)."""
        return ", ".join(self.add(v) for v in values)


def _placeholders(first: int, count: int) -> str:
    """``$first, ..., $(first + count - 1)``."""
    return ", ".join(f"${i}" for i in range(first, first + count))


def _assignments(names: Iterable[str]) -> str:
    """``a = $1, b = $2`` for validated column names (values are bound, never interpolated)."""
    return ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=1))


_ACTIVE: Final = sorted(str(s) for s in ACTIVE_STATES)
_COUNT_ACTIVE_SQL: Final = (
    f"SELECT COUNT(*) FROM jobs WHERE user_id = $1 AND state IN ({_placeholders(2, len(_ACTIVE))})"  # noqa: S608
)
# Retention touches finished jobs only (a finished_at and no active state), never an active one. Written with
# NOT IN the active states so that the planner reads the jobs_finished / jobs_live_tokens indexes, not the
# state index (which nearly every row matches).
_FINISHED_BEFORE: Final = f"finished_at < $1 AND state NOT IN ({_placeholders(2, len(_ACTIVE))})"
_CLEAR_TOKENS_SQL: Final = (
    f"UPDATE jobs SET interaction_token = NULL WHERE interaction_token IS NOT NULL AND {_FINISHED_BEFORE}"  # noqa: S608
)
_PRUNE_JOBS_SQL: Final = f"DELETE FROM jobs WHERE {_FINISHED_BEFORE}"  # noqa: S608 - placeholders only
_INSERT_JOB_SQL: Final = (
    f"INSERT INTO jobs ({', '.join(JOB_FIELDS)}) "  # noqa: S608 - column names from the Job dataclass
    f"VALUES ({_placeholders(1, len(JOB_FIELDS))})"
)
_TIMER_SQL: Final = "SELECT until FROM member_timers WHERE guild_id = $1 AND user_id = $2 AND kind = $3"
_SET_TIMER_SQL: Final = """
INSERT INTO member_timers (guild_id, user_id, kind, until) VALUES ($1, $2, $3, $4)
ON CONFLICT (guild_id, user_id, kind) DO UPDATE SET until = excluded.until
"""


_STYLE_COLUMNS: Final = (
    "guild_id, name, description, prefix, suffix, negative, mode, aspect, lora, strength, updated_at"
)


class SqlStore(abc.ABC):
    """The shared implementation of every store port but the lease; an async context manager that closes."""

    # -- dialect SQL ------------------------------------------------------------------------------

    _SEQ: ClassVar[str]
    """The insertion-order column of ``jobs``: the tie-break among jobs created at the same instant."""
    _DEBIT_SQL: ClassVar[str]
    """Checked increment of one counter; ``$1``..``$7``: scope, scope_id, window, images, points,
    max_images, max_points (limits may be NULL). Returns a row when it applied, none when over a limit."""
    _ADJUST_SQL: ClassVar[str]
    """Unchecked adjustment of one counter by ``$4`` images and ``$5`` points, clamped at zero
    (``$1``..``$3``: scope, scope_id, window); creates the counter when absent."""
    _RESULT_IMAGES_SQL: ClassVar[str]
    """Expression: how many images the JSON result of the joined job ``j`` holds (NULL: no result)."""

    # -- connections and codec --------------------------------------------------------------------

    @abc.abstractmethod
    def _read(self) -> AbstractAsyncContextManager[SqlConnection]:
        """A connection for reads."""

    @abc.abstractmethod
    def _write(self) -> AbstractAsyncContextManager[SqlConnection]:
        """A connection for one statement that writes (atomic on its own)."""

    @abc.abstractmethod
    def _transaction(self) -> AbstractAsyncContextManager[SqlConnection]:
        """One transaction: committed on exit, rolled back on any exception."""

    @abc.abstractmethod
    def _encode_datetime(self, value: datetime) -> Any:
        """An aware datetime -> the value the driver binds (refuses naive ones)."""

    @abc.abstractmethod
    def _decode_datetime(self, raw: Any) -> datetime:
        """A datetime column's value -> an aware UTC datetime."""

    def _encode_field(self, name: str, value: Any) -> Any:
        """Python value of Job attribute ``name`` -> the value the driver binds for its column."""
        return _common.encode_field(name, value, encode_datetime=self._encode_datetime)

    @abc.abstractmethod
    def _fence_condition(self, params: Params, fence: Fence) -> str:
        """SQL appended to a guarded transition's WHERE (`` AND ...``): ``fence`` is still its lease's
        current token. Empty where one process owns the database (nobody to fence out)."""

    # -- locks (a database shared by concurrent writers needs them; one writer at a time does not) ----

    @abc.abstractmethod
    async def _lock_caps(self, conn: SqlConnection, user_id: int, *, queue: bool, user: bool) -> None:
        """Before the enqueue counts the queue (``queue``) or the user's active jobs (``user``)."""

    @abc.abstractmethod
    async def _lock_counters(self, conn: SqlConnection, keys: Sequence[CounterKey]) -> None:
        """Before the debits, with every counter they touch in key order (``_DEBIT_SQL`` runs next)."""

    # -- lifecycle --------------------------------------------------------------------------------

    @abc.abstractmethod
    async def ping(self) -> bool:
        """True when the database answers (health checks)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Close the connections; safe to call twice."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- codec helpers ----------------------------------------------------------------------------

    def _job(self, row: Row) -> Job:
        return _common.row_to_job(row, decode_datetime=self._decode_datetime)

    def _encode_updates(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        return _common.encode_updates(fields, self._encode_field)

    # -- jobs -------------------------------------------------------------------------------------

    async def enqueue(
        self, job: Job, *, max_active_per_user: int | None = None, max_queued_total: int | None = None
    ) -> EnqueueResult:
        if job.state is not JobState.QUEUED:
            raise ValueError(f"enqueue needs a QUEUED job, got {job.state}")
        values = [self._encode_field(name, getattr(job, name)) for name in JOB_FIELDS]  # refuse bad input first
        try:
            async with self._transaction() as conn:
                result = await self._enqueue_in_tx(conn, job, values, max_active_per_user, max_queued_total)
        except Rollback as rollback:
            result = rollback.result
        return await _common.with_usage_totals(result, self.get_usage)

    async def _enqueue_in_tx(
        self, conn: SqlConnection, job: Job, values: Sequence[Any], max_active: int | None, max_queued: int | None
    ) -> EnqueueResult:
        await self._lock_caps(conn, job.user_id, queue=max_queued is not None, user=max_active is not None)
        if max_active is not None:
            active = int(await conn.fetchval(_COUNT_ACTIVE_SQL, job.user_id, *_ACTIVE))
            if active >= max_active:
                raise Rollback(EnqueueResult(EnqueueOutcome.TOO_MANY_ACTIVE, active_count=active))
        if max_queued is not None:
            queued = int(await conn.fetchval("SELECT COUNT(*) FROM jobs WHERE state = $1", str(JobState.QUEUED)))
            if queued >= max_queued:
                raise Rollback(EnqueueResult(EnqueueOutcome.QUEUE_FULL, active_count=queued))
        await self._lock_counters(conn, sorted({counter_key(d) for d in job.debits}))
        for debit in job.debits:
            applied = await conn.fetchrow(
                self._DEBIT_SQL, *counter_key(debit), debit.images, debit.points, debit.max_images, debit.max_points
            )
            if applied is None:
                raise Rollback(EnqueueResult(EnqueueOutcome.QUOTA_EXCEEDED, failed_debit=debit))
        await conn.execute(_INSERT_JOB_SQL, *values)
        seq = self._SEQ
        position = await conn.fetchval(
            "SELECT COUNT(*) FROM jobs AS q, jobs AS me "  # noqa: S608 - the dialect's column name
            f"WHERE me.id = $1 AND q.state = $2 AND (q.created_at, q.{seq}) <= (me.created_at, me.{seq})",
            job.id,
            str(JobState.QUEUED),
        )
        return EnqueueResult(EnqueueOutcome.OK, queue_position=int(position))

    async def get_job(self, job_id: str) -> Job | None:
        async with self._read() as conn:
            row = await conn.fetchrow("SELECT * FROM jobs WHERE id = $1", job_id)
        return self._job(row) if row is not None else None

    async def transition(
        self,
        job_id: str,
        expected: JobState | Iterable[JobState],
        new: JobState,
        *,
        settlement: Settlement | None = None,
        when_cancel_requested: bool | None = None,
        fence: Fence | None = None,
        **fields: Any,
    ) -> Job | None:
        """See ``JobStore.transition``: one transaction, guarded by the row's state (and by ``fence``).

        The checks and defaults are ``_common.transition_sources`` and ``_common.transition_updates``; what a
        terminal move charges is ``_common.final_charge``.
        """
        sources = _common.transition_sources(expected, new, settlement)
        now = self._encode_datetime(utcnow())
        updates = _common.transition_updates(self._encode_updates(fields), new, settlement, now=now)
        params = Params(*updates.values())
        # Column names come from _encode_updates (validated Job field names); values are bound.
        sql = (
            f"UPDATE jobs SET {_assignments(updates)} WHERE id = {params.add(job_id)} "  # noqa: S608
            f"AND state IN ({params.add_all(sorted(str(s) for s in sources))})"
        )
        if when_cancel_requested is not None:
            sql += f" AND cancel_requested_at IS {'NOT NULL' if when_cancel_requested else 'NULL'}"
        if fence is not None:
            sql += self._fence_condition(params, fence)
        async with self._transaction() as conn:
            row = await conn.fetchrow(sql + " RETURNING *", *params.values)
            if row is None:
                return None
            job = self._job(row)
            if new.terminal:
                charge = _common.final_charge(job, new, settlement)
                job = await (self._refund_in_tx(conn, job) if charge is None else self._settle_in_tx(conn, job, charge))
        return job

    async def request_cancel(self, job_id: str, expected: JobState | Iterable[JobState]) -> Job | None:
        """See ``JobStore.request_cancel``: a guarded update that leaves the state alone."""
        states = sorted(str(s) for s in ({expected} if isinstance(expected, JobState) else set(expected)))
        params = Params(self._encode_datetime(utcnow()), job_id)
        sql = (
            "UPDATE jobs SET cancel_requested_at = COALESCE(cancel_requested_at, $1) "  # noqa: S608 - placeholders
            f"WHERE id = $2 AND state IN ({params.add_all(states)}) RETURNING *"
        )
        async with self._write() as conn:
            row = await conn.fetchrow(sql, *params.values)
        return self._job(row) if row is not None else None

    async def _refund_in_tx(self, conn: SqlConnection, job: Job) -> Job:
        row = await conn.fetchrow("UPDATE jobs SET refunded = TRUE WHERE id = $1 AND NOT refunded RETURNING *", job.id)
        if row is None:  # already refunded
            return job
        await self._adjust(conn, _common.refund_deltas(job.debits))
        return self._job(row)

    async def _settle_in_tx(self, conn: SqlConnection, job: Job, settlement: Settlement) -> Job:
        if job.refunded or not job.debits:
            return job
        deltas = [d for d in _common.settlement_deltas(job.debits, settlement) if d[1] or d[2]]
        if not deltas:  # charged what was reserved
            return job
        await self._adjust(conn, deltas)
        settled = _common.encode_debits(_common.settled_debits(job.debits, settlement))
        row = await conn.fetchrow("UPDATE jobs SET debits = $1 WHERE id = $2 RETURNING *", settled, job.id)
        return self._job(row) if row is not None else job

    async def _adjust(self, conn: SqlConnection, deltas: Iterable[_common.Delta]) -> None:
        """Unchecked counter adjustments, in key order like every counter lock."""
        for debit, images, points in sorted(deltas, key=lambda item: counter_key(item[0])):
            await conn.execute(self._ADJUST_SQL, *counter_key(debit), images, points)

    async def update_job(self, job_id: str, **fields: Any) -> None:
        """Set non-state fields (progress message id, percent, ...)."""
        updates = self._encode_updates(fields)
        if not updates:
            return
        params = Params(*updates.values())
        sql = f"UPDATE jobs SET {_assignments(updates)} WHERE id = {params.add(job_id)}"  # noqa: S608 - validated names
        async with self._write() as conn:
            await conn.execute(sql, *params.values)

    async def list_jobs(
        self,
        states: Iterable[JobState],
        *,
        guild_id: int | None = None,
        user_id: int | None = None,
        limit: int | None = None,
        newest_first: bool = False,
        created_since: datetime | None = None,
    ) -> list[Job]:
        """Jobs in ``states``, oldest first by creation (newest first when asked)."""
        wanted = sorted({str(s) for s in states})
        if not wanted or (limit is not None and limit <= 0):
            return []
        params = Params()
        sql = f"SELECT * FROM jobs WHERE state IN ({params.add_all(wanted)})"  # noqa: S608 - placeholders only
        if guild_id is not None:
            sql += f" AND guild_id = {params.add(guild_id)}"
        if user_id is not None:
            sql += f" AND user_id = {params.add(user_id)}"
        if created_since is not None:
            sql += f" AND created_at >= {params.add(self._encode_datetime(created_since))}"
        direction = "DESC" if newest_first else "ASC"
        sql += f" ORDER BY created_at {direction}, {self._SEQ} {direction}"
        if limit is not None:
            sql += f" LIMIT {params.add(limit)}"
        async with self._read() as conn:
            rows = await conn.fetch(sql, *params.values)
        return [self._job(row) for row in rows]

    async def points_charged_since(self, since: datetime) -> tuple[int, datetime | None]:
        sql = (
            "SELECT COALESCE(SUM(points_cost), 0) AS spent, MIN(created_at) AS first FROM jobs"
            " WHERE created_at >= $1 AND points_cost > 0"
        )
        async with self._read() as conn:
            row = await conn.fetchrow(sql, self._encode_datetime(since))
        if row is None:
            return 0, None
        total, first = row["spent"], row["first"]
        return int(total or 0), (self._decode_datetime(first) if first is not None else None)

    async def count_active(self, user_id: int) -> int:
        async with self._read() as conn:
            return int(await conn.fetchval(_COUNT_ACTIVE_SQL, user_id, *_ACTIVE))

    async def find_recent_by_fingerprint(
        self, fingerprint: str, *, since: datetime, guild_id: int | None, user_id: int | None = None
    ) -> Job | None:
        params = Params(fingerprint, self._encode_datetime(since), str(JobState.SUCCEEDED))
        sql = "SELECT * FROM jobs WHERE fingerprint = $1 AND created_at >= $2 AND state = $3 AND result IS NOT NULL"
        sql += " AND guild_id IS NULL" if guild_id is None else f" AND guild_id = {params.add(guild_id)}"
        if user_id is not None:
            sql += f" AND user_id = {params.add(user_id)}"
        sql += f" ORDER BY created_at DESC, {self._SEQ} DESC LIMIT 1"
        async with self._read() as conn:
            row = await conn.fetchrow(sql, *params.values)
        return self._job(row) if row is not None else None

    async def clear_interaction_tokens(self, finished_before: datetime) -> int:
        """Forget the interaction token of every job that finished before ``finished_before``; returns how many."""
        async with self._write() as conn:
            return await conn.execute(_CLEAR_TOKENS_SQL, self._encode_datetime(finished_before), *_ACTIVE)

    async def prune_jobs(self, finished_before: datetime) -> int:
        """Delete the jobs that finished before ``finished_before`` (never an active one); returns how many."""
        async with self._write() as conn:
            return await conn.execute(_PRUNE_JOBS_SQL, self._encode_datetime(finished_before), *_ACTIVE)

    # -- quota counters ---------------------------------------------------------------------------

    async def get_usage(self, scope: str, scope_id: int, window: str) -> tuple[int, int]:
        """(images, points) used in that counter; (0, 0) when none."""
        async with self._read() as conn:
            row = await conn.fetchrow(
                'SELECT images, points FROM usage WHERE scope = $1 AND scope_id = $2 AND "window" = $3',
                scope,
                scope_id,
                window,
            )
        return (int(row["images"]), int(row["points"])) if row is not None else (0, 0)

    async def list_usage(self, scope: str, window: str, *, limit: int | None = None) -> list[UsageRow]:
        """Every counter of ``scope`` in ``window``, most points first (then most images, then scope_id)."""
        params = Params(scope, window)
        sql = (
            'SELECT scope, scope_id, "window", images, points FROM usage WHERE scope = $1 AND "window" = $2 '
            "ORDER BY points DESC, images DESC, scope_id"
        )
        if limit is not None:
            sql += f" LIMIT {params.add(max(limit, 0))}"
        async with self._read() as conn:
            rows = await conn.fetch(sql, *params.values)
        return [
            UsageRow(str(r["scope"]), int(r["scope_id"]), str(r["window"]), int(r["images"]), int(r["points"]))
            for r in rows
        ]

    async def reset_usage(self, scope: str, scope_id: int, windows: Iterable[str]) -> None:
        """Zero those counters (an admin's reset). Later refunds of older jobs clamp at zero."""
        keys = list(windows)
        if not keys:
            return
        async with self._write() as conn:
            await conn.execute(
                f'DELETE FROM usage WHERE scope = $1 AND scope_id = $2 AND "window" IN ({_placeholders(3, len(keys))})',  # noqa: S608
                scope,
                scope_id,
                *keys,
            )

    # -- server administration --------------------------------------------------------------------

    async def get_guild_config(self, guild_id: int) -> dict[str, dict[str, Any]]:
        """Every scope's stored settings object ("server", "channel:<id>", "role:<id>", "member:<id>")."""
        async with self._read() as conn:
            rows = await conn.fetch("SELECT scope, config FROM guild_config WHERE guild_id = $1", guild_id)
        return {str(r["scope"]): dict(json.loads(r["config"])) for r in rows}

    async def set_guild_config(self, guild_id: int, scope: str, config: dict[str, Any] | None) -> None:
        """Replace one scope's settings object (JSON-serialisable); None or {} deletes it."""
        async with self._write() as conn:
            if not config:
                await conn.execute("DELETE FROM guild_config WHERE guild_id = $1 AND scope = $2", guild_id, scope)
                return
            await conn.execute(
                """INSERT INTO guild_config (guild_id, scope, config, updated_at) VALUES ($1, $2, $3, $4)
                   ON CONFLICT (guild_id, scope) DO UPDATE
                   SET config = excluded.config, updated_at = excluded.updated_at""",
                guild_id,
                scope,
                json.dumps(config, ensure_ascii=False, sort_keys=True),
                self._encode_datetime(utcnow()),
            )

    async def append_audit(self, entry: AuditEntry) -> None:
        async with self._write() as conn:
            await conn.execute(
                "INSERT INTO admin_audit (guild_id, actor_id, action, detail, created_at) VALUES ($1, $2, $3, $4, $5)",
                entry.guild_id,
                entry.actor_id,
                entry.action,
                entry.detail,
                self._encode_datetime(entry.created_at),
            )

    async def list_audit(self, guild_id: int, *, limit: int = 20) -> list[AuditEntry]:
        """Newest first."""
        async with self._read() as conn:
            rows = await conn.fetch(
                "SELECT * FROM admin_audit WHERE guild_id = $1 ORDER BY id DESC LIMIT $2", guild_id, max(limit, 0)
            )
        return [_common.audit_entry(r, decode_datetime=self._decode_datetime) for r in rows]

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
                self._encode_datetime(entry.created_at),
            )
            if prune_before is not None:
                await conn.execute("DELETE FROM prompt_log WHERE created_at < $1", self._encode_datetime(prune_before))

    async def list_prompt_log(
        self, guild_id: int, *, user_id: int | None = None, limit: int = 20
    ) -> list[PromptLogEntry]:
        """Newest first, with each job's state, images and points joined."""
        params = Params(guild_id)
        sql = (
            "SELECT p.*, j.state AS job_state, j.points_cost, j.points_reserved, j.refunded, "  # noqa: S608 - dialect
            f"{self._RESULT_IMAGES_SQL} AS result_images "
            "FROM prompt_log AS p LEFT JOIN jobs AS j ON j.id = p.job_id WHERE p.guild_id = $1"
        )
        if user_id is not None:
            sql += f" AND p.user_id = {params.add(user_id)}"
        sql += f" ORDER BY p.id DESC LIMIT {params.add(max(limit, 0))}"
        async with self._read() as conn:
            rows = await conn.fetch(sql, *params.values)
        return [_common.prompt_log_entry(r, decode_datetime=self._decode_datetime) for r in rows]

    async def prune_prompt_log(self, before: datetime) -> int:
        """Delete entries created before ``before``; returns how many."""
        async with self._write() as conn:
            return await conn.execute("DELETE FROM prompt_log WHERE created_at < $1", self._encode_datetime(before))

    async def add_strike(self, guild_id: int, user_id: int, at: datetime, *, since: datetime) -> int:
        async with self._transaction() as conn:
            await conn.execute(
                "DELETE FROM strikes WHERE guild_id = $1 AND user_id = $2 AND created_at < $3",
                guild_id,
                user_id,
                self._encode_datetime(since),
            )
            await conn.execute(
                "INSERT INTO strikes (guild_id, user_id, created_at) VALUES ($1, $2, $3)",
                guild_id,
                user_id,
                self._encode_datetime(at),
            )
            count = await conn.fetchval(
                "SELECT COUNT(*) FROM strikes WHERE guild_id = $1 AND user_id = $2", guild_id, user_id
            )
        return int(count or 0)

    async def clear_strikes(self, guild_id: int, user_id: int) -> int:
        async with self._write() as conn:
            return await conn.execute("DELETE FROM strikes WHERE guild_id = $1 AND user_id = $2", guild_id, user_id)

    async def get_timer(self, guild_id: int, user_id: int, kind: str) -> datetime | None:
        """When the member's ``kind`` timer ("cooldown", "blocked", ...) ends, or None."""
        async with self._read() as conn:
            until = await conn.fetchval(_TIMER_SQL, guild_id, user_id, kind)
        return self._decode_datetime(until) if until is not None else None

    async def set_timer(self, guild_id: int, user_id: int, kind: str, until: datetime | None) -> None:
        """Set (or with None clear) a member's timer."""
        async with self._write() as conn:
            if until is None:
                await conn.execute(
                    "DELETE FROM member_timers WHERE guild_id = $1 AND user_id = $2 AND kind = $3",
                    guild_id,
                    user_id,
                    kind,
                )
                return
            await conn.execute(_SET_TIMER_SQL, guild_id, user_id, kind, self._encode_datetime(until))

    async def claim_timer(
        self, guild_id: int, user_id: int, kind: str, *, now: datetime, until: datetime
    ) -> datetime | None:
        async with self._transaction() as conn:
            started = await conn.fetchrow(
                _SET_TIMER_SQL + " WHERE member_timers.until <= $5 RETURNING until",
                guild_id,
                user_id,
                kind,
                self._encode_datetime(until),
                self._encode_datetime(now),
            )
            if started is not None:
                return None
            current = await conn.fetchval(_TIMER_SQL, guild_id, user_id, kind)
        return self._decode_datetime(current) if current is not None else None

    # -- styles and personal defaults -------------------------------------------------------------

    async def list_styles(self, guild_id: int) -> list[Style]:
        async with self._read() as conn:
            rows = await conn.fetch("SELECT * FROM styles WHERE guild_id = $1 ORDER BY name", guild_id)
        return [_common.style(r) for r in rows]

    async def insert_style(self, style: Style) -> bool:
        async with self._write() as conn:
            added = await conn.execute(
                f"INSERT INTO styles ({_STYLE_COLUMNS}) VALUES ({_placeholders(1, 11)}) "  # noqa: S608 - constants
                "ON CONFLICT (guild_id, name) DO NOTHING",
                *_common.style_values(style),
                self._encode_datetime(utcnow()),
            )
        return added == 1

    async def update_style(self, style: Style) -> bool:
        async with self._write() as conn:
            changed = await conn.execute(
                "UPDATE styles SET description = $3, prefix = $4, suffix = $5, negative = $6, mode = $7, "
                "aspect = $8, lora = $9, strength = $10, updated_at = $11 WHERE guild_id = $1 AND name = $2",
                *_common.style_values(style),
                self._encode_datetime(utcnow()),
            )
        return changed == 1

    async def delete_style(self, guild_id: int, name: str) -> bool:
        async with self._write() as conn:
            return await conn.execute("DELETE FROM styles WHERE guild_id = $1 AND name = $2", guild_id, name) == 1

    async def get_preferences(self, user_id: int) -> Preferences | None:
        async with self._read() as conn:
            row = await conn.fetchrow("SELECT * FROM member_preferences WHERE user_id = $1", user_id)
        return _common.preferences(row) if row is not None else None

    async def set_preferences(self, user_id: int, preferences: Preferences | None) -> None:
        async with self._write() as conn:
            if preferences is None or not preferences.values():
                await conn.execute("DELETE FROM member_preferences WHERE user_id = $1", user_id)
                return
            await conn.execute(
                """INSERT INTO member_preferences (user_id, mode, aspect, image_count, style, language, updated_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)
                   ON CONFLICT (user_id) DO UPDATE SET mode = excluded.mode, aspect = excluded.aspect,
                       image_count = excluded.image_count, style = excluded.style, language = excluded.language,
                       updated_at = excluded.updated_at""",
                user_id,
                preferences.mode,
                preferences.aspect,
                preferences.count,
                preferences.style,
                preferences.language,
                self._encode_datetime(utcnow()),
            )

    # -- meta -------------------------------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        async with self._read() as conn:
            value = await conn.fetchval("SELECT value FROM meta WHERE key = $1", key)
        return str(value) if value is not None else None

    async def set_meta(self, key: str, value: str) -> None:
        async with self._write() as conn:
            await conn.execute(
                "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                key,
                value,
            )
