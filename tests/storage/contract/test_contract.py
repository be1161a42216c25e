"""The Store contract, run against every adapter (SQLite file, PostgreSQL schema): round-trips,
guarded moves, refunds exactly once, atomic quotas and caps, also across several stores on one database
(connections for SQLite, separate pools standing in for processes for PostgreSQL)."""

from __future__ import annotations

import asyncio
import dataclasses
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from bot.i18n import Text
from bot.models import (
    TERMINAL_STATES,
    TRANSITIONS,
    FailureReason,
    GenerationRequest,
    Job,
    JobKind,
    JobResult,
    JobState,
    ResultImage,
)
from bot.storage import (
    EnqueueOutcome,
    InvalidTransitionError,
    Settlement,
    Store,
)
from tests.storage.contract.conftest import Backend
from tests.storage.contract.helpers import (
    DAY,
    T0,
    enqueue_ok,
    guild_debit,
    make_job,
    user_debit,
    walk,
)

# -- round trips ------------------------------------------------------------------------------------


def fully_populated_job() -> Job:
    plus_two = timezone(timedelta(hours=2))
    return Job(
        id="abc123def0",
        user_id=2**62,
        channel_id=2**61,
        guild_id=2**60,
        request=GenerationRequest(
            mode="kontext",
            prompt="une île — 島",
            negative_prompt="blurry",
            aspect_ratio="16:9",
            count=4,
            seed=42,
            steps=30,
            kontext_model="max",
            guidance_scale=3.5,
            cfg_scale=7.0,
            sampler=15,
            source_images=("https://example.invalid/a.png", "https://example.invalid/b.png"),
            strength=0.6,
            mask_image="https://example.invalid/mask.png",
            control_type="depth",
            control_image="https://example.invalid/depth.png",
            width=1024,
            height=576,
            hires=True,
            simulated=True,
        ),
        kind=JobKind.VARY,
        state=JobState.QUEUED,
        created_at=datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        state_changed_at=datetime(2026, 1, 2, 5, 4, 5, tzinfo=plus_two),  # stored and returned as UTC
        generate_uuid="uuid-1",
        submitted_at=datetime(2026, 1, 2, 3, 5, tzinfo=UTC),
        finished_at=datetime(2026, 1, 2, 3, 6, tzinfo=UTC),
        application_id=11,
        interaction_token="tok",
        interaction_expires_at=datetime(2026, 1, 2, 3, 19, tzinfo=UTC),
        progress_message_id=12,
        reply_to_message_id=13,
        result_message_id=14,
        parent_job_id="parent0001",
        locale="zh-CN",
        points_reserved=120,
        points_cost=90,
        debits=(user_debit(4, 120, max_images=50, max_points=1000), guild_debit(4, 120)),
        refunded=True,
        result=JobResult(
            images=(ResultImage("https://example.invalid/r1.png", seed=1, width=1024, height=576),),
            points_cost=90,
            blocked_count=1,
            account_balance=5000,
        ),
        failure_reason=FailureReason.AUDIT_REJECTED,
        failure_detail=Text("nope", {"n": 1}),
        percent=0.75,
        submit_attempts=2,
        not_before=datetime(2026, 1, 2, 3, 4, 30, tzinfo=UTC),
        fingerprint="f" * 64,
        parent_message_id=15,
        cancel_requested_at=datetime(2026, 1, 2, 3, 5, 30, tzinfo=UTC),
    )


async def test_every_job_field_round_trips(store: Store) -> None:
    job = fully_populated_job()
    defaults = make_job()
    for f in dataclasses.fields(Job):  # the sample must exercise every field (guards new fields)
        if f.name != "state":
            assert getattr(job, f.name) != getattr(defaults, f.name), f"sample job leaves {f.name} at its default"
    await enqueue_ok(store, job)
    loaded = await store.get_job(job.id)
    assert loaded == job
    assert loaded is not None
    assert isinstance(loaded.request.source_images, tuple)
    for name in (
        "created_at",
        "state_changed_at",
        "submitted_at",
        "finished_at",
        "interaction_expires_at",
        "cancel_requested_at",
    ):
        value = getattr(loaded, name)
        assert value.tzinfo is not None
        assert value.utcoffset() == timedelta(0)


async def test_minimal_job_round_trips_with_nones(store: Store) -> None:
    job = make_job(guild_id=None)
    await enqueue_ok(store, job)
    assert await store.get_job(job.id) == job
    assert await store.get_job("missing") is None


async def test_naive_datetimes_are_refused(store: Store) -> None:
    job = make_job()
    job.created_at = datetime(2026, 1, 1)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="naive"):
        await store.enqueue(job)
    assert await store.get_job(job.id) is None


