"""Jobs and debits for store tests, small walks through the state machine, and a lease that reports its attempts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bot.models import GenerationRequest, Job, JobState, UsageDebit, new_job_id
from bot.storage import EnqueueOutcome, Fence, Lease, Store

DAY = "day:2026-11-23"
T0 = datetime(2020, 6, 1, 12, 0, tzinfo=UTC)

# How to reach each non-terminal state from QUEUED.
PATH_TO: dict[JobState, list[JobState]] = {
    JobState.QUEUED: [],
    JobState.SUBMITTING: [JobState.SUBMITTING],
    JobState.RUNNING: [JobState.SUBMITTING, JobState.RUNNING],
    JobState.DELIVERING: [JobState.SUBMITTING, JobState.RUNNING, JobState.DELIVERING],
}


def make_job(
    *,
    user_id: int = 1,
    guild_id: int | None = 100,
    debits: tuple[UsageDebit, ...] = (),
    created_at: datetime | None = None,
    **changes: Any,
) -> Job:
    job = Job(
        id=new_job_id(),
        user_id=user_id,
        channel_id=555,
        guild_id=guild_id,
        request=GenerationRequest(mode="star3", prompt="a lighthouse at dusk"),
        debits=debits,
        **changes,
    )
    if created_at is not None:
        job.created_at = job.state_changed_at = created_at
    return job


def user_debit(
    images: int = 1, points: int = 0, *, max_images: int | None = None, user_id: int = 1, **kw: Any
) -> UsageDebit:
    return UsageDebit("user", user_id, DAY, images, points, max_images=max_images, **kw)


def guild_debit(
    images: int = 1, points: int = 0, *, max_images: int | None = None, guild_id: int = 100, **kw: Any
) -> UsageDebit:
    return UsageDebit("guild", guild_id, DAY, images, points, max_images=max_images, **kw)


async def walk(store: Store, job: Job, target: JobState) -> Job:
    current = job
    for step in PATH_TO[target]:
        moved = await store.transition(current.id, current.state, step)
        assert moved is not None
        current = moved
    return current


async def enqueue_ok(store: Store, job: Job, **caps: Any) -> Job:
    result = await store.enqueue(job, **caps)
    assert result.outcome is EnqueueOutcome.OK, result
    return job


class ObservedLease:
    """``lease``, telling ``on_attempt`` whether each acquire/renew left the caller holding it: tests wait for
    a number of election rounds instead of sleeping through them."""

    def __init__(self, lease: Lease, on_attempt: Callable[[bool], None]) -> None:
        self._lease = lease
        self._on_attempt = on_attempt

    async def acquire_or_renew(self, holder_id: str) -> Fence | None:
        fence = await self._lease.acquire_or_renew(holder_id)
        self._on_attempt(fence is not None)
        return fence

    async def release(self, holder_id: str) -> None:
        await self._lease.release(holder_id)
