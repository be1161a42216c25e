"""Delivery: never twice, whatever the delivery scan saw."""

from __future__ import annotations

from bot.models import JobResult, JobState
from tests.jobs.helpers import new_job


async def test_a_stale_delivery_scan_never_delivers_a_finished_job_again(parts) -> None:
    _sim, store, sink, runner, _queue = parts
    await store.enqueue(new_job("done"))
    await store.transition("done", JobState.QUEUED, JobState.SUBMITTING)
    await store.transition("done", JobState.SUBMITTING, JobState.RUNNING, generate_uuid="u1")
    result = JobResult(images=(), points_cost=0)
    listed = await store.transition("done", JobState.RUNNING, JobState.DELIVERING, result=result)
    assert listed is not None
    # The scan listed the job as DELIVERING; by the time it acts, another delivery of it has finished.
    await store.transition("done", JobState.DELIVERING, JobState.SUCCEEDED)
    await runner._deliverer.deliver(listed)
    assert sink.delivered == []
