"""JobRunner: resume after a crash, a job run to success, dispatcher elections. Real SQLite + simulator."""

from __future__ import annotations

import asyncio

from bot.generation.families import make_submit_builder
from bot.jobs import JobRunner, JobService
from bot.jobs.leadership import LeaderElector
from bot.jobs.scheduling import FairQueue
from bot.models import FailureReason, JobState
from bot.quotas.service import utc_quota_error
from bot.settings import Settings
from bot.storage import Fence
from tests.jobs.helpers import new_job, wait_for


async def test_job_left_submitting_by_a_crash_is_failed_charged_the_estimate_not_resubmitted(parts) -> None:
    """Its request may have reached LiblibAI (SUBMITTING is entered right before it): never resubmitted, and
    settled at the estimate, since a bill we cannot see is never taken as 0."""
    sim, store, sink, runner, _queue = parts
    await store.enqueue(new_job("crashed"))
    await store.transition("crashed", JobState.QUEUED, JobState.SUBMITTING)
    await runner.start()
    await runner.stop()
    job = await store.get_job("crashed")
    assert job is not None and job.state is JobState.FAILED and not job.refunded
    assert job.points_cost == job.points_reserved == 8
    assert await store.get_usage("user", 1, "day:x") == (1, 8)
    assert job.failure_reason is FailureReason.SUBMIT_UNKNOWN
    assert sink.failures and "outcome is unknown" in str(sink.failures[0].failure_detail or "")
    assert sim.counters.submit_requests == 0


async def test_stop_ends_the_submit_loop_even_when_a_wake_up_lands_with_it(parts) -> None:
    """A wake-up (a member's command) in the same tick as the stop (SIGTERM): on Python 3.11 a cancel that
    coincides with the awaited event can be swallowed, and the loop must still end and never submit again."""
    sim, store, _sink, runner, _queue = parts
    await runner.start()
    wake = runner._submitter._wake

    async def parked() -> bool:
        return bool(wake._waiters)  # type: ignore[attr-defined] # the loop is idle, waiting to be woken

    await wait_for(parked, "the submit loop to wait for work")
    await store.enqueue(new_job("late"))
    runner.wake()
    await asyncio.wait_for(runner.stop(), 5)
    assert not runner.is_dispatcher
    job = await store.get_job("late")
    assert job is not None and job.state is JobState.QUEUED  # left for the next start
    assert sim.counters.submit_requests == 0


async def test_queued_job_runs_to_success_and_settles_actual_cost(parts) -> None:
    sim, store, sink, runner, queue = parts
    service = JobService(store, queue, FairQueue(), runner.wake, quota_error=utc_quota_error)
    await runner.start()

    async def succeeded() -> bool:
        job = await store.get_job("ok")
        return job is not None and job.state is JobState.SUCCEEDED

    try:
        await service.enqueue(new_job("ok"))
        await wait_for(succeeded, "the job to succeed")
    finally:
        await runner.stop()
    job = await store.get_job("ok")
    assert job is not None and job.state is JobState.SUCCEEDED and job.result_message_id == 42
    assert sink.delivered == [("ok", 1)]
    assert sim.counters.submits == 1
    assert await store.get_usage("user", 1, "day:x") == (1, job.points_cost)


class FlipLease:
    """Held while ``held`` is true (no contender needed); counts releases."""

    def __init__(self) -> None:
        self.held = True
        self.releases = 0

    async def acquire_or_renew(self, holder_id: str) -> Fence | None:
        return Fence("dispatcher", holder_id, 1) if self.held else None

    async def release(self, holder_id: str) -> None:
        self.releases += 1


def led_runner(parts, lease: FlipLease) -> JobRunner:
    _sim, store, sink, runner, queue = parts
    elector = LeaderElector(lease, "me", ttl_seconds=0.3, interval=0.05)
    return JobRunner(
        store,
        runner._client,
        sink,
        make_submit_builder(Settings()),
        queue,
        images=runner._deliverer._images,  # the pool open_parts owns
        watchdog_interval=3600,
        elector=elector,
    )


async def test_a_failed_resume_gives_the_lease_up_and_the_next_election_round_retries(parts, monkeypatch) -> None:
    sim, store, _sink, _runner, _queue = parts
    lease = FlipLease()
    runner = led_runner(parts, lease)
    await store.enqueue(new_job("after-hiccup"))
    real_list = store.list_jobs
    failures = 1

    async def flaky(states):
        nonlocal failures
        if list(states) == [JobState.SUBMITTING] and failures:  # the first step of resuming
            failures -= 1
            raise OSError("database connection lost")
        return await real_list(states)

    async def succeeded() -> bool:
        job = await store.get_job("after-hiccup")
        return job is not None and job.state is JobState.SUCCEEDED

    monkeypatch.setattr(store, "list_jobs", flaky)
    await runner.start()
    try:
        await wait_for(succeeded, "the job to succeed after the failed resume")  # a later round dispatched it
        assert failures == 0 and lease.releases == 1  # the failed round let the lease go
    finally:
        await runner.stop()
    assert sim.counters.submits == 1


async def test_losing_the_lease_frees_the_task_slots_of_the_stopped_polls(parts) -> None:
    sim, store, _sink, _runner, queue = parts
    client = _runner._client
    sim.set_durations(0.02, 30.0, 0.02)  # still running when the lease is lost
    lease = FlipLease()
    runner = led_runner(parts, lease)
    service = JobService(store, queue, FairQueue(), runner.wake, quota_error=utc_quota_error)

    async def running() -> bool:
        job = await store.get_job("long")
        return job is not None and job.state is JobState.RUNNING

    async def stepped_down() -> bool:
        return not runner.is_dispatcher

    await runner.start()
    try:
        await service.enqueue(new_job("long"))
        await wait_for(running, "the job to run")
        assert client.active_tasks == 1
        # Meanwhile the job moves on elsewhere (here: cancelled), then this process loses the lease.
        await service.cancel("long", actor_id=1, is_admin=False)
        lease.held = False
        await wait_for(stepped_down, "the runner to stop dispatching")
        assert client.active_tasks == 0  # a later term as dispatcher starts with every slot free
    finally:
        await runner.stop()
