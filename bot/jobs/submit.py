"""Submitting: the fair loop that hands queued jobs to LiblibAI, within the account's task slots.

A job is submitted at most once: it enters SUBMITTING before the request and leaves it only with a stored
generateUuid (RUNNING), a provable non-submit (back to QUEUED, a little later) or a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import timedelta

from bot import liblib
from bot.backoff import retry_delay
from bot.generation.families import SubmitBuilder
from bot.i18n import N_, Text
from bot.jobs._parts import RunnerPart, RunnerParts
from bot.jobs._tasks import TaskSet
from bot.jobs.events import failure_for, log_job_event
from bot.jobs.leadership import LeaderElector
from bot.jobs.scheduling import FairQueue
from bot.jobs.sink import Progress, Stage
from bot.models import FailureReason, Job, JobState, utcnow

log = logging.getLogger(__name__)

# A submit refused before it reached LiblibAI goes back to the queue after this backoff (or the server's hint).
REQUEUE_BASE = 2.0
REQUEUE_CAP = 30.0
# The loop's own hiccups (the store or the adapter failing unexpectedly).
LOOP_ERROR_BASE = 1.0
LOOP_ERROR_CAP = 30.0
IDLE_WAIT = 1.0  # seconds between looks at the queue when nothing wakes the loop


class Submitter(RunnerPart):
    def __init__(
        self,
        parts: RunnerParts,
        build_submit: SubmitBuilder,
        fair: FairQueue,
        tasks: TaskSet,
        *,
        elector: LeaderElector | None,
        on_running: Callable[[Job], None],
        estimated_wait: Callable[[int], float],
        accepting: Callable[[], bool],
    ) -> None:
        super().__init__(parts)
        self._build_submit = build_submit
        self._fair = fair
        self._tasks = tasks
        self._elector = elector
        self._on_running = on_running  # a job just got its generateUuid: poll it
        self._estimated_wait = estimated_wait
        self._accepting = accepting  # False once the runner stops: never submit after that
        self._wake = asyncio.Event()
        self._reporting: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        errors = 0  # consecutive
        while self._accepting():
            try:
                await self._client.wait_for_capacity()
                job = await self.next_job()
                if job is None:
                    self._wake.clear()
                    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that coincides
                    # with the wake-up, and the loop would outlive the runner's stop.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(IDLE_WAIT):
                            await self._wake.wait()
                else:
                    await self.submit(job)
                errors = 0
            except asyncio.CancelledError:
                raise
            except Exception:
                # A store or adapter hiccup must not kill the only submitter; jobs stay durable meanwhile.
                errors += 1
                delay = retry_delay(errors, None, base=LOOP_ERROR_BASE, cap=LOOP_ERROR_CAP)
                log.exception("submit loop error; retrying in %.1f s", delay)
                await asyncio.sleep(delay)

    async def next_job(self) -> Job | None:
        """The next job to submit (fair order), reporting every queued job's position on the way."""
        queued = await self._store.list_jobs([JobState.QUEUED])
        ready = self._fair.order(queued, now=utcnow())
        if queued and (self._reporting is None or self._reporting.done()):
            # One report at a time: over a long queue a report outlasts a pass of the loop, and piling
            # them up would edit every member's message several times over.
            self._reporting = self._tasks.spawn(self._report_positions(queued))
        return ready[0] if ready else None

    async def _report_positions(self, queued: list[Job]) -> None:
        position = 0
        for job in self._fair.order(queued):
            # ``queued`` is a snapshot and each edit takes a while: a job cancelled, expired or submitted since
            # must not get "Queued — position N" written over what its message says now.
            current = await self._store.get_job(job.id)
            if current is None or current.state is not JobState.QUEUED:
                continue
            position += 1
            await self._sink.progress(
                current, Progress(Stage.QUEUED, position=position, eta=self._estimated_wait(position))
            )

    async def submit(self, job: Job) -> None:
        moved = await self._store.transition(
            job.id, JobState.QUEUED, JobState.SUBMITTING, submit_attempts=job.submit_attempts + 1
        )
        if moved is None:
            return  # cancelled or expired meanwhile
        job = moved
        self._fair.mark_served(job.user_id)
        await self._sink.progress(job, Progress(Stage.SUBMITTING))
        if self._elector is not None and not self._elector.is_leader:
            # The lease lapsed since this loop started: never submit without it.
            await self._store.transition(job.id, JobState.SUBMITTING, JobState.QUEUED)
            return
        try:
            request = self._build_submit(job.request)
            generate_uuid = await self._client.submit(request)
        except (liblib.LiblibRateLimitError, liblib.LiblibConcurrencyError) as exc:
            self._metrics.liblib_error(exc)
            # The API refused before creating a task: safe to queue again, a little later.
            log.info("job %s: submit refused (%s); re-queued", job.id, type(exc).__name__)
            await self._requeue(job, exc.retry_after)
            return
        except liblib.LiblibConnectionError as exc:
            self._metrics.liblib_error(exc)
            if not exc.reached_server:
                await self._requeue(job, None)
                return
            await self._fail(
                job,
                FailureReason.SUBMIT_UNKNOWN,
                Text(
                    N_(
                        "The image service did not confirm the job in time, so it was not retried "
                        "(that could charge twice). Your quota was refunded; please try again."
                    )
                ),
            )
            return
        except liblib.LiblibError as exc:
            self._metrics.liblib_error(exc)
            await self._fail(job, *failure_for(exc))
            return
        except Exception:
            log.exception("job %s: unexpected error while submitting", job.id)
            await self._fail(job, FailureReason.SERVICE_ERROR, Text(N_("Something went wrong while submitting.")))
            return
        running = await self._store.transition(
            job.id, JobState.SUBMITTING, JobState.RUNNING, generate_uuid=generate_uuid, submitted_at=utcnow()
        )
        if running is None:  # cannot happen: only the runner moves SUBMITTING jobs
            log.error("job %s: lost SUBMITTING state after submit", job.id)
            return
        log_job_event(running, "submitted")
        self._metrics.job_entered(running)
        self._on_running(running)

    async def _requeue(self, job: Job, retry_after: float | None) -> None:
        """Back to QUEUED, not to be submitted again before the backoff for its attempt count has passed."""
        delay = retry_delay(job.submit_attempts, retry_after, base=REQUEUE_BASE, cap=REQUEUE_CAP, floor=REQUEUE_BASE)
        await self._store.transition(
            job.id, JobState.SUBMITTING, JobState.QUEUED, not_before=utcnow() + timedelta(seconds=delay)
        )

    async def _fail(self, job: Job, reason: FailureReason, detail: Text) -> None:
        await self._failer.fail(job, (JobState.SUBMITTING,), reason, detail)
