"""JobService (enqueue, cancel) and JobRunner (fair submit loop, polling, delivery, resume, deadlines).

The runner is the only code that submits to LiblibAI. Its invariants:
- a job is submitted at most once: it enters SUBMITTING before the request and leaves it only with
  a stored generateUuid (RUNNING), a provable non-submit (back to QUEUED) or a failure;
- a job found in SUBMITTING at start-up has an unknown outcome: it is failed and refunded, never resubmitted;
- RUNNING jobs resume polling by generateUuid; DELIVERING jobs are delivered again (the sink is idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot import liblib
from bot.errors import (
    BotError,
    JobNotCancellableError,
    JobNotFoundError,
    NotJobOwnerError,
    QueueFullError,
    TooManyActiveJobsError,
)
from bot.generation.families import SubmitBuilder, family_of
from bot.i18n import N_, Text
from bot.jobs.leadership import LeaderElector
from bot.jobs.scheduling import FairQueue
from bot.jobs.sink import DeliveryError, ImageFile, Progress, ResultSink, Stage
from bot.media.codec import normalize_for_discord
from bot.models import (
    ACTIVE_STATES,
    FailureReason,
    Job,
    JobResult,
    JobState,
    ResultImage,
    utcnow,
)
from bot.ops.metrics import NULL_METRICS, JobMetrics
from bot.quotas.service import quota_error_for
from bot.settings import QueueSettings
from bot.storage import EnqueueOutcome, EnqueueResult, JobStore, Settlement

log = logging.getLogger(__name__)

_BACKOFF_AFTER_LIMIT = timedelta(seconds=2)
_DELIVERY_ATTEMPTS = 3
# Status-query failures that say nothing about the task itself: keep polling it.
_TRANSIENT_STATUS_ERRORS = (
    liblib.LiblibRateLimitError,
    liblib.LiblibServerError,
    liblib.LiblibConnectionError,
    liblib.LiblibResponseValidationError,
)


def log_job_event(job: Job, event: str, **extra: object) -> None:
    """One structured line per job event (job id, guild, user, mode, state, duration, points)."""
    fields: dict[str, object] = {
        "job_id": job.id,
        "event": event,
        "guild_id": job.guild_id,
        "user_id": job.user_id,
        "mode": job.request.mode,
        "state": str(job.state),
        "duration_s": round((utcnow() - job.created_at).total_seconds(), 3),
        "points": job.points_cost,
        **extra,
    }
    log.info(
        "job %s %s state=%s mode=%s guild=%s user=%s duration=%.1fs points=%s%s",
        job.id,
        event,
        job.state,
        job.request.mode,
        job.guild_id,
        job.user_id,
        fields["duration_s"],
        job.points_cost,
        "".join(f" {k}={v}" for k, v in extra.items()),
        extra={"job_event": fields},
    )


def failure_for(error: BaseException) -> tuple[FailureReason, Text]:
    """Map an adapter error to a distinct failure reason and a safe detail."""
    match error:
        case liblib.AuditRejectedError():
            return FailureReason.AUDIT_REJECTED, Text(error.human)
        case liblib.GenerationTimedOutError():
            return FailureReason.SERVICE_TIMEOUT, Text(error.human)
        case liblib.GenerationFailedError():
            return FailureReason.GENERATION_FAILED, Text(error.human)
        case liblib.LiblibSensitivePromptError():
            return FailureReason.BANNED_PROMPT, Text(error.human)
        case liblib.LiblibImageUnreachableError():
            return FailureReason.IMAGE_UNREACHABLE, Text(error.human)
        case liblib.LiblibInvalidParameterError():
            # The API's own words (Chinese or English) stay as sent: they name the parameter at fault.
            return FailureReason.INVALID_PARAMETER, Text(
                N_("{reason} ({detail})"), {"reason": Text(error.human), "detail": error.message}
            )
        case liblib.LiblibInsufficientPointsError():
            return FailureReason.OUT_OF_POINTS, Text(error.human)
        case liblib.LiblibAuthError():
            return FailureReason.CONFIG_ERROR, Text(error.human)
        case liblib.LiblibError():
            return FailureReason.SERVICE_ERROR, Text(error.human)
    return FailureReason.SERVICE_ERROR, Text(N_("Something went wrong while generating."))


@dataclass(frozen=True, slots=True)
class QueueEntry:
    job: Job
    position: int  # 1-based, across the whole bot (the LiblibAI account is shared)
    eta: float | None  # seconds until it starts


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    waiting: tuple[QueueEntry, ...]
    working: tuple[Job, ...]  # submitting, running or delivering


QuotaErrorMapper = Callable[[EnqueueResult], Awaitable[BotError]]


async def utc_quota_error(result: EnqueueResult) -> BotError:
    """The QUOTA_EXCEEDED message when no quota service is wired (windows reset at UTC midnight)."""
    if result.failed_debit is None:
        return QueueFullError()
    return quota_error_for(result, result.failed_debit, UTC)


class JobService:
    """What cogs call: enqueue and cancel, with the caps enforced atomically in the store."""

    def __init__(
        self,
        store: JobStore,
        settings: QueueSettings,
        fair: FairQueue,
        wake: Callable[[], None],
        *,
        metrics: JobMetrics | None = None,
        estimate_wait: Callable[[int], float] | None = None,
        quota_error: QuotaErrorMapper = utc_quota_error,
    ) -> None:
        self._store = store
        self._settings = settings
        self._fair = fair
        self._wake = wake
        self._metrics = metrics or NULL_METRICS
        self._estimate_wait = estimate_wait
        self._quota_error = quota_error
        # Queue positions are shared by concurrent callers (see position()).
        self._position_asks = 0
        self._positions: dict[str, int] = {}
        self._positions_cover = 0
        self._listing: asyncio.Future[None] | None = None

    def wake(self) -> None:
        self._wake()

    async def enqueue(self, job: Job, *, wake: bool = True, max_active: int | None = None) -> EnqueueResult:
        """Store ``job`` (reserving its debits); ``max_active``: a lower per-member cap (a server's policy)."""
        cap = (
            self._settings.max_active_per_user
            if max_active is None
            else min(max_active, self._settings.max_active_per_user)
        )
        result = await self._store.enqueue(
            job, max_active_per_user=cap, max_queued_total=self._settings.max_queued_total
        )
        if result.outcome is EnqueueOutcome.TOO_MANY_ACTIVE:
            raise TooManyActiveJobsError(cap)
        if result.outcome is EnqueueOutcome.QUEUE_FULL:
            raise QueueFullError()
        if result.outcome is EnqueueOutcome.QUOTA_EXCEEDED:
            raise await self._quota_error(result)
        if result.outcome is EnqueueOutcome.OK:
            log_job_event(job, "enqueued")
            self._metrics.job_entered(job)
            if wake:
                self._wake()
        return result

    async def position(self, job_id: str) -> int | None:
        """The job's fair queue position (None when not queued), from a listing started after this call.

        Concurrent callers share one listing: a burst of /imagine would otherwise list the whole queue once
        per command (quadratic work on the event loop, delaying other members' acknowledgements).
        """
        self._position_asks += 1
        ask = self._position_asks
        while self._positions_cover < ask:
            if self._listing is None:
                self._listing = asyncio.ensure_future(self._list_positions())
            await asyncio.shield(self._listing)
        return self._positions.get(job_id)

    async def _list_positions(self) -> None:
        try:
            cover = self._position_asks
            queued = await self._store.list_jobs([JobState.QUEUED])
            self._positions, self._positions_cover = self._fair.positions(queued), cover
        finally:
            self._listing = None

    def estimated_wait(self, position: int) -> float | None:
        """Seconds until a job at queue ``position`` (1-based) starts, from recent durations; None if unknown."""
        return self._estimate_wait(position) if self._estimate_wait else None

    async def snapshot(self) -> QueueSnapshot:
        """Every queued job in submit order (with its wait estimate) and every job being worked on."""
        queued = await self._store.list_jobs([JobState.QUEUED])
        order = self._fair.order(queued)
        waiting = tuple(
            QueueEntry(job, position, self.estimated_wait(position)) for position, job in enumerate(order, start=1)
        )
        working = await self._store.list_jobs(ACTIVE_STATES - {JobState.QUEUED})
        return QueueSnapshot(waiting=waiting, working=tuple(working))

    async def get(self, job_id: str) -> Job:
        job = await self._store.get_job(job_id)
        if job is None:
            raise JobNotFoundError(job_id)
        return job

    async def cancel(self, job_id: str, *, actor_id: int, is_admin: bool) -> Job:
        job = await self.get(job_id)
        if job.user_id != actor_id and not is_admin:
            raise NotJobOwnerError()
        moved = await self._store.transition(
            job_id,
            (JobState.QUEUED, JobState.RUNNING),
            JobState.CANCELLED,
            failure_reason=FailureReason.CANCELLED,
            failure_detail=Text(N_("Cancelled.")),
        )
        if moved is None:
            raise JobNotCancellableError(str((await self.get(job_id)).state))
        log_job_event(moved, "cancelled", by=actor_id)
        self._metrics.job_entered(moved)
        return moved


class JobRunner:
    """Submits queued jobs fairly within the account's limits, polls them and delivers results."""

    def __init__(
        self,
        store: JobStore,
        client: liblib.LiblibClient,
        sink: ResultSink,
        build_submit: SubmitBuilder,
        settings: QueueSettings,
        *,
        fair: FairQueue | None = None,
        max_image_bytes: int = 10 * 1024 * 1024,
        watchdog_interval: float = 5.0,
        metrics: JobMetrics | None = None,
        elector: LeaderElector | None = None,
        owns: Callable[[Job], bool] | None = None,
        delivery_scan_interval: float = 0.5,
        delivery_retry_delay: float = 15.0,
    ) -> None:
        self._store = store
        self._client = client
        self._sink = sink
        self._build_submit = build_submit
        self._settings = settings
        self.fair = fair or FairQueue()
        self._max_image_bytes = max_image_bytes
        self._watchdog_interval = watchdog_interval
        self._metrics = metrics or NULL_METRICS
        self.delivery_retry_delay = delivery_retry_delay  # seconds before posting a result again (x attempt)
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._polls: dict[str, asyncio.Task[None]] = {}
        self._poll_uuids: dict[str, str] = {}  # job id -> generateUuid of each poll above
        self._main: list[asyncio.Task[None]] = []  # this process's loops (election, delivery scan)
        self._dispatch: list[asyncio.Task[None]] = []  # the dispatcher's loops (submit, watchdog)
        self._delivering: set[str] = set()  # job ids this process is delivering now
        # Several processes: one elected dispatcher submits and polls; each delivers its own shards' jobs.
        self._elector = elector
        self._owns = owns or (lambda _job: True)
        self._delivery_scan_interval = delivery_scan_interval
        self._reporting: asyncio.Task[None] | None = None
        self._accepting = True
        self.durations: deque[float] = deque(maxlen=20)  # recent generation durations (s) for wait estimates

    # -- lifecycle ---------------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    @property
    def is_dispatcher(self) -> bool:
        return bool(self._dispatch)

    async def start(self) -> None:
        if self._elector is None:  # one process: it dispatches and delivers everything
            await self._lead(True)
            return
        self._main = [
            asyncio.create_task(self._elector.run(self._lead), name="job-runner-election"),
            asyncio.create_task(self._delivery_scan_loop(), name="job-runner-delivery-scan"),
        ]

    async def stop(self) -> None:
        """Stop submitting; cancel polls (their jobs stay RUNNING in the store and resume next start)."""
        self._accepting = False
        await _cancel_all([*self._main, *self._dispatch, *self._polls.values(), *self._tasks])
        self._main.clear()
        self._dispatch.clear()
        self._polls.clear()
        self._tasks.clear()
        if self._elector is not None:
            with contextlib.suppress(Exception):  # the lease lapses by itself if the database is gone
                await self._elector.resign()  # a standby takes over at once

    async def _lead(self, leading: bool) -> None:
        """Become the dispatcher (resume in-flight jobs, start submitting) or stop being it."""
        if leading and not self._dispatch and self._accepting:
            try:
                await self._resume()
            except Exception:
                if self._elector is None:
                    raise
                # Never dispatch half-resumed, and never let this end the election loop (this process would
                # stop campaigning for good): let the lease go; the next election round tries again.
                log.exception("could not resume in-flight jobs; giving up the dispatcher lease")
                await self._stop_polls()
                with contextlib.suppress(Exception):
                    await self._elector.resign()
                return
            self._dispatch = [
                asyncio.create_task(self._submit_loop(), name="job-runner-submit"),
                asyncio.create_task(self._watchdog_loop(), name="job-runner-watchdog"),
            ]
        elif not leading and self._dispatch:
            # Another process leads now: stop submitting and polling; job states stay as stored and the
            # new dispatcher resumes the running jobs by their generateUuid.
            await _cancel_all(self._dispatch)
            self._dispatch.clear()
            await self._stop_polls()

    async def _stop_polls(self) -> None:
        """Cancel this process's polls and free their task slots (the next dispatcher adopts the tasks)."""
        uuids = [self._poll_uuids[job_id] for job_id in self._polls if job_id in self._poll_uuids]
        await _cancel_all(list(self._polls.values()))
        for generate_uuid in uuids:
            self._client.release(generate_uuid)

    async def _delivery_scan_loop(self) -> None:
        """Deliver the results the dispatcher (maybe another process) left for this process's shards."""
        while True:
            try:
                for job in await self._store.list_jobs([JobState.DELIVERING]):
                    self._deliver_if_mine(job)
            except Exception:
                log.exception("delivery scan failed")
            await asyncio.sleep(self._delivery_scan_interval)

    def _deliver_if_mine(self, job: Job) -> None:
        if self._owns(job) and job.id not in self._delivering:
            self._spawn(self._deliver(job))

    async def _resume(self) -> None:
        for job in await self._store.list_jobs([JobState.SUBMITTING]):
            # Crash between the submit request and storing its uuid: the task may exist and be billed.
            # Never resubmit blindly; tell the member and refund.
            await self._fail(
                job,
                (JobState.SUBMITTING,),
                FailureReason.SUBMIT_UNKNOWN,
                Text(
                    N_(
                        "The bot restarted while submitting this job, so its outcome is unknown. "
                        "Your quota was refunded; please try again."
                    )
                ),
            )
        for job in await self._store.list_jobs([JobState.RUNNING]):
            if job.generate_uuid:
                self._client.adopt(job.generate_uuid)
                self._spawn_poll(job)
        for job in await self._store.list_jobs([JobState.DELIVERING]):
            self._deliver_if_mine(job)

    def _spawn(self, coro: object) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _spawn_poll(self, job: Job) -> None:
        task = asyncio.create_task(self._poll(job), name=f"poll-{job.id}")
        self._polls[job.id] = task
        if job.generate_uuid:
            self._poll_uuids[job.id] = job.generate_uuid
        job_id = job.id

        def forget(_task: asyncio.Task[None]) -> None:
            if self._polls.get(job_id) is _task:
                self._polls.pop(job_id, None)
                self._poll_uuids.pop(job_id, None)

        task.add_done_callback(forget)

    # -- submitting --------------------------------------------------------------------------------

    async def _submit_loop(self) -> None:
        while self._accepting:
            try:
                await self._client.wait_for_capacity()
                job = await self._next_job()
                if job is None:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=1.0)
                    continue
                await self._submit(job)
            except asyncio.CancelledError:
                raise
            except Exception:
                # A store or adapter hiccup must not kill the only submitter; jobs stay durable meanwhile.
                log.exception("submit loop error; retrying in 1 s")
                await asyncio.sleep(1.0)

    async def _next_job(self) -> Job | None:
        queued = await self._store.list_jobs([JobState.QUEUED])
        ready = self.fair.order(queued, now=utcnow())
        if queued and (self._reporting is None or self._reporting.done()):
            # One report at a time: over a long queue a report outlasts a pass of the loop, and piling
            # them up would edit every member's message several times over.
            self._reporting = self._spawn(self._report_positions(queued))
        return ready[0] if ready else None

    async def _report_positions(self, queued: list[Job]) -> None:
        for position, job in enumerate(self.fair.order(queued), start=1):
            await self._sink.progress(job, Progress(Stage.QUEUED, position=position, eta=self.estimated_wait(position)))

    def estimated_duration(self) -> float:
        """The median of the recent generation durations (30 s before any)."""
        recent = list(self.durations)
        return sorted(recent)[len(recent) // 2] if recent else 30.0

    def estimated_wait(self, position: int) -> float:
        """Seconds until the job at queue ``position`` starts: positions share the account's task slots."""
        return self.estimated_duration() * position / max(1, self._client.free_slots + self._client.active_tasks)

    async def _submit(self, job: Job) -> None:
        moved = await self._store.transition(
            job.id, JobState.QUEUED, JobState.SUBMITTING, submit_attempts=job.submit_attempts + 1
        )
        if moved is None:
            return  # cancelled or expired meanwhile
        job = moved
        self.fair.mark_served(job.user_id)
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
            await self._store.transition(
                job.id, JobState.SUBMITTING, JobState.QUEUED, not_before=utcnow() + _BACKOFF_AFTER_LIMIT
            )
            return
        except liblib.LiblibConnectionError as exc:
            self._metrics.liblib_error(exc)
            if not exc.reached_server:
                await self._store.transition(
                    job.id, JobState.SUBMITTING, JobState.QUEUED, not_before=utcnow() + _BACKOFF_AFTER_LIMIT
                )
                return
            await self._fail(
                job,
                (JobState.SUBMITTING,),
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
            reason, detail = failure_for(exc)
            await self._fail(job, (JobState.SUBMITTING,), reason, detail)
            return
        except Exception:
            log.exception("job %s: unexpected error while submitting", job.id)
            await self._fail(
                job,
                (JobState.SUBMITTING,),
                FailureReason.SERVICE_ERROR,
                Text(N_("Something went wrong while submitting.")),
            )
            return
        running = await self._store.transition(
            job.id, JobState.SUBMITTING, JobState.RUNNING, generate_uuid=generate_uuid, submitted_at=utcnow()
        )
        if running is None:  # cannot happen: only the runner moves SUBMITTING jobs
            log.error("job %s: lost SUBMITTING state after submit", job.id)
            return
        log_job_event(running, "submitted")
        self._metrics.job_entered(running)
        self._spawn_poll(running)

    # -- polling -----------------------------------------------------------------------------------

    async def _poll(self, job: Job) -> None:
        if job.generate_uuid is None:
            raise RuntimeError(f"job {job.id} is running without a generateUuid")
        family = family_of(job.request.mode)
        started = job.submitted_at or job.state_changed_at
        deadline = self._settings.running_deadline - (utcnow() - job.state_changed_at).total_seconds()

        async def on_progress(status: liblib.TaskStatus) -> None:
            current = await self._store.get_job(job.id)
            if current is None or current.state is not JobState.RUNNING:
                return  # cancelled: the task runs on at LiblibAI (no cancel API), but the member saw "Cancelled"
            stage = {1: Stage.WAITING, 2: Stage.GENERATING, 3: Stage.AUDITING, 4: Stage.AUDITING}.get(
                status.generate_status, Stage.GENERATING
            )
            elapsed = (utcnow() - started).total_seconds()
            await self._sink.progress(job, Progress(stage, percent=status.percent_completed, elapsed=elapsed))

        t0 = time.monotonic()
        try:
            task = await self._wait_for_task(job.id, family, job.generate_uuid, on_progress, deadline)
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            self._client.release(job.generate_uuid)
            await self._fail(
                job,
                (JobState.RUNNING,),
                FailureReason.DEADLINE,
                Text(N_("The image service took too long, so the job was stopped. Your quota was refunded.")),
                expired=True,
            )
            return
        except liblib.LiblibError as exc:
            self._metrics.liblib_error(exc)
            self._client.release(job.generate_uuid)
            reason, detail = failure_for(exc)
            await self._fail(job, (JobState.RUNNING,), reason, detail)
            return
        self.durations.append(time.monotonic() - t0)
        self._metrics.generation_finished((utcnow() - started).total_seconds())
        result = JobResult(
            images=tuple(ResultImage(url=i.image_url, seed=i.seed) for i in task.images),
            points_cost=task.points_cost or 0,
            # LiblibAI leaves blocked images out of the answer: count what is missing from the batch.
            blocked_count=max(task.blocked_count, job.request.count - len(task.images)),
            account_balance=task.account_balance,
        )
        delivering = await self._store.transition(
            job.id, JobState.RUNNING, JobState.DELIVERING, result=result, points_cost=task.points_cost or 0, percent=1.0
        )
        if delivering is None:
            log_job_event(job, "result_discarded", reason="job no longer running (cancelled)")
            return
        if self._owns(delivering):
            # A task of its own: losing the dispatcher lease cancels the polls, never a delivery under way.
            self._spawn(self._deliver(delivering))
        # else: the process that owns the job's shard delivers it (its delivery scan finds it)

    async def _wait_for_task(
        self,
        job_id: str,
        family: liblib.Family,
        generate_uuid: str,
        on_progress: Callable[[liblib.TaskStatus], Awaitable[None]],
        deadline: float,
    ) -> liblib.TaskResult:
        """``wait_for``, polling on through transient errors (429, 5xx, timeouts, garbled answers) until the
        deadline: the task keeps running, and is billed, at LiblibAI while its status route misbehaves."""
        end = time.monotonic() + deadline
        delay = max(0.05, self._client.settings.poll_interval_max)
        while True:
            try:
                return await self._client.wait_for(
                    family, generate_uuid, on_progress=on_progress, timeout=max(1.0, end - time.monotonic())
                )
            except _TRANSIENT_STATUS_ERRORS as exc:
                if time.monotonic() + delay >= end:
                    raise
                log.warning("job %s: status query failed (%s); retrying in %.1fs", job_id, type(exc).__name__, delay)
                await asyncio.sleep(delay)

    # -- delivery ----------------------------------------------------------------------------------

    async def _deliver(self, job: Job) -> None:
        if job.id in self._delivering:
            return
        self._delivering.add(job.id)
        try:
            # The delivery scan may have listed the job before another delivery of it (here) finished.
            current = await self._store.get_job(job.id)
            if current is None or current.state is not JobState.DELIVERING:
                return
            await self._deliver_now(current)
        finally:
            self._delivering.discard(job.id)

    async def _deliver_now(self, job: Job) -> None:
        if job.result is None:
            raise RuntimeError(f"job {job.id} is delivering without a result")
        await self._sink.progress(job, Progress(Stage.DELIVERING))
        try:
            files = []
            # Each file within the attachment limit, and all of them within Discord's 25 MiB request cap.
            per_file = min(self._max_image_bytes, 24 * 1024 * 1024 // max(1, len(job.result.images)))
            for index, image in enumerate(job.result.images):
                raw = await self._client.download(image.url, max_bytes=50 * 1024 * 1024)
                try:
                    files.append(normalize_for_discord(raw, f"{job.id}_{index + 1}", max_bytes=per_file))
                except (OSError, ValueError) as exc:  # Pillow: not an image, or cut short
                    raise liblib.LiblibResponseValidationError(f"result image {index + 1} is unreadable") from exc
            message_id = await self._post_result(job, job.result, files)
        except asyncio.CancelledError:
            raise
        except DeliveryError as exc:
            log.warning("job %s: delivery failed: %s", job.id, exc)
            await self._fail(job, (JobState.DELIVERING,), FailureReason.DELIVERY_FAILED, exc.text)
            return
        except liblib.LiblibError as exc:
            self._metrics.liblib_error(exc)
            await self._fail(
                job,
                (JobState.DELIVERING,),
                FailureReason.DELIVERY_FAILED,
                Text(
                    N_("The images could not be downloaded from the image service: {reason}"),
                    {"reason": Text(exc.human)},
                ),
            )
            return
        except Exception:
            # Never leave a job in DELIVERING until its deadline because of an unforeseen error.
            log.exception("job %s: unexpected error while delivering", job.id)
            await self._fail(
                job,
                (JobState.DELIVERING,),
                FailureReason.DELIVERY_FAILED,
                Text(N_("Something went wrong while delivering.")),
            )
            return
        done = await self._store.transition(
            job.id,
            JobState.DELIVERING,
            JobState.SUCCEEDED,
            settlement=Settlement(images=len(files), points=job.result.points_cost),
            result_message_id=message_id,
        )
        if done is not None:
            log_job_event(done, "delivered", images=len(files))
            self._metrics.job_entered(done)

    async def _post_result(self, job: Job, result: JobResult, files: list[ImageFile]) -> int | None:
        """Post through the sink; a transient refusal (Discord unreachable, 5xx or a long rate limit beyond
        discord.py's own retries) is tried again, since the images are paid for. The sink is idempotent."""
        for attempt in range(1, _DELIVERY_ATTEMPTS + 1):
            try:
                return await self._sink.deliver(job, result, files)
            except DeliveryError as exc:
                if exc.permanent or attempt == _DELIVERY_ATTEMPTS:
                    raise
                delay = self.delivery_retry_delay * attempt
                log.warning("job %s: delivery failed (%s); trying again in %.0fs", job.id, exc, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _fail(
        self, job: Job, expected: tuple[JobState, ...], reason: FailureReason, detail: Text, *, expired: bool = False
    ) -> None:
        new = JobState.EXPIRED if expired else JobState.FAILED
        failed = await self._store.transition(job.id, expected, new, failure_reason=reason, failure_detail=detail)
        if failed is None:
            return
        log_job_event(failed, "failed", reason=str(reason))
        self._metrics.job_entered(failed)
        try:
            await self._sink.notify_failure(failed)
        except DeliveryError as exc:  # e.g. the channel is gone and the interaction token expired
            log.warning("job %s: could not tell the member about the failure: %s", job.id, exc)
        except Exception:
            log.exception("job %s: could not tell the member about the failure", job.id)

    # -- deadlines ---------------------------------------------------------------------------------

    async def _watchdog_loop(self) -> None:
        while True:
            await asyncio.sleep(self._watchdog_interval)
            try:
                await self.enforce_deadlines(utcnow())
            except Exception:
                log.exception("deadline watchdog failed")

    async def enforce_deadlines(self, now: datetime) -> None:
        s = self._settings
        limits = {
            JobState.QUEUED: s.queued_deadline,
            JobState.SUBMITTING: s.submitting_deadline,
            JobState.DELIVERING: s.delivering_deadline,
        }
        for job in await self._store.list_jobs(ACTIVE_STATES - {JobState.RUNNING}):
            limit = limits[job.state]
            if (now - job.state_changed_at).total_seconds() <= limit:
                continue
            if job.state is JobState.QUEUED:
                await self._fail(
                    job,
                    (JobState.QUEUED,),
                    FailureReason.DEADLINE,
                    Text(N_("The job waited in the queue too long and was dropped. Your quota was refunded.")),
                    expired=True,
                )
            elif job.state is JobState.SUBMITTING and job.id not in self._polls:
                await self._fail(
                    job,
                    (JobState.SUBMITTING,),
                    FailureReason.SUBMIT_UNKNOWN,
                    Text(N_("Submitting this job did not finish in time. Your quota was refunded.")),
                )
            elif job.state is JobState.DELIVERING:
                await self._fail(
                    job,
                    (JobState.DELIVERING,),
                    FailureReason.DELIVERY_FAILED,
                    Text(N_("The result could not be delivered in time.")),
                )
        # RUNNING jobs: the poll's own timeout enforces running_deadline; a RUNNING job with no poll
        # task (it should always have one) is resumed here.
        for job in await self._store.list_jobs([JobState.RUNNING]):
            if job.id not in self._polls and job.generate_uuid and self._accepting:
                self._spawn_poll(job)


async def _cancel_all(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