async def test_enqueue_requires_a_queued_job(store: Store) -> None:
    with pytest.raises(ValueError, match="QUEUED"):
        await store.enqueue(make_job(state=JobState.RUNNING))


async def test_update_job_sets_fields_and_guards_store_owned_ones(store: Store) -> None:
    job = await enqueue_ok(store, make_job())
    when = datetime(2026, 5, 5, tzinfo=UTC)
    await store.update_job(job.id, progress_message_id=99, percent=0.5, not_before=when)
    await store.update_job(job.id)  # no-op
    loaded = await store.get_job(job.id)
    assert loaded is not None
    assert (loaded.progress_message_id, loaded.percent, loaded.not_before) == (99, 0.5, when)
    with pytest.raises(ValueError, match="state"):
        await store.update_job(job.id, state=JobState.RUNNING)
    with pytest.raises(ValueError, match="refunded"):
        await store.update_job(job.id, refunded=True)
    with pytest.raises(TypeError, match="bogus"):
        await store.update_job(job.id, bogus=1)


# -- transitions ------------------------------------------------------------------------------------

ALLOWED = [(src, dst) for src, targets in TRANSITIONS.items() for dst in sorted(targets)]
DISALLOWED = [(src, dst) for src in JobState for dst in JobState if dst not in TRANSITIONS[src]]


@pytest.mark.parametrize(("src", "dst"), ALLOWED, ids=[f"{s}->{d}" for s, d in ALLOWED])
async def test_every_allowed_transition(store: Store, src: JobState, dst: JobState) -> None:
    job = await walk(store, await enqueue_ok(store, make_job(created_at=T0)), src)
    moved = await store.transition(job.id, src, dst, failure_detail=Text("x"))
    assert moved is not None
    assert moved.state is dst
    assert moved.failure_detail == Text("x")
    assert moved.state_changed_at > T0
    assert (moved.finished_at is not None) == (dst in TERMINAL_STATES)
    assert await store.get_job(job.id) == moved


@pytest.mark.parametrize(("src", "dst"), DISALLOWED, ids=[f"{s}->{d}" for s, d in DISALLOWED])
async def test_disallowed_transition_raises(store: Store, src: JobState, dst: JobState) -> None:
    job = await enqueue_ok(store, make_job())
    with pytest.raises(InvalidTransitionError):
        await store.transition(job.id, src, dst)
    assert await store.get_job(job.id) == job


async def test_expected_set_must_allow_the_move_from_every_member(store: Store) -> None:
    job = await enqueue_ok(store, make_job())
    with pytest.raises(InvalidTransitionError):  # DELIVERING -> CANCELLED is not allowed
        await store.transition(job.id, (JobState.QUEUED, JobState.DELIVERING), JobState.CANCELLED)
    with pytest.raises(InvalidTransitionError):
        await store.transition(job.id, (), JobState.CANCELLED)
    moved = await store.transition(job.id, (JobState.QUEUED, JobState.RUNNING), JobState.CANCELLED)
    assert moved is not None
    assert moved.state is JobState.CANCELLED


async def test_transition_returns_none_when_state_differs(store: Store) -> None:
    job = await enqueue_ok(store, make_job())
    assert await store.transition(job.id, JobState.RUNNING, JobState.DELIVERING) is None
    assert await store.transition("missing", JobState.QUEUED, JobState.SUBMITTING) is None
    assert await store.get_job(job.id) == job


async def test_concurrent_transitions_exactly_one_wins(store: Store) -> None:
    job = await enqueue_ok(store, make_job())
    targets = [JobState.SUBMITTING, JobState.CANCELLED] * 5
    results = await asyncio.gather(*(store.transition(job.id, JobState.QUEUED, t) for t in targets))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    stored = await store.get_job(job.id)
    assert stored is not None
    assert stored.state is winners[0].state


async def test_transition_fields_and_explicit_timestamps(store: Store) -> None:
    job = await enqueue_ok(store, make_job())
    at = datetime(2030, 1, 1, tzinfo=UTC)
    moved = await store.transition(job.id, JobState.QUEUED, JobState.SUBMITTING, state_changed_at=at, submit_attempts=1)
    assert moved is not None
    assert (moved.state_changed_at, moved.submit_attempts, moved.finished_at) == (at, 1, None)
    with pytest.raises(ValueError, match="debits"):
        await store.transition(job.id, JobState.SUBMITTING, JobState.RUNNING, debits=())
    with pytest.raises(ValueError, match="settlement"):
        await store.transition(job.id, JobState.SUBMITTING, JobState.RUNNING, settlement=Settlement(1, 1))


