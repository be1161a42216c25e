"""Polling: a task slower than running_deadline expires the job with its own message and a refund."""

from __future__ import annotations

from pathlib import Path

from bot.jobs import JobService
from bot.jobs.scheduling import FairQueue
from bot.models import FailureReason, Job, JobState
from bot.ops.metrics import Metrics
from bot.quotas.service import utc_quota_error
from tests.jobs.helpers import Parts, new_job, open_parts, wait_for


async def run_one(
    tmp_path: Path, job_id: str, *, fault: str | None = None, metrics: Metrics | None = None
) -> tuple[Job, Parts]:
    """Run one job whose task takes far longer than a 1 s running_deadline (its status route failing with
    ``fault``, if given) until it ends; the job as stored, and the parts."""
    limits = {"queue": {"running_deadline": 1.0}, "liblib": {"max_retries": 0}}
    async with open_parts(tmp_path, **limits, metrics=metrics) as parts:
        sim, store, _sink, runner, queue = parts
        sim.set_durations(0.02, 30.0, 0.02)
        if fault is not None:
            sim.inject(fault, route="status", count=10_000)
        service = JobService(store, queue, FairQueue(), runner.wake, quota_error=utc_quota_error)

        async def ended() -> bool:
            job = await store.get_job(job_id)
            return job is not None and job.state.terminal

        await runner.start()
        try:
            await service.enqueue(new_job(job_id))
            await wait_for(ended, "the job to end", timeout=10)
        finally:
            await runner.stop()
        job = await store.get_job(job_id)
        assert job is not None
        assert await store.get_usage("user", 1, "day:x") == (0, 0)  # refunded
        return job, parts


async def test_a_task_slower_than_the_running_deadline_expires_with_its_message_and_a_refund(tmp_path: Path) -> None:
    job, (sim, _store, sink, runner, _queue) = await run_one(tmp_path, "slow")
    assert job.state is JobState.EXPIRED and job.refunded
    assert job.failure_reason is FailureReason.DEADLINE
    assert job.failure_detail is not None and job.failure_detail.msgid == (
        "The image service took too long, so the job was stopped. Your quota was refunded."
    )
    assert [j.id for j in sink.failures] == ["slow"]
    assert runner._client.active_tasks == 0  # its task slot is free again
    assert sim.counters.submits == 1


async def test_a_status_outage_past_the_running_deadline_expires_the_job_not_fails_it(tmp_path: Path) -> None:
    """Status queries that fail until the deadline end the wait as the deadline, not as a service error."""
    metrics = Metrics()
    job, (_sim, _store, sink, runner, _queue) = await run_one(tmp_path, "outage", fault="500", metrics=metrics)
    assert job.state is JobState.EXPIRED and job.refunded
    assert job.failure_reason is FailureReason.DEADLINE
    assert [j.id for j in sink.failures] == ["outage"]  # the member was told
    assert runner._client.active_tasks == 0
    assert not metrics.liblib_reachable  # the outage shows in /healthz and the error counter
