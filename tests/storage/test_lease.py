"""The store's lease: a real PostgreSQL lease row (and the trivial SQLite lease), and the dispatcher
election on top of it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from bot.jobs.leadership import DISPATCHER, LeaderElector, elector_for, new_holder_id
from bot.storage import PostgresStore, open_store
from bot.storage.postgres import PostgresLease
from bot.storage.sqlite import SingleProcessLease
from tests.pg import raw_pg
from tests.storage.contract.helpers import ObservedLease


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
async def pg_store(pg_store_url: str) -> AsyncIterator[PostgresStore]:
    async with await PostgresStore.open(pg_store_url) as store:
        yield store


async def test_one_holder_at_a_time_until_the_lease_expires(pg_store: PostgresStore) -> None:
    clock = FakeClock()
    lease = PostgresLease(pg_store.pool, ttl_seconds=10, name=DISPATCHER, clock=clock)
    assert await lease.holder() is None
    assert await lease.acquire_or_renew("a") is not None
    assert await lease.acquire_or_renew("b") is None
    assert await lease.holder() == "a"

    for _ in range(3):  # renewals keep it well past the first expiry
        clock.advance(9)
        assert await lease.acquire_or_renew("b") is None
        assert await lease.acquire_or_renew("a") is not None

    clock.advance(9.999)
    assert await lease.acquire_or_renew("b") is None  # still a's, by a millisecond
    clock.advance(0.001)
    assert await lease.holder() is None
    assert await lease.acquire_or_renew("b") is not None  # expired: taken over
    assert await lease.acquire_or_renew("a") is None
    assert await lease.holder() == "b"


async def test_the_epoch_grows_with_every_acquisition_and_never_with_a_renewal(pg_store: PostgresStore) -> None:
    clock = FakeClock()
    lease = PostgresLease(pg_store.pool, ttl_seconds=10, name=DISPATCHER, clock=clock)
    a1 = await lease.acquire_or_renew("a")
    assert a1 is not None and (a1.lease, a1.holder) == (DISPATCHER, "a")
    clock.advance(9)
    assert await lease.acquire_or_renew("a") == a1  # a renewal: the same token
    clock.advance(10)  # lapsed; nobody took it, but a's next renewal is a new acquisition all the same
    a2 = await lease.acquire_or_renew("a")
    assert a2 is not None and a2.epoch == a1.epoch + 1
    clock.advance(10)
    b = await lease.acquire_or_renew("b")  # a takeover
    assert b is not None and b.epoch == a2.epoch + 1
    await lease.release("b")  # released, the row (and its epoch) stays
    a3 = await lease.acquire_or_renew("a")
    assert a3 is not None and a3.epoch == b.epoch + 1


async def test_release_frees_it_at_once_but_only_for_the_holder(pg_store: PostgresStore) -> None:
    lease = PostgresLease(pg_store.pool, ttl_seconds=60, name=DISPATCHER)
    assert await lease.acquire_or_renew("a") is not None
    await lease.release("b")  # not b's to release
    assert await lease.acquire_or_renew("b") is None
    await lease.release("a")
    assert await lease.holder() is None
    assert await lease.acquire_or_renew("b") is not None


async def test_leases_by_name_are_independent(pg_store: PostgresStore) -> None:
    dispatcher = PostgresLease(pg_store.pool, ttl_seconds=60, name=DISPATCHER)
    other = PostgresLease(pg_store.pool, ttl_seconds=60, name="janitor")
    assert await dispatcher.acquire_or_renew("a") is not None
    assert await other.acquire_or_renew("b") is not None
    assert await raw_pg_rows(pg_store) == [("dispatcher", "a"), ("janitor", "b")]


async def raw_pg_rows(store: PostgresStore) -> list[tuple[str, str]]:
    rows = await store.pool.fetch("SELECT name, holder FROM leases ORDER BY name")
    return [(str(r["name"]), str(r["holder"])) for r in rows]


async def test_database_clock_expiry(pg_store: PostgresStore) -> None:
    lease = PostgresLease(pg_store.pool, ttl_seconds=0.3, name=DISPATCHER)
    asked = time.monotonic()
    assert await lease.acquire_or_renew("a") is not None
    assert await lease.acquire_or_renew("b") is None
    while not await lease.acquire_or_renew("b"):  # b gets it once the database's clock passes a's expiry
        assert time.monotonic() - asked < 5, "the lease never expired"
        await asyncio.sleep(0.02)
    assert time.monotonic() - asked >= 0.3 - 0.01  # not before (database wall clock vs monotonic here)


async def test_concurrent_contenders_from_three_pools_elect_one(pg_store_url: str) -> None:
    stores = [await PostgresStore.open(pg_store_url) for _ in range(3)]
    try:
        leases = [PostgresLease(s.pool, ttl_seconds=30, name=DISPATCHER) for s in stores]
        holders = [new_holder_id() for _ in range(12)]
        won = await asyncio.gather(*(leases[i % 3].acquire_or_renew(h) for i, h in enumerate(holders)))
        assert sum(w is not None for w in won) == 1
        [winner] = [w.holder for w in won if w is not None]
        assert await raw_pg(pg_store_url, "SELECT holder FROM leases") == [(winner,)]
    finally:
        for store in stores:
            await store.close()


async def test_an_unreachable_database_raises_and_the_elector_lets_its_lease_lapse(pg_store_url: str) -> None:
    store = await PostgresStore.open(pg_store_url)
    lease = PostgresLease(store.pool, ttl_seconds=30, name=DISPATCHER)
    now = [0.0]
    elector = LeaderElector(lease, "a", ttl_seconds=3, interval=1, monotonic=lambda: now[0])
    assert await elector.step() is True
    await store.pool.close()
    with pytest.raises(asyncpg.InterfaceError):
        await lease.acquire_or_renew("a")
    now[0] = 2.9
    assert await elector.step() is True  # no answer: the confirmed lease still counts
    now[0] = 3.0
    assert await elector.step() is False
    await lease.release("a")  # logged, not raised
    await store.close()


async def test_electors_take_over_within_the_bound_when_the_leader_dies(pg_store_url: str) -> None:
    """Two processes' electors (two pools); the leader's loop dies without releasing; the other leads in time."""
    bound = 1.2
    async with await PostgresStore.open(pg_store_url) as one, await PostgresStore.open(pg_store_url) as two:
        a = elector_for(one, bound_seconds=bound, holder_id="a")
        b = elector_for(two, bound_seconds=bound, holder_id="b")
        rounds = {True: 0, False: 0}  # b's attempts: held, refused

        def count(held: bool) -> None:
            rounds[held] += 1

        b.lease = ObservedLease(b.lease, count)
        changes: list[tuple[str, bool]] = []

        async def record(name: str, leading: bool) -> None:
            changes.append((name, leading))

        task_a = asyncio.create_task(a.run(lambda leading: record("a", leading)))
        await wait_for_condition(lambda: a.is_leader)
        task_b = asyncio.create_task(b.run(lambda leading: record("b", leading)))
        try:
            await wait_for_condition(lambda: rounds[False] >= 3)  # several rounds: a keeps it, b waits
            assert rounds[True] == 0
            assert a.is_leader
            assert not b.is_leader
            assert changes == [("a", True)]

            task_a.cancel()  # the process dies: no release
            died = time.monotonic()
            await wait_for_condition(lambda: b.is_leader)
            assert time.monotonic() - died <= bound + 0.5  # scheduling slack
            assert changes == [("a", True), ("b", True)]
            await b.resign()
            assert not b.is_leader
            assert await raw_pg(pg_store_url, "SELECT count(*) FROM leases WHERE expires_at > now()") == [
                (0,)
            ]  # released
        finally:
            for task in (task_a, task_b):
                task.cancel()
            await asyncio.gather(task_a, task_b, return_exceptions=True)


async def wait_for_condition(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def test_sqlite_store_gets_the_single_process_lease(tmp_path: Path) -> None:
    async with open_store(f"sqlite:///{tmp_path / 'bot.db'}") as store:
        assert store.multi_process is False
        lease = store.lease(DISPATCHER, ttl_seconds=15)
        assert isinstance(lease, SingleProcessLease)
        assert await lease.acquire_or_renew("a") is not None
        assert await lease.acquire_or_renew("b") is not None  # one process: whoever asks leads
        await lease.release("a")


async def test_postgres_store_gets_the_lease_row(pg_store: PostgresStore) -> None:
    assert pg_store.multi_process is True
    lease = pg_store.lease(DISPATCHER, ttl_seconds=15)
    assert isinstance(lease, PostgresLease)
    assert await lease.acquire_or_renew("a") is not None
    assert await lease.acquire_or_renew("b") is None