# -- refunds and settlement -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "dst"),
    [
        (JobState.QUEUED, JobState.FAILED),
        (JobState.QUEUED, JobState.CANCELLED),
        (JobState.QUEUED, JobState.EXPIRED),
        (JobState.SUBMITTING, JobState.FAILED),
        (JobState.RUNNING, JobState.CANCELLED),
        (JobState.RUNNING, JobState.EXPIRED),
        (JobState.DELIVERING, JobState.FAILED),
    ],
)
async def test_failure_states_refund_exactly_once(store: Store, src: JobState, dst: JobState) -> None:
    earlier = make_job(debits=(user_debit(2, 10), guild_debit(2, 10)))
    await enqueue_ok(store, earlier)  # prior totals that must survive the refund
    job = make_job(debits=(user_debit(3, 40, max_images=10), guild_debit(3, 40, max_images=10)))
    await enqueue_ok(store, job)
    assert await store.get_usage("user", 1, DAY) == (5, 50)
    job = await walk(store, job, src)

    moved = await store.transition(job.id, src, dst, failure_reason=FailureReason.SERVICE_ERROR)
    assert moved is not None
    assert moved.refunded is True
    assert moved.failure_reason is FailureReason.SERVICE_ERROR
    assert await store.get_usage("user", 1, DAY) == (2, 10)
    assert await store.get_usage("guild", 100, DAY) == (2, 10)

    # A second attempt cannot move the job again, so it cannot refund again.
    assert await store.transition(job.id, src, dst) is None
    assert await store.transition(job.id, (JobState.QUEUED, JobState.RUNNING), JobState.CANCELLED) is None
    assert await store.get_usage("user", 1, DAY) == (2, 10)
    assert await store.get_usage("guild", 100, DAY) == (2, 10)


async def test_refund_never_goes_below_zero(backend: Backend, store: Store) -> None:
    job = await enqueue_ok(store, make_job(debits=(user_debit(3, 30),)))
    await backend.raw("UPDATE usage SET images = 1, points = 5")  # e.g. an admin lowered the counter meanwhile
    await store.transition(job.id, JobState.QUEUED, JobState.CANCELLED)
    assert await store.get_usage("user", 1, DAY) == (0, 0)


async def test_success_without_settlement_keeps_the_reservation(store: Store) -> None:
    job = await walk(store, await enqueue_ok(store, make_job(debits=(user_debit(2, 20),))), JobState.DELIVERING)
    done = await store.transition(job.id, JobState.DELIVERING, JobState.SUCCEEDED)
    assert done is not None
    assert done.refunded is False
    assert await store.get_usage("user", 1, DAY) == (2, 20)


async def test_settlement_adjusts_counters_to_actual(store: Store) -> None:
    other = await enqueue_ok(store, make_job(debits=(user_debit(1, 5), guild_debit(1, 5))))
    debits = (user_debit(4, 100, max_images=5, max_points=110), guild_debit(4, 100, max_images=5))
    job = await walk(store, await enqueue_ok(store, make_job(debits=debits)), JobState.DELIVERING)
    assert await store.get_usage("user", 1, DAY) == (5, 105)

    done = await store.transition(
        job.id, JobState.DELIVERING, JobState.SUCCEEDED, settlement=Settlement(images=3, points=80)
    )
    assert done is not None
    assert done.points_cost == 80
    assert [(d.images, d.points) for d in done.debits] == [(3, 80), (3, 80)]
    assert await store.get_usage("user", 1, DAY) == (4, 85)
    assert await store.get_usage("guild", 100, DAY) == (4, 85)
    assert await store.get_job(job.id) == done
    assert other.debits[0].images == 1


async def test_settlement_is_unchecked_above_the_limit(store: Store) -> None:
    job = await enqueue_ok(store, make_job(debits=(user_debit(2, 10, max_images=2, max_points=10),)))
    job = await walk(store, job, JobState.DELIVERING)
    await store.transition(job.id, JobState.DELIVERING, JobState.SUCCEEDED, settlement=Settlement(3, 25))
    assert await store.get_usage("user", 1, DAY) == (3, 25)


# -- LiblibAI's bill: a terminal move settles at it, exactly once ------------------------------------


