"""Polling: one task per RUNNING job, following its LiblibAI task by generateUuid until it has a result.

A poll reports progress, enforces ``running_deadline`` (the job then expires, charged the estimate: its task
exists and may still be billed; but only after the task was asked ``LEAST_STATUS_QUERIES`` times: a task
resumed after a long downtime gets a few tries through a status hiccup), and moves a finished job to
DELIVERING with LiblibAI's bill. A job its member cancelled is followed all the same (its task holds a slot
and is billed until it ends there), silently, and then ends CANCELLED with that bill. Losing the dispatcher
lease cancels the polls and frees their task slots; the next dispatcher adopts the tasks by their stored
generateUuid. A task whose job left SUBMITTING while its submit was in flight is followed too, only to hold
its slot until it ends (``follow_lost``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from bot import liblib
from bot.generation.families import family_of
from bot.i18n import N_, Text
from bot.jobs._parts import RunnerPart, RunnerParts
from bot.jobs._tasks import cancel_all
from bot.jobs.events import bill_after, billed, failure_for, log_job_event
from bot.jobs.progress import ProgressGauge
from bot.jobs.sink import Progress, Stage
from bot.models import FailureReason, Job, JobResult, JobState, ResultImage, ResultVideo, utcnow
from bot.settings import QueueSettings

log = logging.getLogger(__name__)

_STAGES = {1: Stage.WAITING, 2: Stage.GENERATING, 3: Stage.AUDITING, 4: Stage.AUDITING}
# A task is asked for its status at least this many times (with backoff) before running_deadline ends its
# job: one resumed after a downtime longer than the deadline may well have finished, and been charged.
LEAST_STATUS_QUERIES = 4


class Poller(RunnerPart):
    def __init__(
        self,
        parts: RunnerParts,
        settings: QueueSettings,
        *,
        on_result: Callable[[Job], None],
    ) -> None:
        super().__init__(parts)
        self._settings = settings
        self._on_result = on_result  # a job just moved to DELIVERING
        self._polls: dict[str, asyncio.Task[None]] = {}
        self._uuids: dict[str, str] = {}  # job id -> generateUuid of each poll above

    def is_polling(self, job_id: str) -> bool:
        return job_id in self._polls

    def spawn(self, job: Job) -> None:
        """Poll a job this process just submitted (its task already holds a slot here)."""
        if job.generate_uuid is None:
            raise RuntimeError(f"job {job.id} is running without a generateUuid")
        self._track(job.id, job.generate_uuid, self._poll(job))

    def resume(self, job: Job) -> None:
        """Poll a RUNNING job submitted earlier or elsewhere (a restart, a takeover, a poll that ended
        unexpectedly): its task is counted in the account's slots first, like every other."""
        if job.generate_uuid is None:
            raise RuntimeError(f"job {job.id} is running without a generateUuid")
        self._client.adopt(job.generate_uuid)
        self.spawn(job)

    def follow_lost(self, job: Job, generate_uuid: str) -> None:
        """Follow a task whose job stopped waiting for it while its submit was in flight (failed or cancelled
        meanwhile): LiblibAI counts it until it ends, so its slot is held until then, and freed then."""
        family = family_of(job.request.mode)

        async def follow() -> None:
            try:
                await self._client.wait_for(family, generate_uuid, timeout=self._settings.running_deadline)
                log.info("job %s: its lost task %s has ended", job.id, generate_uuid)
            except liblib.LiblibError as exc:
                log.info("job %s: its lost task %s has ended (%s)", job.id, generate_uuid, type(exc).__name__)
            finally:
                self._client.release(generate_uuid)

        self._track(job.id, generate_uuid, follow())

    def _track(self, job_id: str, generate_uuid: str, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro, name=f"poll-{job_id}")
        self._polls[job_id] = task
        self._uuids[job_id] = generate_uuid

        def forget(_task: asyncio.Task[None]) -> None:
            if self._polls.get(job_id) is _task:
                self._polls.pop(job_id, None)
                self._uuids.pop(job_id, None)

        task.add_done_callback(forget)

    @property
    def tasks(self) -> list[asyncio.Task[None]]:
        return list(self._polls.values())

    async def hand_over(self) -> None:
        """Cancel this process's polls and free their task slots (the next dispatcher adopts the tasks)."""
        uuids = [self._uuids[job_id] for job_id in self._polls if job_id in self._uuids]
        await cancel_all(self._polls.values())
        for generate_uuid in uuids:
            self._client.release(generate_uuid)

    async def _poll(self, job: Job) -> None:
        if job.generate_uuid is None:
            raise RuntimeError(f"job {job.id} is running without a generateUuid")
        family = family_of(job.request.mode)
        started = job.submitted_at or job.state_changed_at
        deadline = self._settings.running_deadline - (utcnow() - job.state_changed_at).total_seconds()
        # The bar: LiblibAI's percent where it reports one, else the family's learned duration (never backwards).
        gauge = ProgressGauge(lambda: self._client.estimated_duration(family))

        async def on_progress(status: liblib.TaskStatus) -> None:
            current = await self._store.get_job(job.id)
            if current is None or current.state is not JobState.RUNNING or current.cancel_requested:
                return  # cancelled: the task runs on at LiblibAI (no cancel API), but the member saw "Cancelled"
            stage = _STAGES.get(status.generate_status, Stage.GENERATING)
            elapsed = (utcnow() - started).total_seconds()
            reading = gauge.read(elapsed, status.progress)
            progress = Progress(stage, percent=reading.fraction, elapsed=elapsed, eta=reading.remaining)
            await self._sink.progress(job, progress)

        try:
            # The client polls on through transient status errors until the deadline (and learns durations).
            task = await self._client.wait_for(
                family,
                job.generate_uuid,
                on_progress=on_progress,
                timeout=max(1.0, deadline),
                min_queries=LEAST_STATUS_QUERIES,
            )
        except asyncio.CancelledError:
            raise
        except liblib.GenerationWaitTimeoutError as exc:  # running_deadline passed (not LiblibAI's own timeout)
            # A status outage that lasted to the deadline is chained as the cause: count it (/healthz, metrics).
            self._metrics.liblib_error(exc.__cause__ if isinstance(exc.__cause__, liblib.LiblibError) else exc)
            self._client.release(job.generate_uuid)
            # The task exists and its bill is unknown: it is charged the estimate, never nothing.
            await self._failer.fail(
                job,
                (JobState.RUNNING,),
                FailureReason.DEADLINE,
                Text(N_("The image service took too long, so the bot stopped waiting for it.")),
                expired=True,
                points_cost=billed(job, None),
            )
            return
        except liblib.LiblibError as exc:
            self._metrics.liblib_error(exc)
            self._client.release(job.generate_uuid)
            reason, detail = failure_for(exc)
            await self._failer.fail(job, (JobState.RUNNING,), reason, detail, points_cost=bill_after(job, exc))
            return
        self._metrics.generation_finished((utcnow() - started).total_seconds())
        cost = billed(job, task.points_cost)
        result = JobResult(
            images=tuple(ResultImage(url=i.image_url, seed=i.seed) for i in task.images),
            points_cost=cost,
            # LiblibAI leaves blocked images out of the answer: count what is missing from the batch.
            blocked_count=max(task.blocked_count, job.request.count - len(task.images) - len(task.videos)),
            account_balance=task.account_balance,
            simulated=self._client.simulated or job.request.simulated,
            videos=tuple(ResultVideo(url=v.video_url, cover_url=v.cover_path) for v in task.videos),
        )
        delivering = await self._store.transition(
            job.id,
            JobState.RUNNING,
            JobState.DELIVERING,
            when_cancel_requested=False,
            result=result,
            points_cost=cost,
            percent=1.0,
        )
        if delivering is None:
            # Cancelled by its member (else moved on elsewhere): charged, and the result stays hidden.
            if await self._failer.finish_cancelled(job, points_cost=cost, result=result) is None:
                log_job_event(job, "result_discarded", reason="job no longer running")
            return
        self._on_result(delivering)
