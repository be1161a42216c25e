"""Polling: a task slower than running_deadline expires the job with its own message, charged the estimate (the
task exists at LiblibAI and may still be billed; its cost is unknown, never taken for 0); a job cancelled while
running is followed to its end, silently, and charged what LiblibAI billed."""

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
        assert await store.get_usage("user", 1, "day:x") == (1, 8)  # charged the estimate, not refunded
        return job, parts


async def test_a_task_slower_than_the_running_deadline_expires_with_its_message_charged_the_estimate(
    tmp_path: Path,
) -> None:
    job, (sim, _store, sink, runner, _queue) = await run_one(tmp_path, "slow")
    assert job.state is JobState.EXPIRED and not job.refunded
    assert job.points_cost == job.points_reserved == 8
    assert job.failure_reason is FailureReason.DEADLINE
    assert job.failure_detail is not None and job.failure_detail.msgid == (
        "The image service took too long, so the bot stopped waiting for it."
    )
    assert [j.id for j in sink.failures] == ["slow"]
    assert runner._client.active_tasks == 0  # its task slot is free again
    assert sim.counters.submits == 1


async def test_a_status_outage_past_the_running_deadline_expires_the_job_not_fails_it(tmp_path: Path) -> None:
    """Status queries that fail until the deadline end the wait as the deadline, not as a service error."""
    metrics = Metrics()
    job, (_sim, _store, sink, runner, _queue) = await run_one(tmp_path, "outage", fault="500", metrics=metrics)
    assert job.state is JobState.EXPIRED and not job.refunded and job.points_cost == 8
    assert job.failure_reason is FailureReason.DEADLINE
    assert [j.id for j in sink.failures] == ["outage"]  # the member was told
    assert runner._client.active_tasks == 0
    assert not metrics.liblib_reachable  # the outage shows in /healthz and the error counter


async def cancel_while_running(
    tmp_path: Path, outcome: str | None = None
) -> tuple[Job, Parts, int, int, tuple[int, int]]:
    """Run one job, cancel it once LiblibAI accepted it, and follow it to its end: the job as stored, the parts,
    the task slots held right after the cancel, the progress reports made after it, and the member's usage."""
    async with open_parts(tmp_path) as parts:
        sim, store, sink, runner, queue = parts
        sim.set_durations(0.02, 0.6, 0.02)
        if outcome is not None:
            sim.fail_next_tasks(outcome)
        service = JobService(store, queue, FairQueue(), runner.wake, quota_error=utc_quota_error)

        async def state_is(state: JobState) -> bool:
            job = await store.get_job("stop")
            return job is not None and job.state is state

        await runner.start()
        try:
            await service.enqueue(new_job("stop"))
            await wait_for(lambda: state_is(JobState.RUNNING), "the job to run")
            requested = await service.cancel("stop", actor_id=1, is_admin=False)
            assert requested.state is JobState.RUNNING and requested.cancel_requested and not requested.refunded
            slots = runner._client.active_tasks
            reports = len(sink.progress_calls)
            await wait_for(lambda: state_is(JobState.CANCELLED), "the task to end", timeout=10)
        finally:
            await runner.stop()
        job = await store.get_job("stop")
        assert job is not None and sink.failures == [] and sink.delivered == []  # told at the cancel only
        return job, parts, slots, len(sink.progress_calls) - reports, await store.get_usage("user", 1, "day:x")


async def test_a_job_cancelled_while_running_is_followed_to_its_end_and_charged_the_bill(tmp_path: Path) -> None:
    job, (sim, _store, _sink, runner, _queue), slots, reports_after, usage = await cancel_while_running(tmp_path)
    assert slots == 1  # the task keeps its slot until it ends at LiblibAI
    assert runner._client.active_tasks == 0
    assert reports_after == 0  # silent: the member saw "Cancelled"
    assert job.failure_reason is FailureReason.CANCELLED and not job.refunded
    assert job.points_cost == sim.counters.points_spent == 8
    assert usage == (1, 8)


async def test_a_cancelled_job_liblib_billed_nothing_for_is_refunded(tmp_path: Path) -> None:
    job, (sim, *_parts), _slots, _reports, usage = await cancel_while_running(tmp_path, outcome="failed")
    assert job.state is JobState.CANCELLED and job.refunded and sim.counters.points_spent == 0
    assert usage == (0, 0)