@pytest.mark.parametrize(
    ("src", "dst"),
    [
        (JobState.RUNNING, JobState.FAILED),  # e.g. an audit-blocked batch, billed
        (JobState.RUNNING, JobState.EXPIRED),  # the bot stopped waiting: the estimate
        (JobState.DELIVERING, JobState.FAILED),  # billed, then not deliverable
    ],
)
async def test_a_billed_end_is_charged_the_bill_exactly_once(store: Store, src: JobState, dst: JobState) -> None:
    earlier = await enqueue_ok(store, make_job(debits=(user_debit(2, 10), guild_debit(2, 10))))
    job = make_job(debits=(user_debit(3, 40, max_images=10), guild_debit(3, 40, max_images=10)))
    job = await walk(store, await enqueue_ok(store, job), src)
    assert await store.get_usage("user", 1, DAY) == (5, 50)

    moved = await store.transition(job.id, src, dst, points_cost=25, failure_reason=FailureReason.AUDIT_REJECTED)
    assert moved is not None and moved.state is dst
    assert moved.refunded is False and moved.points_cost == 25
    assert [(d.images, d.points) for d in moved.debits] == [(3, 25), (3, 25)]  # images count as used
    assert await store.get_usage("user", 1, DAY) == (5, 35)
    assert await store.get_usage("guild", 100, DAY) == (5, 35)
    # No second terminal move, so no second settlement (nor a refund).
    assert await store.transition(job.id, src, dst) is None
    assert await store.transition(job.id, src, JobState.FAILED, points_cost=0) is None
    assert await store.get_usage("user", 1, DAY) == (5, 35)
    assert await store.get_job(job.id) == moved
    assert earlier.debits[0].points == 10


async def test_a_bill_recorded_before_the_end_settles_it_and_a_zero_bill_refunds(store: Store) -> None:
    billed = await walk(store, await enqueue_ok(store, make_job(debits=(user_debit(1, 8),))), JobState.RUNNING)
    free = await walk(store, await enqueue_ok(store, make_job(debits=(user_debit(1, 8),))), JobState.RUNNING)
    assert await store.get_usage("user", 1, DAY) == (2, 16)
    # LiblibAI's answer is recorded as the job leaves RUNNING; the end settles at it whatever ends it.
    await store.transition(billed.id, JobState.RUNNING, JobState.DELIVERING, points_cost=12)
    failed = await store.transition(billed.id, JobState.DELIVERING, JobState.FAILED)
    assert failed is not None and not failed.refunded and failed.points_cost == 12
    # LiblibAI billed nothing (pointsCost 0): refunded.
    refunded = await store.transition(free.id, JobState.RUNNING, JobState.FAILED, points_cost=0)
    assert refunded is not None and refunded.refunded
    assert await store.get_usage("user", 1, DAY) == (1, 12)


async def test_a_cancel_request_marks_a_running_job_once_and_guards_its_end(store: Store) -> None:
    queued = await enqueue_ok(store, make_job(debits=(user_debit(1, 8),)))
    assert await store.request_cancel(queued.id, JobState.RUNNING) is None  # not running: nothing marked
    job = await walk(store, await enqueue_ok(store, make_job(debits=(user_debit(2, 16),))), JobState.RUNNING)
    first = await store.request_cancel(job.id, JobState.RUNNING)
    assert first is not None and first.state is JobState.RUNNING and first.cancel_requested_at is not None
    again = await store.request_cancel(job.id, (JobState.RUNNING,))
    assert again is not None and again.cancel_requested_at == first.cancel_requested_at  # the first time stays
    assert await store.get_usage("user", 1, DAY) == (3, 24)  # nothing refunded yet: the task runs on
    with pytest.raises(ValueError, match="cancel_requested_at"):
        await store.update_job(job.id, cancel_requested_at=None)
    # A cancelled job never reaches DELIVERING; it ends CANCELLED, charged what LiblibAI billed.
    assert await store.transition(job.id, JobState.RUNNING, JobState.DELIVERING, when_cancel_requested=False) is None
    other = await walk(store, await enqueue_ok(store, make_job()), JobState.RUNNING)
    assert await store.transition(other.id, JobState.RUNNING, JobState.CANCELLED, when_cancel_requested=True) is None
    ended = await store.transition(
        job.id, JobState.RUNNING, JobState.CANCELLED, when_cancel_requested=True, points_cost=16
    )
    assert ended is not None and ended.state is JobState.CANCELLED and not ended.refunded
    assert await store.get_usage("user", 1, DAY) == (3, 24)
    assert await store.request_cancel(job.id, JobState.RUNNING) is None


async def finish_task(store: Store, job_id: str, cost: int) -> JobState | None:
    """What a poll does when the task ends (two dispatchers may both do it around a takeover)."""
    moved = await store.transition(
        job_id, JobState.RUNNING, JobState.DELIVERING, when_cancel_requested=False, points_cost=cost
    )
    if moved is None:
        moved = await store.transition(
            job_id, JobState.RUNNING, JobState.CANCELLED, when_cancel_requested=True, points_cost=cost
        )
    return moved.state if moved is not None else None


