"""JobRetention (issue 17 #10): tokens are forgotten 15 minutes after a job finished, finished jobs are deleted
after the retention, active jobs are left alone. Real SQLite store (the dispatcher running the sweep is
tests/e2e/test_data_at_rest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.jobs.retention import JobRetention
from bot.models import Job, JobState
from bot.storage import Store, open_store
from tests.jobs.helpers import new_job

NOW = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(f"sqlite:///{tmp_path}/t.db") as opened:
        yield opened


async def succeeded(store: Store, job_id: str, at: datetime) -> Job:
    """A job that was delivered at ``at`` (its interaction token still stored)."""
    job = new_job(job_id)
    job.interaction_token = f"token-{job_id}"
    await store.enqueue(job)
    for src, dst in [
        (JobState.QUEUED, JobState.SUBMITTING),
        (JobState.SUBMITTING, JobState.RUNNING),
        (JobState.RUNNING, JobState.DELIVERING),
    ]:
        await store.transition(job_id, src, dst)
    moved = await store.transition(job_id, JobState.DELIVERING, JobState.SUCCEEDED, finished_at=at)
    assert moved is not None
    return moved


async def token(store: Store, job_id: str) -> str | None:
    job = await store.get_job(job_id)
    assert job is not None
    return job.interaction_token


async def test_the_sweep_forgets_tokens_after_15_minutes_and_deletes_jobs_after_the_retention(store: Store) -> None:
    await succeeded(store, "fresh", NOW - timedelta(minutes=14))
    await succeeded(store, "stale", NOW - timedelta(minutes=16))
    await succeeded(store, "kept", NOW - timedelta(days=29))
    await succeeded(store, "old", NOW - timedelta(days=31))
    running = new_job("running")
    running.interaction_token = "token-running"
    running.created_at = running.state_changed_at = NOW - timedelta(days=365)
    await store.enqueue(running)
    await store.transition("running", JobState.QUEUED, JobState.SUBMITTING)
    await store.transition("running", JobState.SUBMITTING, JobState.RUNNING)

    retention = JobRetention(store, retention_days=30, clock=lambda: NOW)
    assert await retention.sweep() == (2, 1)  # stale and kept lost their tokens; old is gone
    assert await token(store, "fresh") == "token-fresh"  # Discord's token may still be alive
    assert await token(store, "stale") is None
    assert await token(store, "kept") is None
    assert await store.get_job("old") is None
    assert await token(store, "running") == "token-running"  # active: never touched, however old
    assert await retention.sweep() == (0, 0)


def test_a_retention_under_a_day_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="at least one day"):
        JobRetention(store, retention_days=0)
