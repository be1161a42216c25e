"""PostgreSQL-only specifics: migrations tracked in schema_migrations, schema selection, URLs, lock order.

The behaviour every Store shares is in contract/test_contract.py (run over SQLite and PostgreSQL).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from bot.models import JobState, UsageDebit
from bot.storage import EnqueueOutcome, PostgresStore, open_store
from bot.storage.postgres import apply_migrations, postgres_dsn, redacted
from tests.pg import raw_pg, with_search_path
from tests.storage.contract.helpers import DAY, enqueue_ok, guild_debit, make_job, user_debit

MIGRATIONS = sorted((Path(__file__).parents[2] / "bot/storage/migrations/postgres").glob("[0-9]*.sql"))


async def test_open_creates_the_schema_and_records_the_migration(pg_schema_url: str) -> None:
    async with await PostgresStore.open(pg_schema_url) as store:
        assert store.schema.startswith("libbot_test_")
        tables = await raw_pg(
            pg_schema_url, "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
        assert {"jobs", "usage", "meta", "leases", "schema_migrations"} <= {t[0] for t in tables}
    async with await PostgresStore.open(pg_schema_url):  # reopening applies nothing again
        pass
    applied = await raw_pg(pg_schema_url, "SELECT version, name FROM schema_migrations ORDER BY version")
    assert applied == [(int(p.name[:4]), p.name) for p in MIGRATIONS]


async def test_processes_opening_together_migrate_once(pg_schema_url: str) -> None:
    stores = await asyncio.gather(*(PostgresStore.open(pg_schema_url) for _ in range(4)))
    try:
        assert await raw_pg(pg_schema_url, "SELECT count(*) FROM schema_migrations") == [(len(MIGRATIONS),)]
        assert all([await s.ping() for s in stores])
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_migration_runner_applies_in_order_once_and_rolls_back_a_failure(
    pg_schema_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_first.sql").write_text("CREATE TABLE a (x INTEGER); -- trailing comment\n")
    (folder / "0002_second.sql").write_text(
        "ALTER TABLE a ADD COLUMN y TEXT DEFAULT 'semi;colon';\n"
        "CREATE TABLE b (z INTEGER);\n"
        "CREATE FUNCTION copy_a() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN INSERT INTO b VALUES (new.x); RETURN new; END; $$;\n"
        "CREATE TRIGGER a_ins AFTER INSERT ON a FOR EACH ROW EXECUTE FUNCTION copy_a();\n"
    )
    (folder / "README.txt").write_text("ignored")
    conn = await asyncpg.connect(postgres_dsn(pg_schema_url))
    try:
        assert await apply_migrations(conn, folder) == 2
        assert await apply_migrations(conn, folder) == 2  # nothing left to do
        await conn.execute("INSERT INTO a (x) VALUES (7)")
        assert await conn.fetchval("SELECT z FROM b") == 7

        (folder / "0003_bad.sql").write_text("CREATE TABLE c (x INTEGER); INSERT INTO nowhere VALUES (1);")
        with pytest.raises(asyncpg.UndefinedTableError):
            await apply_migrations(conn, folder)
        assert await conn.fetchval("SELECT max(version) FROM schema_migrations") == 2
        assert await conn.fetchval("SELECT to_regclass('c')") is None

        (folder / "0003_bad.sql").unlink()
        (folder / "0004_gap.sql").write_text("SELECT 1;")
        with pytest.raises(RuntimeError, match="0003"):
            await apply_migrations(conn, folder)
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("tamper", "refusal"),
    [
        ("INSERT INTO schema_migrations (version, name) VALUES (99, '0099_future.sql')", "newer"),
        ("UPDATE schema_migrations SET version = version + 10 WHERE version = 3", "recorded as 0013 but numbered 0003"),
        ("ALTER TABLE jobs DROP COLUMN percent", "percent"),  # a Job field without a column
    ],
)
async def test_a_database_that_does_not_match_the_code_is_refused(
    pg_schema_url: str, tamper: str, refusal: str
) -> None:
    async with await PostgresStore.open(pg_schema_url):
        pass
    await raw_pg(pg_schema_url, tamper)
    with pytest.raises(RuntimeError, match=refusal):
        await PostgresStore.open(pg_schema_url)


async def test_a_database_migrated_by_the_old_runner_gets_only_what_it_lacks(pg_schema_url: str) -> None:
    """The runner before one-rule-for-both-dialects: its own schema_migrations rows, same numbers and names."""
    conn = await asyncpg.connect(postgres_dsn(pg_schema_url))
    try:
        await conn.execute(
            """CREATE TABLE schema_migrations (
                   version     INTEGER PRIMARY KEY,
                   name        TEXT NOT NULL,
                   applied_at  TIMESTAMPTZ NOT NULL DEFAULT now())"""
        )
        for path in MIGRATIONS[:2]:
            await conn.execute(path.read_text(encoding="utf-8"))
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", int(path.name[:4]), path.name
            )
        await conn.execute("INSERT INTO meta (key, value) VALUES ('kept', 'yes')")
    finally:
        await conn.close()
    async with await PostgresStore.open(pg_schema_url) as store:  # a re-applied migration would fail
        assert await store.get_meta("kept") == "yes"
        await store.set_guild_config(1, "server", {"language": "en-US"})  # 0003's table
    applied = await raw_pg(pg_schema_url, "SELECT version, name FROM schema_migrations ORDER BY version")
    assert applied == [(int(p.name[:4]), p.name) for p in MIGRATIONS]


async def test_a_missing_schema_is_named(pg_url: str) -> None:
    with pytest.raises(RuntimeError, match="create it first"):
        await PostgresStore.open(with_search_path(pg_url, "libbot_test_does_not_exist"))


async def test_open_store_picks_postgres_for_both_schemes(pg_store_url: str) -> None:
    for url in (pg_store_url, pg_store_url.replace("postgresql://", "postgres://", 1)):
        async with open_store(url) as store:
            assert isinstance(store, PostgresStore)
            await store.set_meta("scheme", url.split(":", 1)[0])
    async with open_store(pg_store_url) as store:
        assert await store.get_meta("scheme") == "postgres"


async def test_counters_locked_in_one_order_never_deadlock(pg_store_url: str) -> None:
    """Enqueues and refunds over the same counters, debits listed in both orders, from three pools."""
    stores = [await PostgresStore.open(pg_store_url) for _ in range(3)]
    try:

        def debits(i: int) -> tuple[UsageDebit, ...]:
            pair = (user_debit(1, 1), guild_debit(1, 1))
            return pair if i % 2 else pair[::-1]

        first = [await enqueue_ok(stores[0], make_job(debits=debits(i))) for i in range(20)]
        cancels = [stores[i % 3].transition(j.id, JobState.QUEUED, JobState.CANCELLED) for i, j in enumerate(first)]
        enqueues = [stores[i % 3].enqueue(make_job(debits=debits(i))) for i in range(20)]
        moved, queued = await asyncio.wait_for(
            asyncio.gather(asyncio.gather(*cancels), asyncio.gather(*enqueues)), timeout=20
        )
        assert all(m is not None for m in moved)
        assert all(r.outcome is EnqueueOutcome.OK for r in queued)
        assert await stores[1].get_usage("user", 1, DAY) == (20, 20)
        assert await stores[2].get_usage("guild", 100, DAY) == (20, 20)
    finally:
        for store in stores:
            await store.close()


@pytest.mark.parametrize(
    ("url", "dsn"),
    [
        ("postgresql://bot@db:5432/bot", "postgresql://bot@db:5432/bot"),
        ("postgres://bot@db/bot?search_path=x", "postgresql://bot@db/bot?search_path=x"),
        ("postgresql+asyncpg://bot:pw@db/bot", "postgresql://bot:pw@db/bot"),
    ],
)
def test_postgres_dsn(url: str, dsn: str) -> None:
    assert postgres_dsn(url) == dsn


def test_postgres_dsn_refuses_other_schemes_without_echoing_the_password() -> None:
    with pytest.raises(ValueError, match="not a PostgreSQL URL") as caught:
        postgres_dsn("mysql://bot:hunter2@db/bot")
    assert "hunter2" not in str(caught.value)


def test_redacted_hides_only_the_password() -> None:
    assert redacted("postgresql://bot:hunter2@db:5432/bot?x=1") == "postgresql://bot:***@db:5432/bot?x=1"
    assert redacted("postgresql://bot@db/bot") == "postgresql://bot@db/bot"


async def test_waiting_for_a_pooled_connection_is_bounded(pg_store_url: str) -> None:
    # Every connection busy (or none that can connect): a statement fails in time instead of waiting
    # (asyncpg alone would wait for ever, or 60 s for a connect), so nobody acts on a belief that old.
    async with await PostgresStore.open(pg_store_url, max_size=1, acquire_timeout=0.3) as store:
        async with store.pool.acquire():
            began = asyncio.get_running_loop().time()
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(store.get_job("x"), 5.0)
            assert asyncio.get_running_loop().time() - began < 2.0  # the store's bound, not the guard's
            lease = store.lease("dispatcher", ttl_seconds=1.5)  # a renewal's wait is bounded by its own timeout
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(lease.acquire_or_renew("a"), 5.0)
            assert asyncio.get_running_loop().time() - began < 4.0
        assert await store.get_job("x") is None