async def test_a_cancel_racing_the_task_end_across_stores_settles_once(backend: Backend) -> None:
    """A member's cancel (one process) against the task's end seen by two dispatchers (old and new, around a
    takeover): each job is either delivered (the cancel came too late) or cancelled and charged once."""
    async with AsyncExitStack() as stack:
        stores = [await stack.enter_async_context(backend.open()) for _ in range(3)]
        jobs = []
        for _ in range(8):
            job = await enqueue_ok(stores[0], make_job(debits=(user_debit(1, 8), guild_debit(1, 8))))
            jobs.append(await walk(stores[0], job, JobState.RUNNING))
        outcomes = await asyncio.gather(
            *(
                asyncio.gather(
                    stores[0].request_cancel(job.id, JobState.RUNNING),
                    finish_task(stores[1], job.id, 6),
                    finish_task(stores[2], job.id, 6),
                )
                for job in jobs
            )
        )
        for job, (request, *ends) in zip(jobs, outcomes, strict=True):
            stored = await stores[0].get_job(job.id)
            assert stored is not None and stored.points_cost == 6 and not stored.refunded
            assert [e for e in ends if e is not None] == [stored.state]  # one end, by one dispatcher
            if stored.state is JobState.CANCELLED:
                assert request is not None
            else:
                assert stored.state is JobState.DELIVERING and stored.cancel_requested_at is None
                await stores[1].transition(job.id, JobState.DELIVERING, JobState.SUCCEEDED, settlement=Settlement(1, 6))
        # Every job was billed 6 and settled at 6, once: cancelled or delivered alike.
        assert await stores[2].get_usage("user", 1, DAY) == (8, 48)
        assert await stores[2].get_usage("guild", 100, DAY) == (8, 48)


# -- atomic enqueue ---------------------------------------------------------------------------------


async def test_fifty_concurrent_enqueues_against_a_limit_of_ten(store: Store) -> None:
    jobs = [make_job(debits=(user_debit(1, max_images=10),)) for _ in range(50)]
    results = await asyncio.gather(*(store.enqueue(j) for j in jobs))
    outcomes = [r.outcome for r in results]
    assert outcomes.count(EnqueueOutcome.OK) == 10
    assert outcomes.count(EnqueueOutcome.QUOTA_EXCEEDED) == 40
    assert await store.get_usage("user", 1, DAY) == (10, 0)
    assert len(await store.list_jobs([JobState.QUEUED])) == 10
    refused = [r for r in results if r.outcome is EnqueueOutcome.QUOTA_EXCEEDED]
    assert all(r.failed_debit == jobs[0].debits[0] and r.used_images == 10 for r in refused)


async def test_fifty_concurrent_enqueues_across_three_stores(backend: Backend) -> None:
    """Three stores on one database (for PostgreSQL, three pools: as three processes would)."""
    async with AsyncExitStack() as stack:
        stores = [await stack.enter_async_context(backend.open()) for _ in range(3)]
        jobs = [make_job(debits=(user_debit(1, 2, max_images=10),)) for _ in range(50)]
        results = await asyncio.gather(*(stores[i % 3].enqueue(j) for i, j in enumerate(jobs)))
        outcomes = [r.outcome for r in results]
        assert outcomes.count(EnqueueOutcome.OK) == 10
        assert outcomes.count(EnqueueOutcome.QUOTA_EXCEEDED) == 40
        for each in stores:
            assert await each.get_usage("user", 1, DAY) == (10, 20)
            assert len(await each.list_jobs([JobState.QUEUED])) == 10


async def test_caps_hold_across_three_stores(backend: Backend) -> None:
    async with AsyncExitStack() as stack:
        stores = [await stack.enter_async_context(backend.open()) for _ in range(3)]
        mine = [make_job(user_id=7) for _ in range(12)]
        results = await asyncio.gather(*(stores[i % 3].enqueue(j, max_active_per_user=4) for i, j in enumerate(mine)))
        assert [r.outcome for r in results].count(EnqueueOutcome.OK) == 4
        assert await stores[0].count_active(7) == 4

        others = [make_job(user_id=100 + i) for i in range(12)]
        results = await asyncio.gather(*(stores[i % 3].enqueue(j, max_queued_total=9) for i, j in enumerate(others)))
        outcomes = [r.outcome for r in results]
        assert outcomes.count(EnqueueOutcome.OK) == 5  # 4 queued already
        assert outcomes.count(EnqueueOutcome.QUEUE_FULL) == 7
        assert len(await stores[1].list_jobs([JobState.QUEUED])) == 9


