"""SQLite-only specifics: file creation, WAL, migrations recorded in schema_migrations (and the move from
the old user_version record), URL parsing.

The behaviour every Store shares is in contract/test_contract.py (run over SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.storage import (
    SqliteStore,
    Store,
    open_store,
)
from bot.storage.sqlite import apply_migrations, open_sqlite_store, sqlite_path_from_url
from tests.storage.contract.helpers import enqueue_ok, make_job

MIGRATIONS = Path(__file__).parents[2] / "bot/storage/migrations/sqlite"
SHIPPED = [(int(p.name[:4]), p.name) for p in sorted(MIGRATIONS.glob("[0-9]*.sql"))]


def raw_query(db_path: Path, sql: str) -> list[tuple[Any, ...]]:
    """Read or write the file behind the store's back with the stdlib driver (commits, then closes)."""
    raw = sqlite3.connect(db_path)
    try:
        with raw:
            return [tuple(row) for row in raw.execute(sql)]
    finally:
        raw.close()


def exists(path: Path) -> bool:
    return path.exists()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "bot.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqliteStore]:
    async with await open_sqlite_store(db_path) as opened:
        yield opened


# -- schema and migrations --------------------------------------------------------------------------


def recorded(db_path: Path) -> list[tuple[int, str]]:
    rows = raw_query(db_path, "SELECT version, name FROM schema_migrations ORDER BY version")
    return [(int(r[0]), str(r[1])) for r in rows]


