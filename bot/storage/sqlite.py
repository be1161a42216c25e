"""SqliteStore: the store ports on one aiosqlite connection (WAL, migrations on open, guarded writes).

The queries and their orchestration are SqlStore's (``_sql.py``); this module adds the driver, the
numbered ``?1`` parameters, the transactions and SQLite's spelling of a few statements.

Every write is one explicit transaction (``BEGIN IMMEDIATE`` … ``COMMIT``) taken under an
``asyncio.Lock``, so the quota checks, the debits and the job insert of an enqueue commit or roll
back together, and no coroutine ever reads another's uncommitted rows. ``BEGIN IMMEDIATE`` takes
SQLite's write lock up front, so a second process on the same file waits (``busy_timeout``) instead
of failing half-way; with one writer at a time the enqueue needs no further locks.

One bot process uses the database, so it always holds the dispatcher lease (``SingleProcessLease``).

The file holds interaction tokens and prompts, so it is private to the bot's user: a directory the store
creates is 0700, the database file is created 0600 (SQLite gives its -wal and -shm files the database
file's mode), and a database, -wal or -shm file found readable by others is tightened to 0600 at open.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import re
import sqlite3
import stat
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Final, Self

import aiosqlite

from bot.storage import _common
from bot.storage._common import CounterKey
from bot.storage._migrations import Migration, load_migrations, migrate
from bot.storage._sql import Params, SqlConnection, SqlStore
from bot.storage.base import Fence

__all__ = ["SingleProcessLease", "SqliteStore", "apply_migrations", "open_sqlite_store", "sqlite_path_from_url"]

log = logging.getLogger(__name__)

MEMORY: Final = ":memory:"
_PRIVATE_DIR: Final = 0o700
_PRIVATE_FILE: Final = 0o600
_COMPANIONS: Final = ("", "-wal", "-shm", "-journal")  # the database file and SQLite's files beside it
_PARAMETER: Final = re.compile(r"\$(\d+)")

# Applied only while within the limits: a fresh counter by the insert, an existing one by the update.
_DEBIT_SQL: Final = """
INSERT INTO usage (scope, scope_id, "window", images, points)
SELECT $1, $2, $3, $4, $5
WHERE ($6 IS NULL OR $4 <= $6) AND ($7 IS NULL OR $5 <= $7)
ON CONFLICT (scope, scope_id, "window") DO UPDATE
SET images = usage.images + excluded.images, points = usage.points + excluded.points
WHERE ($6 IS NULL OR usage.images + excluded.images <= $6)
  AND ($7 IS NULL OR usage.points + excluded.points <= $7)
RETURNING images
"""
_ADJUST_SQL: Final = """
INSERT INTO usage (scope, scope_id, "window", images, points)
VALUES ($1, $2, $3, MAX($4, 0), MAX($5, 0))
ON CONFLICT (scope, scope_id, "window") DO UPDATE
SET images = MAX(usage.images + $4, 0), points = MAX(usage.points + $5, 0)
"""

# -- encoding: Job datetimes are ISO 8601 text in UTC ----------------------------------------------


def _encode_datetime(value: datetime) -> str:
    return _common.check_aware(value).astimezone(UTC).isoformat(timespec="microseconds")


def _decode_datetime(raw: str) -> datetime:
    value = datetime.fromisoformat(raw)
    if value.tzinfo is None:  # never written by this store; be lenient with hand-edited rows
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@functools.lru_cache(maxsize=512)
def _numbered(sql: str) -> str:
    """The shared SQL's ``$1`` parameters -> SQLite's numbered ``?1``."""
    return _PARAMETER.sub(r"?\1", sql)


class _Connection:
    """SqlConnection on the aiosqlite connection (whoever holds it holds the store's lock)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, *params: Any) -> int:
        async with self._conn.execute(_numbered(sql), params) as cursor:
            return int(cursor.rowcount)

    async def fetch(self, sql: str, *params: Any) -> list[sqlite3.Row]:
        return list(await self._conn.execute_fetchall(_numbered(sql), params))

    async def fetchrow(self, sql: str, *params: Any) -> sqlite3.Row | None:
        rows = await self.fetch(sql, *params)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, *params: Any) -> Any:
        row = await self.fetchrow(sql, *params)
        return row[0] if row is not None else None


# -- migrations -------------------------------------------------------------------------------------

# Before schema_migrations, SQLite kept the number of its last migration in PRAGMA user_version, with
# numbers of its own: 0002_server_admin and 0003_job_fingerprint (briefly 0100_job_fingerprint). What
# each value recorded, as today's files; a database is moved over once, on its first open.
_USER_VERSIONS: Final = {
    1: ("0001_init.sql",),
    2: ("0001_init.sql", "0003_server_admin.sql"),
    3: ("0001_init.sql", "0002_job_fingerprint.sql", "0003_server_admin.sql"),
    100: ("0001_init.sql", "0002_job_fingerprint.sql"),
}
_CREATE_RECORDS_SQL: Final = """
CREATE TABLE schema_migrations (
    version     INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    applied_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
)
"""