async def test_refunds_race_across_stores_refund_once(backend: Backend) -> None:
    async with AsyncExitStack() as stack:
        stores = [await stack.enter_async_context(backend.open()) for _ in range(3)]
        job = await enqueue_ok(stores[0], make_job(debits=(user_debit(2, 20), guild_debit(2, 20))))
        await enqueue_ok(stores[0], make_job(debits=(user_debit(1, 1), guild_debit(1, 1))))
        moves = [
            stores[i % 3].transition(job.id, JobState.QUEUED, (JobState.CANCELLED, JobState.FAILED)[i % 2])
            for i in range(9)
        ]
        results = await asyncio.gather(*moves)
        assert len([r for r in results if r is not None]) == 1
        assert await stores[2].get_usage("user", 1, DAY) == (1, 1)
        assert await stores[2].get_usage("guild", 100, DAY) == (1, 1)


async def test_user_and_guild_debits_roll_back_together(store: Store) -> None:
    await enqueue_ok(store, make_job(user_id=2, debits=(user_debit(1, 5, user_id=2), guild_debit(1, 5))))
    job = make_job(debits=(user_debit(1, 5, max_images=100), guild_debit(1, 5, max_images=1)))
    result = await store.enqueue(job)
    assert result.outcome is EnqueueOutcome.QUOTA_EXCEEDED
    assert result.failed_debit == job.debits[1]
    assert (result.used_images, result.used_points) == (1, 5)
    assert await store.get_usage("user", 1, DAY) == (0, 0)  # the user debit was rolled back
    assert await store.get_usage("guild", 100, DAY) == (1, 5)
    assert await store.get_job(job.id) is None


async def test_points_limit_and_fresh_counter_over_limit(store: Store) -> None:
    too_big = make_job(debits=(user_debit(5, max_images=4),))
    result = await store.enqueue(too_big)
    assert result.outcome is EnqueueOutcome.QUOTA_EXCEEDED
    assert (result.used_images, result.used_points) == (0, 0)
    assert await store.get_usage("user", 1, DAY) == (0, 0)

    await enqueue_ok(store, make_job(debits=(user_debit(1, 60, max_points=100),)))
    result = await store.enqueue(make_job(debits=(user_debit(1, 50, max_points=100),)))
    assert result.outcome is EnqueueOutcome.QUOTA_EXCEEDED
    assert (result.used_images, result.used_points) == (1, 60)
    await enqueue_ok(store, make_job(debits=(user_debit(1, 40, max_points=100),)))  # exactly at the limit
    assert await store.get_usage("user", 1, DAY) == (2, 100)


async def test_per_user_active_cap_under_concurrency(store: Store) -> None:
    jobs = [make_job(debits=(user_debit(1),)) for _ in range(10)]
    results = await asyncio.gather(*(store.enqueue(j, max_active_per_user=3) for j in jobs))
    ok = [j for j, r in zip(jobs, results, strict=True) if r.outcome is EnqueueOutcome.OK]
    refused = [r for r in results if r.outcome is not EnqueueOutcome.OK]
    assert len(ok) == 3
    assert all(r.outcome is EnqueueOutcome.TOO_MANY_ACTIVE and r.active_count == 3 for r in refused)
    assert await store.get_usage("user", 1, DAY) == (3, 0)  # refusals reserved nothing
    assert await store.count_active(1) == 3
    await enqueue_ok(store, make_job(user_id=2), max_active_per_user=3)  # other users unaffected

    await walk(store, ok[0], JobState.RUNNING)  # still active
    refused_again = await store.enqueue(make_job(), max_active_per_user=3)
    assert refused_again.outcome is EnqueueOutcome.TOO_MANY_ACTIVE
    await store.transition(ok[1].id, JobState.QUEUED, JobState.CANCELLED)
    await enqueue_ok(store, make_job(), max_active_per_user=3)


async def test_queue_cap(store: Store) -> None:
    first = await enqueue_ok(store, make_job(user_id=1), max_queued_total=2)
    await enqueue_ok(store, make_job(user_id=2), max_queued_total=2)
    full = await store.enqueue(make_job(user_id=3, debits=(user_debit(1, user_id=3),)), max_queued_total=2)
    assert full.outcome is EnqueueOutcome.QUEUE_FULL
    assert full.active_count == 2
    assert await store.get_usage("user", 3, DAY) == (0, 0)
    await store.transition(first.id, JobState.QUEUED, JobState.SUBMITTING)  # no longer queued
    await enqueue_ok(store, make_job(user_id=3), max_queued_total=2)


