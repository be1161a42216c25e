"""Submitting: the fair loop that hands queued jobs to LiblibAI, within the account's task slots.

A job is submitted at most once: it enters SUBMITTING only once its attempt holds the submit slot (a
concurrency slot and the rate limiter's turn), right before the request, and leaves it only with a stored
generateUuid (RUNNING), a provable non-submit (back to QUEUED, a little later) or a failure. A crash while it
waits for the slot leaves it QUEUED, so it is submitted after the restart. The move to SUBMITTING is fenced
by the dispatcher lease (``_Gate``), so a deposed dispatcher can no longer submit.
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
from bot.jobs.events import failure_for, log_job_event, unknown_bill
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
        on_lost: Callable[[Job, str], None],
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
        self._on_lost = on_lost  # a task whose job stopped waiting for it: follow it to free its slot
        self._wake = asyncio.Event()
        self._reporting: asyncio.Task[None] | None = None
        self._in_flight: set[str] = set()  # job ids whose submit is under way here

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        errors = 0  # consecutive
        while self._accepting():
            try:
                await self._client.wait_for_capacity()
                # Deposed but not told yet (the election loop stalled): wait, touching nothing, until it is.
                job = await self.next_job() if self._leads() else None
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

    def is_submitting(self, job_id: str) -> bool:
        """True while this process's submit of the job is under way (its request may still succeed)."""
        return job_id in self._in_flight

    def _leads(self) -> bool:
        return self._elector is None or self._elector.is_leader

    async def submit(self, job: Job) -> None:
        """Submit ``job`` (QUEUED); it enters SUBMITTING only once it holds its slot, right before the request."""
        try:
            request = self._build_submit(job.request)
        except Exception:
            log.exception("job %s: could not build its submit request", job.id)
            await self._failer.fail(
                job, (JobState.QUEUED,), FailureReason.SERVICE_ERROR, Text(N_("Something went wrong while submitting."))
            )
            return
        gate = _Gate(self, job)
        self._in_flight.add(job.id)
        log.debug("job %s: waiting for a submit slot", job.id)
        try:
            await self._submit(gate, request)
        finally:
            self._in_flight.discard(job.id)

    async def _submit(self, gate: _Gate, request: liblib.SubmitRequest) -> None:
        try:
            generate_uuid = await self._client.submit(request, gate=gate)
        except _NotSubmittedError as exc:
            log.info("job %s: not submitted: %s", gate.job.id, exc)
            return
        except (liblib.LiblibRateLimitError, liblib.LiblibConcurrencyError) as exc:
            self._metrics.liblib_error(exc)
            # The API refused before creating a task: safe to queue again, a little later.
            log.info("job %s: submit refused (%s); re-queued", gate.job.id, type(exc).__name__)
            await self._requeue(gate.job, exc.retry_after)
            return
        except liblib.LiblibConnectionError as exc:
            self._metrics.liblib_error(exc)
            if not exc.reached_server:
                await self._requeue(gate.job, None)
                return
            await self._fail_unknown(gate.job)
            return
        except liblib.LiblibResponseValidationError as exc:
            # A 2xx answer that cannot be read: the request reached LiblibAI, a task may exist and be billed.
            self._metrics.liblib_error(exc)
            await self._fail_unknown(gate.job)
            return
        except liblib.LiblibError as exc:
            self._metrics.liblib_error(exc)
            await self._fail(gate.job, *failure_for(exc))
            return
        except Exception:
            if not gate.submitting:
                raise  # the store failed before anything was sent: the job waits, the loop backs off
            log.exception("job %s: unexpected error while submitting", gate.job.id)
            await self._fail(gate.job, FailureReason.SERVICE_ERROR, Text(N_("Something went wrong while submitting.")))
            return
        await self._submitted(gate.job, generate_uuid)

    async def _submitted(self, job: Job, generate_uuid: str) -> None:
        """The task exists (and holds a slot): record it, or if the job stopped waiting meanwhile, follow the
        task until it ends so its slot is freed then."""
        try:
            running = await self._store.transition(
                job.id, JobState.SUBMITTING, JobState.RUNNING, generate_uuid=generate_uuid, submitted_at=utcnow()
            )
        except asyncio.CancelledError:
            # Stopping or handing over: start nothing now. Unrecorded, the job is failed as an unknown outcome
            # (by the next dispatcher's resume); the task's slot here is freed, LiblibAI's in a while.
            self._client.release(generate_uuid)
            raise
        except Exception:
            self._on_lost(job, generate_uuid)  # unrecorded: the job stays SUBMITTING until its deadline
            raise
        if running is None:
            # Failed or cancelled while the request was in flight (a new dispatcher's resume, say).
            log.warning(
                "job %s: left SUBMITTING while its submit was in flight; following task %s", job.id, generate_uuid
            )
            self._on_lost(job, generate_uuid)
            return
        log_job_event(running, "submitted")
        self._metrics.job_entered(running)
        await self._sink.progress(running, Progress(Stage.WAITING))
        self._on_running(running)

    async def _requeue(self, job: Job, retry_after: float | None) -> None:
        """Back to QUEUED, not to be submitted again before the backoff for its attempt count has passed."""
        delay = retry_delay(job.submit_attempts, retry_after, base=REQUEUE_BASE, cap=REQUEUE_CAP, floor=REQUEUE_BASE)
        await self._store.transition(
            job.id, JobState.SUBMITTING, JobState.QUEUED, not_before=utcnow() + timedelta(seconds=delay)
        )

    async def _fail(self, job: Job, reason: FailureReason, detail: Text) -> None:
        await self._failer.fail(job, (JobState.SUBMITTING,), reason, detail)

    async def _fail_unknown(self, job: Job) -> None:
        """The request reached LiblibAI but its answer was lost: never retried (that could charge twice), and
        settled at the estimate, as LiblibAI may have billed a task we cannot see (never refunded on a hope)."""
        await self._failer.fail(
            job,
            (JobState.SUBMITTING,),
            FailureReason.SUBMIT_UNKNOWN,
            UNKNOWN_SUBMIT,
            points_cost=unknown_bill(job),
        )