class _MigrationSession:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def recorded(self) -> list[tuple[int, str]]:
        exists = await self._conn.execute_fetchall(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        )
        if not list(exists):
            await self._conn.execute(_CREATE_RECORDS_SQL)
            await self._import_user_version()
        rows = await self._conn.execute_fetchall("SELECT version, name FROM schema_migrations")
        return [(int(r[0]), str(r[1])) for r in rows]

    async def _import_user_version(self) -> None:
        version = int(next(iter(await self._conn.execute_fetchall("PRAGMA user_version")))[0])
        if not version:
            return
        files = _USER_VERSIONS.get(version)
        if files is None:
            raise RuntimeError(f"database schema version {version} is newer than this code (or unknown to it)")
        await self._conn.executemany(
            "INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [(int(f[:4]), f) for f in files]
        )
        log.info("migration records moved from user_version %d to schema_migrations", version)

    async def run(self, sql: str) -> None:
        for statement in _split_statements(sql):
            await self._conn.execute(statement)

    async def record(self, migration: Migration) -> None:
        await self._conn.execute(
            "INSERT INTO schema_migrations (version, name) VALUES (?, ?)", (migration.version, migration.file)
        )
        # schema_migrations is the record; user_version follows it so that a rolled-back release (which read
        # user_version) neither re-runs nor skips a migration.
        rows = await self._conn.execute_fetchall("SELECT MAX(version) FROM schema_migrations")
        await self._conn.execute(f"PRAGMA user_version = {int(next(iter(rows))[0])}")


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


async def apply_migrations(
    conn: aiosqlite.Connection, directory: Traversable | None = None, *, apply: bool = True
) -> int:
    """Apply the pending migrations (``_migrations.migrate``), each in a ``BEGIN IMMEDIATE`` transaction:
    the write lock makes two processes opening a fresh file at once apply each migration once."""

    @contextlib.asynccontextmanager
    async def begin() -> AsyncIterator[_MigrationSession]:
        await conn.execute("BEGIN IMMEDIATE")
        try:
            yield _MigrationSession(conn)
            await conn.execute("COMMIT")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise

    return await migrate(begin, load_migrations("sqlite", directory), apply=apply)


async def _check_columns(conn: aiosqlite.Connection) -> None:
    """Fail fast when a Job field has no column (a field added without a migration)."""
    rows = list(await conn.execute_fetchall("PRAGMA table_info(jobs)"))
    _common.check_job_columns(str(row[1]) for row in rows)


# -- the file on disk -------------------------------------------------------------------------------