async def test_queue_position(store: Store) -> None:
    jobs = [make_job(user_id=i, created_at=T0 + timedelta(seconds=i)) for i in range(1, 4)]
    positions = [(await store.enqueue(j)).queue_position for j in jobs]
    assert positions == [1, 2, 3]
    await store.transition(jobs[0].id, JobState.QUEUED, JobState.SUBMITTING)
    assert (await store.enqueue(make_job(created_at=T0 + timedelta(seconds=10)))).queue_position == 3
    # created earlier than everything queued (e.g. a re-run keeping its time): first in line
    assert (await store.enqueue(make_job(created_at=T0))).queue_position == 1
    # same created_at: insertion order breaks the tie
    assert (await store.enqueue(make_job(created_at=T0))).queue_position == 2


# -- queries ----------------------------------------------------------------------------------------


async def test_points_charged_since_sums_charged_jobs_of_every_server(store: Store) -> None:
    assert await store.points_charged_since(T0) == (0, None)
    old = await enqueue_ok(store, make_job(created_at=T0 - timedelta(days=1)))
    a = await enqueue_ok(store, make_job(guild_id=100, created_at=T0 + timedelta(hours=1)))
    b = await enqueue_ok(store, make_job(guild_id=None, created_at=T0 + timedelta(hours=2)))
    await enqueue_ok(store, make_job(guild_id=200, created_at=T0 + timedelta(hours=3)))  # never charged
    for job, points in ((old, 99), (a, 29), (b, 58)):
        await store.update_job(job.id, points_cost=points)
    assert await store.points_charged_since(T0) == (87, T0 + timedelta(hours=1))
    assert await store.points_charged_since(T0 + timedelta(hours=2)) == (58, T0 + timedelta(hours=2))


async def test_list_jobs_ordering_and_filters(store: Store) -> None:
    a = await enqueue_ok(store, make_job(user_id=1, guild_id=100, created_at=T0 + timedelta(seconds=3)))
    b = await enqueue_ok(store, make_job(user_id=2, guild_id=100, created_at=T0 + timedelta(seconds=1)))
    c = await enqueue_ok(store, make_job(user_id=1, guild_id=None, created_at=T0 + timedelta(seconds=2)))
    d = await enqueue_ok(store, make_job(user_id=1, guild_id=200, created_at=T0))
    await walk(store, d, JobState.RUNNING)

    def ids(jobs: list[Job]) -> list[str]:
        return [j.id for j in jobs]

    assert ids(await store.list_jobs([JobState.QUEUED])) == [b.id, c.id, a.id]
    assert ids(await store.list_jobs([JobState.QUEUED], newest_first=True)) == [a.id, c.id, b.id]
    assert ids(await store.list_jobs([JobState.QUEUED, JobState.RUNNING])) == [d.id, b.id, c.id, a.id]
    assert ids(await store.list_jobs({JobState.RUNNING})) == [d.id]
    assert ids(await store.list_jobs([JobState.QUEUED], guild_id=100)) == [b.id, a.id]
    assert ids(await store.list_jobs(list(JobState), user_id=1)) == [d.id, c.id, a.id]
    assert ids(await store.list_jobs(list(JobState), user_id=1, guild_id=200)) == [d.id]
    assert ids(await store.list_jobs(list(JobState), limit=2, newest_first=True)) == [a.id, c.id]
    since = T0 + timedelta(seconds=2)
    assert ids(await store.list_jobs(list(JobState), created_since=since)) == [c.id, a.id]  # inclusive
    assert ids(await store.list_jobs([JobState.QUEUED], guild_id=100, created_since=since)) == [a.id]
    assert await store.list_jobs([]) == []
    assert await store.list_jobs([JobState.SUCCEEDED]) == []
    assert await store.list_jobs(list(JobState), limit=0) == []


async def test_count_active(store: Store) -> None:
    assert await store.count_active(1) == 0
    jobs = [await enqueue_ok(store, make_job()) for _ in range(4)]
    await enqueue_ok(store, make_job(user_id=2))
    await walk(store, jobs[0], JobState.DELIVERING)
    await store.transition(jobs[1].id, JobState.QUEUED, JobState.CANCELLED)
    assert await store.count_active(1) == 3
    assert await store.count_active(2) == 1


async def test_meta_get_set(store: Store) -> None:
    assert await store.get_meta("commands_digest") is None
    await store.set_meta("commands_digest", "abc")
    await store.set_meta("commands_digest", "def")
    await store.set_meta("other", "")
    assert await store.get_meta("commands_digest") == "def"
    assert await store.get_meta("other") == ""


# -- durability and lifecycle -----------------------------------------------------------------------


