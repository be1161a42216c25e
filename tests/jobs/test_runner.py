"""JobRunner rules without Discord: deadlines, unknown submit outcomes, cancellation. Real SQLite + simulator."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from bot.errors import JobNotCancellableError, NotJobOwnerError
from bot.generation.families import make_submit_builder
from bot.i18n import Text
from bot.jobs.leadership import LeaderElector
from bot.jobs.runner import JobRunner, JobService
from bot.jobs.scheduling import FairQueue
from bot.jobs.sink import ImageFile, Progress
from bot.liblib import LiblibClient
from bot.liblib.simulator import DEV_ACCESS_KEY, DEV_SECRET_KEY, Simulator
from bot.models import FailureReason, GenerationRequest, Job, JobResult, JobState, UsageDebit, utcnow
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
    assert sink.failures and "outcome is unknown" in str(sink.failures[0].failure_detail or "")
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
        "j0", JobState.QUEUED, JobState.CANCELLED, failure_reason=FailureReason.CANCELLED, failure_detail=Text("x")
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


class FlipLease:
    """Held while ``held`` is true (no contender needed); counts releases."""

    def __init__(self) -> None:
        self.held = True
        self.releases = 0

    async def acquire_or_renew(self, holder_id: str) -> bool:
        return self.held

    async def release(self, holder_id: str) -> None:
        self.releases += 1


def led_runner(parts, lease: FlipLease) -> JobRunner:
    _sim, store, sink, runner, queue = parts
    elector = LeaderElector(lease, "me", ttl_seconds=0.3, interval=0.05)
    return JobRunner(
        store, runner._client, sink, make_submit_builder(Settings()), queue, watchdog_interval=3600, elector=elector
    )


async def wait_for(predicate, what: str, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if await predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_failed_resume_gives_the_lease_up_and_the_next_election_round_retries(parts, monkeypatch) -> None:
    sim, store, _sink, _runner, _queue = parts
    lease = FlipLease()
    runner = led_runner(parts, lease)
    await store.enqueue(new_job("after-hiccup"))
    real_list = store.list_jobs
    failures = 1

    async def flaky(states):
        nonlocal failures
        if list(states) == [JobState.SUBMITTING] and failures:  # the first step of resuming
            failures -= 1
            raise OSError("database connection lost")
        return await real_list(states)

    async def succeeded() -> bool:
        job = await store.get_job("after-hiccup")
        return job is not None and job.state is JobState.SUCCEEDED

    monkeypatch.setattr(store, "list_jobs", flaky)
    await runner.start()
    try:
        await wait_for(succeeded, "the job to succeed after the failed resume")  # a later round dispatched it
        assert failures == 0 and lease.releases == 1  # the failed round let the lease go
    finally:
        await runner.stop()
    assert sim.counters.submits == 1


async def test_losing_the_lease_frees_the_task_slots_of_the_stopped_polls(parts) -> None:
    sim, store, _sink, _runner, queue = parts
    client = _runner._client
    sim.set_durations(0.02, 30.0, 0.02)  # still running when the lease is lost
    lease = FlipLease()
    runner = led_runner(parts, lease)
    service = JobService(store, queue, FairQueue(), runner.wake)

    async def running() -> bool:
        job = await store.get_job("long")
        return job is not None and job.state is JobState.RUNNING

    async def stepped_down() -> bool:
        return not runner.is_dispatcher

    await runner.start()
    try:
        await service.enqueue(new_job("long"))
        await wait_for(running, "the job to run")
        assert client.active_tasks == 1
        # Meanwhile the job moves on elsewhere (here: cancelled), then this process loses the lease.
        await service.cancel("long", actor_id=1, is_admin=False)
        lease.held = False
        await wait_for(stepped_down, "the runner to stop dispatching")
        assert client.active_tasks == 0  # a later term as dispatcher starts with every slot free
    finally:
        await runner.stop()


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
    await runner._deliver(listed)
    assert sink.delivered == []
