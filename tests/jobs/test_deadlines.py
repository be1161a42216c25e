"""The deadline watchdog: a job stuck past its state's deadline fails with a message and a refund, and nothing
still under way (a submit in flight, a delivery) is failed; a dispatcher that is not sure it leads does nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.generation.families import make_submit_builder
from bot.jobs import JobRunner
from bot.jobs.leadership import LeaderElector
from bot.liblib import LiblibClient
from bot.models import FailureReason, JobState, utcnow
from bot.settings import Settings
from bot.storage import Store
from bot.storage.sqlite import SingleProcessLease
from tests.jobs.helpers import new_job, open_parts, wait_for


async def is_state(store: Store, job_id: str, state: JobState) -> bool:
    job = await store.get_job(job_id)
    return job is not None and job.state is state


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


async def state_of(store: Store, job_id: str) -> JobState | None:
    job = await store.get_job(job_id)
    return job.state if job is not None else None


async def test_the_watchdog_never_fails_a_submit_still_in_flight(tmp_path: Path) -> None:
    async with open_parts(tmp_path, queue={"submitting_deadline": 0.1}) as (sim, store, sink, runner, _queue):
        sim.inject("slow", route="submit", value=1.0)
        await store.enqueue(new_job("slow"))
        await runner.start()
        try:
            await wait_for(lambda: is_state(store, "slow", JobState.SUBMITTING), "the submit to be in flight")
            await runner.enforce_deadlines(utcnow() + timedelta(minutes=5))  # far past the submitting deadline
            assert await state_of(store, "slow") is JobState.SUBMITTING
            await wait_for(lambda: is_state(store, "slow", JobState.SUCCEEDED), "the slow submit to succeed")
        finally:
            await runner.stop()
        assert sink.failures == [] and [job_id for job_id, _n in sink.delivered] == ["slow"]
        assert sim.counters.submits == 1
        assert runner._client.active_tasks == 0  # its slot was freed when the task ended


async def test_a_task_whose_job_was_failed_mid_submit_frees_its_slot_when_it_ends(tmp_path: Path) -> None:
    # One slot: a leaked one would stop every later submit for good.
    async with open_parts(tmp_path, liblib={"max_concurrent_tasks": 1}) as (sim, store, sink, runner, _queue):
        sim.inject("slow", route="submit", value=0.5)
        await store.enqueue(new_job("lost"))
        await runner.start()
        try:
            await wait_for(lambda: is_state(store, "lost", JobState.SUBMITTING), "the submit to be in flight")
            # Meanwhile it is failed elsewhere (another dispatcher's resume, say) while its request goes on.
            assert await store.transition("lost", JobState.SUBMITTING, JobState.FAILED) is not None
            await store.enqueue(new_job("next", user=2))
            await wait_for(lambda: is_state(store, "next", JobState.SUCCEEDED), "the next job to get the slot")
        finally:
            await runner.stop()
        lost = await store.get_job("lost")
        assert lost is not None and lost.state is JobState.FAILED and lost.generate_uuid is None
        assert [job_id for job_id, _n in sink.delivered] == ["next"]
        assert sim.counters.submits == 2 and sim.counters.concurrency_violations == 0
        assert runner._client.active_tasks == 0


async def test_the_watchdog_leaves_a_delivery_in_progress(tmp_path: Path) -> None:
    async with open_parts(tmp_path, queue={"delivering_deadline": 0.1}) as (sim, store, sink, runner, _queue):
        sim.inject("slow", route="image", value=1.0)
        await store.enqueue(new_job("posting"))
        await runner.start()
        try:
            await wait_for(lambda: is_state(store, "posting", JobState.DELIVERING), "the delivery to start")
            await runner.enforce_deadlines(utcnow() + timedelta(minutes=30))
            assert await state_of(store, "posting") is JobState.DELIVERING
            await wait_for(lambda: is_state(store, "posting", JobState.SUCCEEDED), "the delivery to finish")
        finally:
            await runner.stop()
        job = await store.get_job("posting")
        assert job is not None and not job.refunded and sink.failures == []


async def test_a_poll_the_watchdog_restarts_holds_its_task_slot(tmp_path: Path) -> None:
    async with open_parts(tmp_path, liblib={"max_concurrent_tasks": 1}) as (sim, store, _sink, runner, _queue):
        sim.set_durations(0.02, 30.0, 0.02)  # still running while the test looks
        # A task submitted by another process (or before a restart) whose job has no poll here.
        async with LiblibClient(runner._client.settings) as elsewhere:
            generate_uuid = await elsewhere.submit(make_submit_builder(Settings())(new_job("x").request))
        job = new_job("orphan")
        await store.enqueue(job)
        await store.transition(job.id, JobState.QUEUED, JobState.SUBMITTING)
        await store.transition(job.id, JobState.SUBMITTING, JobState.RUNNING, generate_uuid=generate_uuid)
        try:
            await runner.enforce_deadlines(utcnow())
            assert runner._poller.is_polling("orphan")
            assert runner._client.active_tasks == 1 and runner._client.free_slots == 0  # no submit beside it
        finally:
            await runner.stop()


async def test_a_dispatcher_whose_lease_lapsed_unnoticed_enforces_nothing(tmp_path: Path) -> None:
    async with open_parts(tmp_path) as (_sim, store, sink, runner, queue):
        now = [0.0]
        elector = LeaderElector(SingleProcessLease(), "me", ttl_seconds=3, interval=1, monotonic=lambda: now[0])
        led = JobRunner(
            store,
            runner._client,
            sink,
            make_submit_builder(Settings()),
            queue,
            images=runner._deliverer._images,
            watchdog_interval=3600,
            elector=elector,
        )
        await store.enqueue(new_job("late"))
        assert await elector.step()
        now[0] = 3.0  # the renewal due by now never came back (a stalled election loop): not leading any more
        await led.enforce_deadlines(utcnow() + timedelta(hours=2))
        assert await state_of(store, "late") is JobState.QUEUED and sink.failures == []
        now[0] = 0.0  # (while it leads, the same pass expires it)
        await led.enforce_deadlines(utcnow() + timedelta(hours=2))
        assert await state_of(store, "late") is JobState.EXPIRED