async def test_open_creates_parent_dir_wal_and_records_the_migrations(db_path: Path, store: SqliteStore) -> None:
    assert exists(db_path)
    assert raw_query(db_path, "PRAGMA journal_mode") == [("wal",)]
    assert recorded(db_path) == SHIPPED
    assert raw_query(db_path, "PRAGMA user_version") == [(SHIPPED[-1][0],)]  # what a rolled-back release reads
    tables = {r[0] for r in raw_query(db_path, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    indexes = {r[0] for r in raw_query(db_path, "SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"jobs", "usage", "meta"} <= tables
    assert {"jobs_state_created", "jobs_user_state"} <= indexes


# -- data at rest: the file holds interaction tokens and prompts ------------------------------------


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The common 022 umask, under which files are created world-readable unless the bot says otherwise."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("usual_umask")
async def test_a_new_database_is_private_to_the_bot_user(db_path: Path) -> None:
    """Issue 17 #10: a directory the store creates is 0700; the file and its -wal and -shm are 0600."""
    async with await open_sqlite_store(db_path) as opened:
        await enqueue_ok(opened, make_job(interaction_token="secret"))
        wal, shm = db_path.with_name("bot.db-wal"), db_path.with_name("bot.db-shm")
        assert wal.exists() and shm.exists()
        assert mode_of(db_path.parent) == 0o700
        assert {p.name: mode_of(p) for p in (db_path, wal, shm)} == {
            "bot.db": 0o600,
            "bot.db-wal": 0o600,
            "bot.db-shm": 0o600,
        }


@pytest.mark.usefixtures("usual_umask")
async def test_an_existing_directory_keeps_its_mode(tmp_path: Path) -> None:
    volume = tmp_path / "volume"
    volume.mkdir(mode=0o750)
    async with await open_sqlite_store(volume / "bot.db"):
        pass
    assert mode_of(volume) == 0o750
    assert mode_of(volume / "bot.db") == 0o600


@pytest.mark.usefixtures("usual_umask")
async def test_existing_world_readable_files_are_tightened_at_open_with_a_log_line(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db_path.parent.mkdir()
    raw = sqlite3.connect(db_path)  # an older release's file (umask 022): 0644, its -wal and -shm too
    try:
        raw.execute("PRAGMA journal_mode = WAL")
        raw.execute("CREATE TABLE old (x INTEGER)")
        raw.commit()
        files = [db_path, db_path.with_name("bot.db-wal"), db_path.with_name("bot.db-shm")]
        for path in files:
            path.chmod(0o644)
        with caplog.at_level(logging.WARNING, logger="bot.storage.sqlite"):
            async with await open_sqlite_store(db_path):
                assert [mode_of(p) for p in files] == [0o600, 0o600, 0o600]
    finally:
        raw.close()
    tightened = [r.getMessage() for r in caplog.records if "tightened" in r.getMessage()]
    assert len(tightened) == 3 and all("0644" in m and "0600" in m for m in tightened)


async def test_migrations_are_idempotent_on_reopen(db_path: Path) -> None:
    async with await open_sqlite_store(db_path) as first:
        await first.set_meta("k", "v")
    for _ in range(2):
        async with await open_sqlite_store(db_path) as again:
            assert await again.get_meta("k") == "v"
    assert recorded(db_path) == SHIPPED


async def test_migration_runner_applies_in_order_and_only_once(tmp_path: Path) -> None:
    import aiosqlite

    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_first.sql").write_text("CREATE TABLE a (x INTEGER); -- trailing comment\n")
    (folder / "0002_second.sql").write_text(
        "ALTER TABLE a ADD COLUMN y TEXT DEFAULT 'semi;colon';\n"
        "CREATE TABLE b (z INTEGER);\n"
        "CREATE TRIGGER a_ins AFTER INSERT ON a BEGIN INSERT INTO b VALUES (new.x); END;\n"
    )
    (folder / "README.txt").write_text("ignored")
    async with aiosqlite.connect(tmp_path / "m.db", isolation_level=None) as conn:
        assert await apply_migrations(conn, folder) == 2
        assert await apply_migrations(conn, folder) == 2  # nothing left to do
        await conn.execute("INSERT INTO a (x) VALUES (7)")
        rows = list(await conn.execute_fetchall("SELECT z FROM b"))
        assert [tuple(r) for r in rows] == [(7,)]
        (folder / "0100_gap.sql").write_text("CREATE TABLE c (x INTEGER);")  # one rule for both dialects: no gaps
        with pytest.raises(RuntimeError, match=r"0100_gap\.sql: expected number 0003"):
            await apply_migrations(conn, folder)
        (folder / "0100_gap.sql").rename(folder / "0002_twin.sql")
        with pytest.raises(RuntimeError, match="expected number 0003"):
            await apply_migrations(conn, folder)
        names = {r[0] for r in await conn.execute_fetchall("SELECT name FROM sqlite_master")}
        assert "c" not in names


async def test_failed_migration_rolls_back_and_keeps_version(tmp_path: Path) -> None:
    import aiosqlite

    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_ok.sql").write_text("CREATE TABLE a (x INTEGER);")
    (folder / "0002_bad.sql").write_text("CREATE TABLE b (x INTEGER); INSERT INTO nowhere VALUES (1);")
    async with aiosqlite.connect(tmp_path / "m.db", isolation_level=None) as conn:
        with pytest.raises(sqlite3.OperationalError):
            await apply_migrations(conn, folder)
        rows = await conn.execute_fetchall("SELECT version, name FROM schema_migrations")
        assert [tuple(r) for r in rows] == [(1, "0001_ok.sql")]
        names = {r[0] for r in await conn.execute_fetchall("SELECT name FROM sqlite_master")}
        assert "b" not in names


async def test_database_newer_than_code_is_refused(db_path: Path) -> None:
    async with await open_sqlite_store(db_path):
        pass
    raw_query(db_path, "INSERT INTO schema_migrations (version, name) VALUES (99, '0099_future.sql')")
    with pytest.raises(RuntimeError, match="newer"):
        await open_sqlite_store(db_path)


# -- databases migrated before schema_migrations: PRAGMA user_version and SQLite's old numbering -----

# The files each released user_version stood for, in the order they ran (today's names; their SQL is the
# released text: only the numbers of 0002 and 0003 changed, and their header comments).
OLD_ORDERS = {
    1: ["0001_init.sql"],
    2: ["0001_init.sql", "0003_server_admin.sql"],  # then numbered 0002
    3: ["0001_init.sql", "0003_server_admin.sql", "0002_job_fingerprint.sql"],  # then numbered 0003
    100: ["0001_init.sql", "0002_job_fingerprint.sql"],  # then numbered 0100
}


def old_database(db_path: Path, user_version: int) -> None:
    """A file as the user_version-era code left it: its migrations run in the old order, one mark."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    raw = sqlite3.connect(db_path)
    try:
        for name in OLD_ORDERS[user_version]:
            raw.executescript((MIGRATIONS / name).read_text(encoding="utf-8"))
        raw.execute(f"PRAGMA user_version = {user_version}")
        raw.execute("INSERT INTO meta (key, value) VALUES ('kept', 'yes')")
        raw.commit()
    finally:
        raw.close()


@pytest.mark.parametrize("user_version", sorted(OLD_ORDERS))
async def test_an_old_database_gets_exactly_its_missing_migrations(db_path: Path, user_version: int) -> None:
    old_database(db_path, user_version)
    async with await open_sqlite_store(db_path) as store:  # a re-applied migration would fail: tables exist
        assert await store.get_meta("kept") == "yes"
        await enqueue_ok(store, make_job(fingerprint="fp"))  # 0002's column
        await store.set_guild_config(1, "server", {"language": "en-US"})  # 0003's table
    assert recorded(db_path) == SHIPPED
    assert raw_query(db_path, "PRAGMA user_version") == [(SHIPPED[-1][0],)]  # what a rolled-back release reads
    async with await open_sqlite_store(db_path) as again:
        assert await again.get_guild_config(1) == {"server": {"language": "en-US"}}
    assert recorded(db_path) == SHIPPED


async def test_an_unknown_old_user_version_is_refused(db_path: Path) -> None:
    old_database(db_path, 3)
    raw_query(db_path, "PRAGMA user_version = 4")
    with pytest.raises(RuntimeError, match="newer"):
        await open_sqlite_store(db_path)
    assert raw_query(db_path, "SELECT name FROM sqlite_master WHERE name = 'schema_migrations'") == []


async def test_open_store_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    async with open_store("sqlite:///nested/dir/bot.db") as relative:
        assert isinstance(relative, SqliteStore)
        await relative.set_meta("k", "v")
    assert exists(tmp_path / "nested" / "dir" / "bot.db")

    absolute = tmp_path / "abs" / "bot.db"
    async with open_store(f"sqlite:///{absolute}") as store:
        assert await store.get_meta("k") is None
    assert exists(absolute)

    async with open_store("sqlite:///:memory:") as memory:
        typed: Store = memory
        await enqueue_ok(memory, make_job())
        assert await typed.count_active(1) == 1
    assert not exists(tmp_path / ":memory:")

    with pytest.raises(ValueError, match="mysql"):
        open_store("mysql://x")


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///data/bot.db", "data/bot.db"),
        ("sqlite:////var/lib/bot/bot.db", "/var/lib/bot/bot.db"),
        ("sqlite:///:memory:", ":memory:"),
        ("plain/file.db", "plain/file.db"),
        (Path("/x/y.db"), "/x/y.db"),
    ],
)
def test_sqlite_path_from_url(url: str | Path, path: str) -> None:
    assert sqlite_path_from_url(url) == path


@pytest.mark.parametrize("url", ["sqlite://relative.db", "sqlite:///", "http://x/y.db"])
def test_sqlite_path_from_bad_url(url: str) -> None:
    with pytest.raises(ValueError, match="SQLite"):
        sqlite_path_from_url(url)
