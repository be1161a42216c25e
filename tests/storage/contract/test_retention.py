"""Data at rest (issue 17 #10), on every adapter: the interaction tokens of finished jobs are forgotten, and
finished jobs past their retention are deleted; an active job keeps its token and its row, however old."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.models import ACTIVE_STATES, TERMINAL_STATES, TRANSITIONS, Job, JobState
from bot.storage import Store
from tests.storage.contract.helpers import DAY, PATH_TO, enqueue_ok, make_job, user_debit, walk

NOW = datetime.now(UTC)
LONG_AGO = NOW - timedelta(days=400)


async def ended(store: Store, state: JobState, at: datetime, *, token: str | None = "tok") -> Job:  # noqa: S107
    """A job (with an interaction token and a debit) that reached terminal ``state`` at ``at``."""
    job = await enqueue_ok(store, make_job(interaction_token=token, created_at=at, debits=(user_debit(1, 8),)))
    source = next(s for s in (JobState.DELIVERING, JobState.RUNNING) if state in TRANSITIONS[s])
    current = await walk(store, job, source)
    moved = await store.transition(current.id, source, state, finished_at=at, state_changed_at=at)
    assert moved is not None and moved.finished_at == at
    return moved


async def active(store: Store, state: JobState) -> Job:
    """A job in active ``state`` that started long ago (stuck, or resumed after a long downtime), with a stray
    ``finished_at`` (only the state tells an active job)."""
    job = await enqueue_ok(store, make_job(interaction_token="live", created_at=LONG_AGO))
    if PATH_TO[state]:
        job = await walk(store, job, state)
    await store.update_job(job.id, finished_at=LONG_AGO)
    stored = await store.get_job(job.id)
    assert stored is not None
    return stored


async def tokens(store: Store, jobs: list[Job]) -> list[str | None]:
    return [stored.interaction_token if (stored := await store.get_job(j.id)) else "GONE" for j in jobs]


async def test_interaction_tokens_of_jobs_finished_before_the_cutoff_are_cleared(store: Store) -> None:
    cutoff = NOW - timedelta(minutes=15)
    old = [await ended(store, state, NOW - timedelta(minutes=20)) for state in sorted(TERMINAL_STATES)]
    recent = await ended(store, JobState.SUCCEEDED, NOW - timedelta(minutes=5))
    running = [await active(store, state) for state in sorted(ACTIVE_STATES)]
    assert await store.clear_interaction_tokens(cutoff) == len(old)
    assert await tokens(store, old) == [None] * len(old)
    assert await tokens(store, [recent]) == ["tok"]  # Discord's token may still be alive
    assert await tokens(store, running) == ["live"] * len(running)  # the sink still uses it (or its absence)
    assert await store.clear_interaction_tokens(cutoff) == 0
    # only the token went: the row and its result stay for /show and the buttons
    kept = await store.get_job(old[0].id)
    assert kept is not None and kept.state is old[0].state and kept.application_id == old[0].application_id


async def test_finished_jobs_past_retention_are_deleted_and_active_ones_never(store: Store) -> None:
    cutoff = NOW - timedelta(days=90)
    old = [await ended(store, state, NOW - timedelta(days=91), token=None) for state in sorted(TERMINAL_STATES)]
    young = await ended(store, JobState.SUCCEEDED, NOW - timedelta(days=89))
    running = [await active(store, state) for state in sorted(ACTIVE_STATES)]
    usage = await store.get_usage("user", 1, DAY)
    assert await store.prune_jobs(cutoff) == len(old)
    assert await tokens(store, old) == ["GONE"] * len(old)
    assert await store.get_job(young.id) is not None
    assert [await store.get_job(j.id) for j in running] == running  # untouched, however old
    assert await store.get_usage("user", 1, DAY) == usage  # deleting a row is no refund and no charge
    assert await store.prune_jobs(cutoff) == 0
