"""The deadline watchdog: a job stuck past its state's deadline fails with a message and a refund."""

from __future__ import annotations

from datetime import timedelta

from bot.models import FailureReason, JobState, utcnow
from tests.jobs.helpers import new_job


async def test_queued_job_past_its_deadline_expires_with_refund_and_message(parts) -> None:
    _sim, store, sink, runner, _queue = parts
    await store.enqueue(new_job("late"))
    assert await store.get_usage("user", 1, "day:x") == (1, 8)
    await runner.enforce_deadlines(utcnow() + timedelta(minutes=5))
    job = await store.get_job("late")
    assert job is not None and job.state is JobState.EXPIRED and job.refunded
    assert job.failure_reason is FailureReason.DEADLINE
    assert [j.id for j in sink.failures] == ["late"]
    assert await store.get_usage("user", 1, "day:x") == (0, 0)
