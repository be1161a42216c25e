"""Shared by the job tests: a recording ResultSink, job factories, a runner against the simulator."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from bot.generation.families import make_submit_builder
from bot.jobs import JobRunner, Progress
from bot.liblib import LiblibClient
from bot.liblib.simulator import DEV_ACCESS_KEY, DEV_SECRET_KEY, Simulator
from bot.media.codec import ImageFile
from bot.media.workers import open_image_workers
from bot.models import GenerationRequest, Job, JobResult, UsageDebit
from bot.ops.metrics import Metrics
from bot.settings import ImageSettings, LiblibSettings, QueueSettings, Settings, SimulatorSettings
from bot.storage import Store, open_store


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
        points_reserved=debit.points,
    )


Parts = tuple[Simulator, Store, RecordingSink, JobRunner, QueueSettings]


@contextlib.asynccontextmanager
async def open_parts(
    tmp_path: Path,
    *,
    liblib: dict[str, Any] | None = None,
    queue: dict[str, Any] | None = None,
    metrics: Metrics | None = None,
) -> AsyncIterator[Parts]:
    """The simulator, a SQLite store, a recording sink and a (not started) runner wired to them."""
    sim_settings = SimulatorSettings(port=0, queued_seconds=0.02, running_seconds=0.05, auditing_seconds=0.02)
    async with Simulator(sim_settings, submit_per_second=20, max_concurrent=5) as sim:
        liblib_settings = LiblibSettings(
            base_url=sim.base_url,
            access_key=DEV_ACCESS_KEY,
            secret_key=DEV_SECRET_KEY,
            submit_per_second=20,
            poll_interval_min=0.02,
            poll_interval_max=0.05,
            **(liblib or {}),
        )
        async with (
            LiblibClient(liblib_settings) as client,
            open_store(f"sqlite:///{tmp_path}/t.db") as store,
            open_image_workers(ImageSettings(workers=1)) as images,
        ):
            sink = RecordingSink()
            queue_settings = QueueSettings(**({"queued_deadline": 60, "delivering_deadline": 60} | (queue or {})))
            runner = JobRunner(
                store,
                client,
                sink,
                make_submit_builder(Settings()),
                queue_settings,
                images=images,
                watchdog_interval=3600,
                metrics=metrics,
            )
            yield sim, store, sink, runner, queue_settings


async def wait_for(predicate: Callable[[], Awaitable[bool]], what: str, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if await predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")