def _create_private(path: Path) -> None:
    """Create the database's directory (0700) and file (0600) when absent; tighten existing files to 0600.

    An existing directory keeps its mode (it may be a mounted volume the owner chose); a file the bot cannot
    tighten (another owner) is left with a warning rather than refusing to start."""
    if not path.parent.is_dir():
        path.parent.mkdir(mode=_PRIVATE_DIR, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):  # create it 0600 before SQLite creates it with the umask's mode
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, _PRIVATE_FILE))
    for suffix in _COMPANIONS:
        companion = path.with_name(path.name + suffix)
        try:
            mode = stat.S_IMODE(companion.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            try:
                companion.chmod(mode & 0o700)
            except OSError as exc:
                log.warning(
                    "SQLite file %s is readable by others (mode %04o) and could not be tightened: %s",
                    companion,
                    mode,
                    exc,
                )
            else:
                log.warning(
                    "SQLite file %s was readable by others: mode %04o tightened to %04o", companion, mode, mode & 0o700
                )


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


class SingleProcessLease:
    """The lease of a database one process uses: that process always holds it (one epoch, never fenced)."""

    def __init__(self, name: str = "dispatcher") -> None:
        self._name = name

    async def acquire_or_renew(self, holder_id: str) -> Fence:
        return Fence(self._name, holder_id, 1)

    async def release(self, holder_id: str) -> None:
        return None


class SqliteStore(SqlStore):
    """The default Store. Create with ``await SqliteStore.open(path)`` (or ``open_sqlite_store``)."""

    _SEQ = "rowid"
    _DEBIT_SQL = _DEBIT_SQL
    _ADJUST_SQL = _ADJUST_SQL
    _RESULT_IMAGES_SQL = "json_array_length(j.result, '$.images')"

    def __init__(self, conn: aiosqlite.Connection, path: str) -> None:
        self._conn: aiosqlite.Connection | None = conn
        self._path = path
        self._lock = asyncio.Lock()
        self._tx_dirty = False  # a ROLLBACK was interrupted (cancelled twice): redo it first

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        busy_timeout: float = 5.0,
        migrations: Traversable | None = None,
        migrate: bool = True,
    ) -> Self:
        """Connect, set the pragmas and apply pending migrations (``migrate=False``: refuse a database that has
        some, with PendingMigrationsError). Creates the parent directory (0700) and the file (0600), and tightens
        an existing file readable by others (``_create_private``)."""
        target = str(path)
        if target != MEMORY:
            _create_private(Path(target))
        conn = await aiosqlite.connect(target, isolation_level=None, timeout=busy_timeout)
        try:
            conn.row_factory = sqlite3.Row
            await conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000):d}")
            await conn.execute("PRAGMA foreign_keys = ON")
            mode = next(iter(await conn.execute_fetchall("PRAGMA journal_mode = WAL")))[0]
            if target != MEMORY and str(mode).lower() != "wal":
                log.warning("SQLite journal_mode is %s, not WAL (%s)", mode, target)
            await conn.execute("PRAGMA synchronous = NORMAL")
            version = await apply_migrations(conn, migrations, apply=migrate)
            await _check_columns(conn)
        except BaseException:
            await conn.close()
            raise
        log.info("SQLite store open: %s (schema version %d)", target, version)
        return cls(conn, target)

    @property
    def path(self) -> str:
        return self._path

    # -- SqlStore hooks ---------------------------------------------------------------------------

    def _connection(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("the store is closed")
        return self._conn

    @contextlib.asynccontextmanager
    async def _locked(self) -> AsyncIterator[aiosqlite.Connection]:
        """The connection under the store's lock, an interrupted transaction rolled back first."""
        async with self._lock:
            conn = self._connection()
            if self._tx_dirty:
                await self._rollback(conn)
            yield conn

    @contextlib.asynccontextmanager
    async def _read(self) -> AsyncIterator[SqlConnection]:
        async with self._locked() as conn:
            yield _Connection(conn)

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[SqlConnection]:
        """One ``BEGIN IMMEDIATE`` transaction: committed on exit, rolled back on any exception."""
        async with self._locked() as conn:
            await conn.execute("BEGIN IMMEDIATE")
            try:
                yield _Connection(conn)
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

    _write = _transaction  # a single write takes the write lock up front too

    async def _rollback(self, conn: aiosqlite.Connection) -> None:
        with contextlib.suppress(sqlite3.OperationalError):  # "no transaction is active": nothing to undo
            await conn.execute("ROLLBACK")
        self._tx_dirty = False

    def _encode_datetime(self, value: datetime) -> str:
        return _encode_datetime(value)

    def _decode_datetime(self, raw: Any) -> datetime:
        return _decode_datetime(raw)

    def _fence_condition(self, params: Params, fence: Fence) -> str:
        return ""  # one process owns the file and always holds its lease: nobody to fence out

    async def _lock_caps(self, conn: SqlConnection, user_id: int, *, queue: bool, user: bool) -> None:
        return None  # BEGIN IMMEDIATE: this transaction is the only writer

    async def _lock_counters(self, conn: SqlConnection, keys: Sequence[CounterKey]) -> None:
        return None  # BEGIN IMMEDIATE: this transaction is the only writer

    # -- the lease --------------------------------------------------------------------------------

    @property
    def multi_process(self) -> bool:
        return False

    def lease(self, name: str, *, ttl_seconds: float) -> SingleProcessLease:
        return SingleProcessLease(name)

    # -- lifecycle --------------------------------------------------------------------------------

    async def ping(self) -> bool:
        """True when the database answers (health checks)."""
        if self._conn is None:
            return False
        try:
            async with self._read() as conn:
                value = await conn.fetchval("SELECT 1")
        except (sqlite3.Error, ValueError, RuntimeError):
            return False
        return bool(value == 1)

    async def close(self) -> None:
        """Close the connection (waits for a running transaction); safe to call twice."""
        async with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                await conn.close()
                log.info("SQLite store closed: %s", self._path)


async def open_sqlite_store(url_or_path: str | Path, *, busy_timeout: float = 5.0, migrate: bool = True) -> SqliteStore:
    """Open (creating the file, its directory and the schema as needed) and return a SqliteStore.

    Accepts ``sqlite:///relative/path``, ``sqlite:////absolute/path``, ``sqlite:///:memory:`` or a
    plain path. The caller closes it (``await store.close()`` or ``async with store:``).
    """
    return await SqliteStore.open(sqlite_path_from_url(url_or_path), busy_timeout=busy_timeout, migrate=migrate)
