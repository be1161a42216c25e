"""JobRunner rules without Discord: deadlines, unknown submit outcomes, cancellation. Real SQLite + simulator."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from bot.delivery import ImageFile, Progress
from bot.errors import JobNotCancellableError, NotJobOwnerError
from bot.generation import make_submit_builder
from bot.jobs import JobRunner, JobService
from bot.liblib import LiblibClient
from bot.liblib.simulator import DEV_ACCESS_KEY, DEV_SECRET_KEY, Simulator
from bot.models import FailureReason, GenerationRequest, Job, JobResult, JobState, UsageDebit, utcnow
from bot.scheduling import FairQueue
from bot.settings import LiblibSettings, QueueSettings, Settings, SimulatorSettings
from bot.storage import open_store


class RecordingSink:
    """A hand-written ResultSink that records what the member would be shown."""

    def __init__(self) -> None:
        self.progress_calls: list[tuple[str, Progress]] = []
        self.delivered: list[tuple[str, int]] = []
        self.failures: list[Job] = []

    async def progress(self, job: Job, progress: Progress) -> None:
        self.progress_calls.append((job.id, progress))

    async def deliver(self, job: Job, result: JobResult, images: list[ImageFile]) -> int | None:
        self.delivered.append((job.id, len(images)))
        return 42

    async def notify_failure(self, job: Job) -> None:
        self.failures.append(job)


def new_job(job_id: str, user: int = 1) -> Job:
    debit = UsageDebit(scope="user", scope_id=user, window="day:x", images=1, points=8, max_images=10)
    return Job(
        id=job_id,
        user_id=user,
        channel_id=5,
        guild_id=9,
        request=GenerationRequest(mode="star3", prompt="fox"),
        debits=(debit,),
    )


@pytest.fixture
async def parts(tmp_path: Path):
    sim_settings = SimulatorSettings(port=0, queued_seconds=0.02, running_seconds=0.05, auditing_seconds=0.02)
    async with Simulator(sim_settings, submit_per_second=20, max_concurrent=5) as sim:
        liblib = LiblibSettings(
            base_url=sim.base_url,
            access_key=DEV_ACCESS_KEY,
            secret_key=DEV_SECRET_KEY,
            submit_per_second=20,
            poll_interval_min=0.02,
            poll_interval_max=0.05,
        )
        async with LiblibClient(liblib) as client, open_store(f"sqlite:///{tmp_path}/t.db") as store:
            sink = RecordingSink()
            queue = QueueSettings(queued_deadline=60, delivering_deadline=60)
            runner = JobRunner(store, client, sink, make_submit_builder(Settings()), queue, watchdog_interval=3600)
            yield sim, store, sink, runner, queue


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


async def test_job_left_submitting_by_a_crash_is_failed_and_refunded_not_resubmitted(parts) -> None:
    sim, store, sink, runner, _queue = parts
    await store.enqueue(new_job("crashed"))
    await store.transition("crashed", JobState.QUEUED, JobState.SUBMITTING)
    await runner.start()
    await runner.stop()
    job = await store.get_job("crashed")
    assert job is not None and job.state is JobState.FAILED and job.refunded
    assert job.failure_reason is FailureReason.SUBMIT_UNKNOWN
    assert sink.failures and "outcome is unknown" in (sink.failures[0].failure_detail or "")
    assert sim.counters.submit_requests == 0


async def test_queued_job_runs_to_success_and_settles_actual_cost(parts) -> None:
    sim, store, sink, runner, queue = parts
    service = JobService(store, queue, FairQueue(), runner.wake)
    await runner.start()
    try:
        await service.enqueue(new_job("ok"))
        for _ in range(200):
            job = await store.get_job("ok")
            if job is not None and job.state is JobState.SUCCEEDED:
                break
            await asyncio.sleep(0.02)
    finally:
        await runner.stop()
    assert job is not None and job.state is JobState.SUCCEEDED and job.result_message_id == 42
    assert sink.delivered == [("ok", 1)]
    assert sim.counters.submits == 1
    assert await store.get_usage("user", 1, "day:x") == (1, job.points_cost)


async def test_cancel_refunds_once_and_refuses_strangers(parts) -> None:
    _sim, store, _sink, runner, queue = parts
    service = JobService(store, queue, FairQueue(), runner.wake)
    await store.enqueue(new_job("c"))
    with pytest.raises(NotJobOwnerError):
        await service.cancel("c", actor_id=999, is_admin=False)
    cancelled = await service.cancel("c", actor_id=1, is_admin=False)
    assert cancelled.state is JobState.CANCELLED and cancelled.refunded
    assert await store.get_usage("user", 1, "day:x") == (0, 0)
    with pytest.raises(JobNotCancellableError, match="no longer be cancelled"):
        await service.cancel("c", actor_id=1, is_admin=False)


async def test_concurrent_position_queries_share_one_listing_and_never_answer_stale(parts, monkeypatch) -> None:
    _sim, store, _sink, runner, queue = parts
    service = JobService(store, queue, FairQueue(), runner.wake)
    for i in range(30):
        await service.enqueue(new_job(f"j{i}", user=100 + i), wake=False)
    listings = 0
    real_list = store.list_jobs

    async def counting(states):
        nonlocal listings
        listings += 1
        return await real_list(states)

    monkeypatch.setattr(store, "list_jobs", counting)
    positions = await asyncio.gather(*(service.position(f"j{i}") for i in range(30)))
    assert positions == list(range(1, 31))
    assert listings == 1  # not one per caller: a burst would be quadratic
    await store.transition(
        "j0", JobState.QUEUED, JobState.CANCELLED, failure_reason=FailureReason.CANCELLED, failure_detail="x"
    )
    assert await service.position("j1") == 1  # a later call lists again
    assert await service.position("j0") is None
    assert listings == 3


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
        await runner._next_job()
    gate.set()
    for _ in range(50):
        await asyncio.sleep(0.01)
    assert len(sink.progress_calls) == 5  # one report of five positions, not three
    await runner._next_job()  # the next pass after it finished reports again
    for _ in range(50):
        await asyncio.sleep(0.01)
    assert len(sink.progress_calls) == 10
