"""LeaderElector against a hand-written in-memory lease and a fake monotonic clock."""

from __future__ import annotations

import asyncio

import pytest

from bot.jobs.leadership import DISPATCHER, LeaderElector, lease_timing, new_holder_id
from bot.storage import Fence
from bot.storage.sqlite import SingleProcessLease


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class MemoryLease:
    """The Lease contract in memory, on the same fake clock; ``latency`` is spent inside each call."""

    def __init__(self, clock: FakeTime, ttl: float) -> None:
        self.clock = clock
        self.ttl = ttl
        self.holder: str | None = None
        self.expires = 0.0
        self.down = False
        self.latency = 0.0
        self.released: list[str] = []
        self.epoch = 0

    async def acquire_or_renew(self, holder_id: str) -> Fence | None:
        self.clock.now += self.latency
        if self.down:
            raise ConnectionError("database unreachable")
        if self.holder == holder_id and self.expires > self.clock.now:
            self.expires = self.clock.now + self.ttl  # a renewal keeps the epoch
        elif self.holder is None or self.expires <= self.clock.now:
            self.holder, self.expires, self.epoch = holder_id, self.clock.now + self.ttl, self.epoch + 1
        return Fence(DISPATCHER, holder_id, self.epoch) if self.holder == holder_id else None

    async def release(self, holder_id: str) -> None:
        self.released.append(holder_id)
        if self.holder == holder_id:
            self.holder = None


def elector(lease: MemoryLease, clock: FakeTime, holder: str, *, ttl: float = 9, interval: float = 3) -> LeaderElector:
    return LeaderElector(lease, holder, ttl_seconds=ttl, interval=interval, monotonic=clock)


def test_lease_timing_meets_the_bound() -> None:
    ttl, interval = lease_timing(15)
    assert (ttl, interval) == (11.25, 3.75)
    assert ttl + interval == 15  # worst case: leader dies right after renewing, standby just missed it
    with pytest.raises(ValueError, match="positive"):
        lease_timing(0)


def test_holder_ids_are_unique() -> None:
    assert new_holder_id() != new_holder_id()


def test_interval_must_be_shorter_than_the_lease() -> None:
    clock = FakeTime()
    with pytest.raises(ValueError, match="interval"):
        elector(MemoryLease(clock, 9), clock, "a", ttl=3, interval=3)


async def test_leads_while_renewals_succeed_and_stops_when_they_fail() -> None:
    clock = FakeTime()
    lease = MemoryLease(clock, ttl=9)
    a, b = elector(lease, clock, "a"), elector(lease, clock, "b")
    assert not a.is_leader
    assert await a.step() is True
    assert await b.step() is False
    for _ in range(5):
        clock.now += 3
        assert await a.step() is True
        assert await b.step() is False

    renewed = clock.now
    lease.down = True  # the database stops answering: a keeps its confirmed lease until it lapses
    clock.now += 3
    assert await a.step() is True
    clock.now += 3
    assert await a.step() is True
    clock.now = renewed + 9
    assert await a.step() is False
    assert not a.is_leader
    lease.down = False
    lease.holder, lease.expires = "b", clock.now + 9  # meanwhile b took it over
    assert await a.step() is False


async def test_belief_expires_from_when_the_renewal_was_sent() -> None:
    clock = FakeTime()
    lease = MemoryLease(clock, ttl=9)
    a = elector(lease, clock, "a")
    lease.latency = 2.0  # a slow round trip: the row's expiry starts later than our send time
    assert await a.step() is True
    clock.now += 6.99  # 8.99 s after sending
    assert a.is_leader
    clock.now += 0.01  # 9 s after sending: a stops believing before the row could expire (at 11 s)
    assert not a.is_leader
    assert lease.expires > clock.now


async def test_standby_takes_over_after_the_leader_stops_renewing() -> None:
    clock = FakeTime()
    lease = MemoryLease(clock, ttl=9)
    a, b = elector(lease, clock, "a"), elector(lease, clock, "b")
    await a.step()
    died = clock.now
    while not await b.step():  # b retries every interval
        clock.now += 3
    assert clock.now - died <= 9 + 3


async def test_run_reports_changes_and_resign_releases() -> None:
    clock = FakeTime()
    lease = MemoryLease(clock, ttl=9)
    ticks: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        ticks.append(seconds)
        clock.now += seconds
        if len(ticks) == 3:
            lease.holder, lease.expires = "b", clock.now + 9  # b holds it now (a stalled meanwhile)
        if len(ticks) == 5:
            lease.holder = None  # b resigned
        if len(ticks) == 7:
            raise asyncio.CancelledError  # stop the loop
        await asyncio.sleep(0)

    a = LeaderElector(lease, "a", ttl_seconds=9, interval=3, monotonic=clock, sleep=fake_sleep)
    changes: list[bool] = []

    async def on_change(leading: bool) -> None:
        changes.append(leading)

    with pytest.raises(asyncio.CancelledError):
        await a.run(on_change)
    assert ticks == [3] * 7
    assert changes == [True, False, True]
    assert a.is_leader
    await a.resign()
    assert not a.is_leader
    assert lease.released == ["a"]
    assert lease.holder is None


async def test_single_process_lease_always_leads() -> None:
    a = LeaderElector(SingleProcessLease(), "a", ttl_seconds=9, interval=3)
    assert await a.step() is True
    assert a.is_leader