async def test_data_survives_a_restart(backend: Backend) -> None:
    job = make_job(debits=(user_debit(2, 7),))
    async with backend.open() as first:
        await enqueue_ok(first, job)
        await first.set_meta("k", "v")
        moved = await first.transition(job.id, JobState.QUEUED, JobState.SUBMITTING)
        # a second store on the same database sees committed writes at once
        async with backend.open() as second:
            assert await second.get_job(job.id) == moved
    async with backend.open() as restarted:
        assert await restarted.get_job(job.id) == moved
        assert await restarted.get_usage("user", 1, DAY) == (2, 7)
        assert await restarted.get_meta("k") == "v"


async def test_ping_and_close(backend: Backend) -> None:
    async with backend.open() as store:
        assert await store.ping() is True
        await store.close()
        await store.close()  # idempotent
        assert await store.ping() is False
        with pytest.raises(RuntimeError, match="closed"):
            await store.get_job("x")


# -- the lease -------------------------------------------------------------------------------------


async def test_the_lease_is_exclusive_exactly_when_processes_share_the_database(store: Store) -> None:
    lease = store.lease("dispatcher", ttl_seconds=30)
    assert await lease.acquire_or_renew("a") is not None
    assert await lease.acquire_or_renew("a") is not None  # a renewal
    assert (await lease.acquire_or_renew("b") is not None) is (not store.multi_process)
    await lease.release("a")
    assert await lease.acquire_or_renew("b") is not None
    await lease.release("b")


async def test_a_transition_fenced_by_a_superseded_lease_token_is_refused(store: Store) -> None:
    """A dispatcher deposed since it got its token (another holder took the lease over) cannot move a job,
    however late it tries; the current holder can. One process per database: nobody to fence out."""
    lease = store.lease("dispatcher", ttl_seconds=30)
    old = await lease.acquire_or_renew("a")
    assert old is not None
    await lease.release("a")  # (or its lease lapsed) and another process takes over
    current = await lease.acquire_or_renew("b")
    assert current is not None and current.holder == "b"
    first, second = make_job(), make_job()
    await enqueue_ok(store, first)
    await enqueue_ok(store, second)

    stale = await store.transition(first.id, JobState.QUEUED, JobState.SUBMITTING, fence=old, submit_attempts=1)
    assert (stale is None) is store.multi_process
    if store.multi_process:
        assert current.epoch > old.epoch
        unmoved = await store.get_job(first.id)
        assert unmoved is not None and unmoved.state is JobState.QUEUED and unmoved.submit_attempts == 0
    moved = await store.transition(second.id, JobState.QUEUED, JobState.SUBMITTING, fence=current)
    assert moved is not None and moved.state is JobState.SUBMITTING
    # A holder coming back later is a new acquisition: its first token stays superseded.
    await lease.release("b")
    again = await lease.acquire_or_renew("a")
    assert again is not None
    if store.multi_process:
        assert again.epoch > current.epoch
        assert await store.transition(first.id, JobState.QUEUED, JobState.SUBMITTING, fence=old) is None
    await lease.release("a")


# -- fingerprints -----------------------------------------------------------------------------------


async def finished(store: Store, state: JobState = JobState.SUCCEEDED, **changes: Any) -> Job:
    job = make_job(**changes)
    await enqueue_ok(store, job)
    current = await walk(store, job, JobState.DELIVERING)
    result = JobResult(images=(ResultImage("https://example.invalid/r.png", seed=1),))
    await store.update_job(job.id, result=result)
    moved = await store.transition(current.id, JobState.DELIVERING, state)
    assert moved is not None
    return moved


async def test_find_recent_by_fingerprint_picks_the_newest_succeeded_job_in_scope(store: Store) -> None:
    now = datetime.now(UTC)
    old = await finished(store, fingerprint="fp", created_at=now - timedelta(hours=3))
    newer = await finished(store, fingerprint="fp", created_at=now - timedelta(minutes=5))
    await finished(store, JobState.FAILED, fingerprint="fp", created_at=now - timedelta(minutes=1))
    await finished(store, fingerprint="fp", guild_id=999, created_at=now - timedelta(minutes=1))
    await finished(store, fingerprint="other", created_at=now)
    found = await store.find_recent_by_fingerprint("fp", since=now - timedelta(hours=4), guild_id=100)
    assert found is not None and found.id == newer.id
    found = await store.find_recent_by_fingerprint("fp", since=now - timedelta(hours=4), guild_id=100, user_id=2)
    assert found is None
    assert await store.find_recent_by_fingerprint("fp", since=now - timedelta(minutes=2), guild_id=100) is None
    assert old.fingerprint == "fp"
    dm = await finished(store, fingerprint="fp", guild_id=None, user_id=3)
    found = await store.find_recent_by_fingerprint("fp", since=now - timedelta(hours=1), guild_id=None, user_id=3)
    assert found is not None and found.id == dm.id