UNKNOWN_SUBMIT = Text(
    N_(
        "The image service did not confirm the job, so it was not retried (that could charge twice). It may "
        "have been charged, so it counts against your quota; please try again."
    )
)


class _NotSubmittedError(Exception):
    """The gate sent nothing: the job left the queue meanwhile, or this process no longer dispatches."""


class _Gate:
    """One job's ``liblib.SubmitGate``: SUBMITTING exactly while an attempt's request may be out.

    ``sending`` moves the job QUEUED -> SUBMITTING once the attempt holds its slot and turn, fenced by the
    dispatcher lease (a deposed dispatcher's move is refused by the store, however late it comes); a crash
    before that leaves the job QUEUED, and the next start submits it. ``not_sent`` puts it back in the queue
    while a provably refused attempt waits for its retry (``not_before``: a restart honours the wait too).
    """

    def __init__(self, submitter: Submitter, job: Job) -> None:
        self._submitter = submitter
        self.job = job  # as last stored
        self.submitting = False  # this gate moved the job to SUBMITTING and has not moved it back
        self._served = False

    async def sending(self) -> None:
        s = self._submitter
        if not s._leads():  # the lease lapsed during the wait for the slot
            raise _NotSubmittedError("this process is no longer the dispatcher")
        fence = s._elector.fence if s._elector is not None else None
        moved = await s._store.transition(
            self.job.id,
            JobState.QUEUED,
            JobState.SUBMITTING,
            fence=fence,
            submit_attempts=self.job.submit_attempts + 1,
        )
        if moved is None:
            raise _NotSubmittedError("no longer queued (cancelled or expired), or the dispatcher lease moved on")
        self.job, self.submitting = moved, True
        if not self._served:  # once per submit, however many attempts it takes
            self._served = True
            s._fair.mark_served(moved.user_id)
        if not s._leads():  # the store took long enough for the lease to lapse: send nothing
            await self._back_to_queue(None)
            raise _NotSubmittedError("the dispatcher lease lapsed while the job was being marked")

    async def not_sent(self, retry_in: float) -> None:
        if not await self._back_to_queue(retry_in):
            raise _NotSubmittedError("left SUBMITTING while a refused attempt waited for its retry")

    async def _back_to_queue(self, retry_in: float | None) -> bool:
        not_before = None if retry_in is None else utcnow() + timedelta(seconds=retry_in)
        back = await self._submitter._store.transition(
            self.job.id, JobState.SUBMITTING, JobState.QUEUED, not_before=not_before
        )
        self.submitting = False
        if back is None:
            return False
        self.job = back
        return True
