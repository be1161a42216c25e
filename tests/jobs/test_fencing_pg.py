"""Fencing on PostgreSQL (issue 17): a dispatcher deposed while it waited to submit cannot submit.

Two runners on one schema, each with its own pool and LiblibAI client, as two processes would have. The first
is stalled in the worst way: its own clock stands still, so it keeps believing it leads after its lease lapsed
and another process took it over. Only the lease's epoch, checked by the store when a job enters SUBMITTING,
stops it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from bot.generation.families import make_submit_builder
from bot.jobs import JobRunner
from bot.jobs.leadership import DISPATCHER, LeaderElector
from bot.jobs.sink import Stage
from bot.liblib import LiblibClient
from bot.liblib.simulator import DEV_ACCESS_KEY, DEV_SECRET_KEY, Simulator
from bot.media.workers import open_image_workers
from bot.models import JobState
from bot.settings import ImageSettings, LiblibSettings, QueueSettings, Settings, SimulatorSettings
from bot.storage import PostgresStore
from bot.storage.postgres import PostgresLease
from tests.jobs.helpers import RecordingSink, new_job, wait_for


class DatabaseClock:
    """The leases' clock (their expiries), moved by the test."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def is_state(store: PostgresStore, job_id: str, state: JobState) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        job = await store.get_job(job_id)
        return job is not None and job.state is state

    return check


def refused(messages: list[str]) -> bool:
    return any("job second: not submitted" in m and "lease" in m for m in messages)


async def test_a_stalled_dispatcher_deposed_during_its_limiter_wait_cannot_submit(
    pg_store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.jobs.submit")
    sim_settings = SimulatorSettings(port=0, queued_seconds=0.02, running_seconds=0.05, auditing_seconds=0.02)
    queue = QueueSettings(queued_deadline=60, delivering_deadline=60)
    build = make_submit_builder(Settings())
    clock = DatabaseClock()
    async with (
        Simulator(sim_settings, submit_per_second=20, max_concurrent=5) as sim,
        await PostgresStore.open(pg_store_url) as store_a,
        await PostgresStore.open(pg_store_url) as store_b,
    ):

        def liblib(rate: float) -> LiblibSettings:
            return LiblibSettings(
                base_url=sim.base_url,
                access_key=DEV_ACCESS_KEY,
                secret_key=DEV_SECRET_KEY,
                submit_per_second=rate,
                poll_interval_min=0.02,
                poll_interval_max=0.05,
            )

        lease_a = PostgresLease(store_a.pool, ttl_seconds=30, name=DISPATCHER, clock=clock)
        lease_b = PostgresLease(store_b.pool, ttl_seconds=30, name=DISPATCHER, clock=clock)
        # Stalled: its clock stands still, so its belief that it leads never lapses.
        elector_a = LeaderElector(lease_a, "a", ttl_seconds=30, interval=20, monotonic=lambda: 0.0)
        elector_b = LeaderElector(lease_b, "b", ttl_seconds=30, interval=0.05)
        sink_a, sink_b = RecordingSink(), RecordingSink()
        # a submits once every 2.5 s: its second job waits for the limiter that long.
        async with (
            LiblibClient(liblib(0.4)) as client_a,
            LiblibClient(liblib(20)) as client_b,
            open_image_workers(ImageSettings(workers=1)) as images,
        ):
            runner_a = JobRunner(
                store_a, client_a, sink_a, build, queue, images=images, watchdog_interval=3600, elector=elector_a
            )
            runner_b = JobRunner(
                store_b, client_b, sink_b, build, queue, images=images, watchdog_interval=3600, elector=elector_b
            )
            try:
                await store_a.enqueue(new_job("first"))
                await runner_a.start()
                await wait_for(is_state(store_a, "first", JobState.RUNNING), "a to submit the first job")
                await store_a.enqueue(new_job("second", user=2))

                async def waiting_for_the_limiter() -> bool:
                    job = await store_a.get_job("second")
                    in_flight = getattr(runner_a._submitter, "is_submitting", lambda _job_id: False)
                    return job is not None and (job.state is JobState.SUBMITTING or in_flight("second"))

                await wait_for(waiting_for_the_limiter, "a to wait for its turn to submit the second job")
                # a's lease lapses (by the database's clock) and b takes it over, while a still waits.
                clock.now += timedelta(seconds=31)
                assert await elector_b.step()
                assert elector_a.is_leader  # a has not noticed
                await wait_for(lambda: _true(refused(caplog.messages)), "a's turn to come (and be refused)", 10)
                assert await is_state(store_a, "second", JobState.QUEUED)()
                assert sim.counters.submits == 1  # nothing left a for the second job
                await runner_b.start()  # b dispatches now
                await wait_for(is_state(store_a, "second", JobState.SUCCEEDED), "the second job to succeed", 10)
            finally:
                await runner_a.stop()
                await runner_b.stop()
        second = await store_a.get_job("second")

    assert second is not None and not second.refunded and second.submit_attempts == 1
    assert sim.counters.submits == 2 and len(sim.tasks()) == 2  # first (by a) and second (by b), once each
    submitted_by = {
        name: {job_id for job_id, progress in sink.progress_calls if progress.stage is Stage.WAITING}
        for name, sink in (("a", sink_a), ("b", sink_b))
    }
    assert submitted_by == {"a": {"first"}, "b": {"second"}}
    assert sink_a.failures == sink_b.failures == []


async def _true(value: bool) -> bool:
    return value
