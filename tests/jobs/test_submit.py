"""The submit loop: position reports, and re-queueing a submit LiblibAI refused."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.jobs.sink import Progress, Stage
from bot.models import FailureReason, Job, JobState
from tests.jobs.helpers import new_job, open_parts, wait_for


async def test_queue_position_reports_do_not_pile_up(parts) -> None:
    _sim, store, sink, runner, _queue = parts
    for i in range(5):
        await store.enqueue(new_job(f"q{i}", user=200 + i))
    gate = asyncio.Event()
    record = sink.progress

    async def slow(job: Job, progress: Progress) -> None:
        await gate.wait()
        await record(job, progress)

    sink.progress = slow
    for _ in range(3):  # three passes of the submit loop while the first report is still editing
        await runner._submitter.next_job()

    async def reports_finished() -> bool:
        return not list(runner._tasks)  # every report the passes started has ended

    gate.set()
    await wait_for(reports_finished, "the position reports to finish")
    assert len(sink.progress_calls) == 5  # one report of five positions, not three
    await runner._submitter.next_job()  # the next pass after it finished reports again
    await wait_for(reports_finished, "the second position report to finish")
    assert len(sink.progress_calls) == 10


async def test_a_position_report_skips_jobs_that_left_the_queue_while_it_ran(parts) -> None:
    _sim, store, sink, runner, _queue = parts
    for i in range(4):
        await store.enqueue(new_job(f"p{i}", user=300 + i))
    editing: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    gate = asyncio.Event()
    record = sink.progress

    async def slow(job: Job, progress: Progress) -> None:  # Discord takes a while with the first edit
        if not editing.done():
            editing.set_result(job.id)
        await gate.wait()
        await record(job, progress)

    sink.progress = slow
    await runner._submitter.next_job()  # starts a report over the four queued jobs
    first = await editing
    later = sorted({"p0", "p1", "p2", "p3"} - {first})
    # While the first edit is under way, one job is cancelled, one expires and one is still waiting.
    await store.transition(later[0], JobState.QUEUED, JobState.CANCELLED, failure_reason=FailureReason.CANCELLED)
    await store.transition(later[1], JobState.QUEUED, JobState.EXPIRED, failure_reason=FailureReason.DEADLINE)
    gate.set()

    async def report_finished() -> bool:
        return not list(runner._tasks)

    await wait_for(report_finished, "the position report to finish")
    assert [(job_id, p.stage, p.position) for job_id, p in sink.progress_calls] == [
        (first, Stage.QUEUED, 1),
        (later[2], Stage.QUEUED, 2),  # the jobs that left are skipped, and not counted ahead of it
    ]


@pytest.mark.parametrize(
    ("fault", "retry_after", "low", "high"),
    [("429", 7.0, 6.9, 7.1), ("429", 0.0, 1.99, 2.1), ("100054", None, 1.99, 2.1)],
)
async def test_a_refused_submit_is_queued_again_after_the_servers_hint_or_the_backoff(
    tmp_path: Path, fault: str, retry_after: float | None, low: float, high: float
) -> None:
    # No client retries: the runner sees the refusal itself.
    async with open_parts(tmp_path, liblib={"max_retries": 0}) as (sim, store, _sink, runner, _queue):
        sim.inject(fault, route="submit", value=retry_after)
        await store.enqueue(new_job("refused"))

        async def requeued() -> bool:
            job = await store.get_job("refused")
            return job is not None and job.state is JobState.QUEUED and job.not_before is not None

        await runner.start()
        try:
            await wait_for(requeued, "the refused job to be queued again")
        finally:
            await runner.stop()
        job = await store.get_job("refused")
        assert job is not None and job.not_before is not None and job.submit_attempts == 1
        wait = (job.not_before - job.state_changed_at).total_seconds()
        assert low <= wait <= high, wait  # the server's Retry-After, never under the first step (2 s)
        assert sim.counters.submits == 0


async def test_a_job_waiting_to_retry_a_refused_submit_is_back_in_the_queue(tmp_path: Path) -> None:
    # The client retries a 429 itself (after the server's hint); a crash during that wait must not lose the job,
    # so it waits QUEUED (with the wait as its not_before), not SUBMITTING, and is submitted once afterwards.
    async with open_parts(tmp_path, liblib={"max_retries": 2, "retry_backoff_cap": 1.5}) as parts:
        sim, store, sink, runner, _queue = parts
        sim.inject("429", route="submit", value=1.5)
        await store.enqueue(new_job("patient"))

        async def waiting_in_the_queue() -> bool:
            job = await store.get_job("patient")
            return sim.counters.faults_served == 1 and job is not None and job.state is JobState.QUEUED

        async def succeeded() -> bool:
            job = await store.get_job("patient")
            return job is not None and job.state is JobState.SUCCEEDED

        await runner.start()
        try:
            await wait_for(waiting_in_the_queue, "the refused job to wait for its retry in the queue")
            job = await store.get_job("patient")
            assert job is not None and job.not_before is not None
            assert 1.0 <= (job.not_before - job.state_changed_at).total_seconds() <= 1.6
            await wait_for(succeeded, "the retried job to succeed")
        finally:
            await runner.stop()
        assert sim.counters.submits == 1 and len(sim.tasks()) == 1
        assert sink.failures == []
