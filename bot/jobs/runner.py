"""JobRunner: the only code that submits to LiblibAI; it dispatches (submit, poll, deadlines) and delivers.

Its invariants:
- a job is submitted at most once (bot/jobs/submit.py);
- a job found in SUBMITTING at start-up has an unknown outcome: it is failed and refunded, never resubmitted;
- RUNNING jobs resume polling by generateUuid (cancelled ones too: they are billed, and settled when their task
  ends); DELIVERING jobs are delivered again (the sink is idempotent).

With several processes on one database, one elected dispatcher submits and polls (and sweeps finished jobs:
bot/jobs/retention.py), and each process delivers the jobs of its own Discord shards (its delivery scan finds
them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from bot import liblib
from bot.generation.families import SubmitBuilder
from bot.i18n import N_, Text
from bot.jobs._parts import RunnerParts
from bot.jobs._tasks import TaskSet, cancel_all
from bot.jobs.admission import AuditBlocked
from bot.jobs.deadlines import DeadlineWatchdog
from bot.jobs.deliver import Deliverer
from bot.jobs.events import JobFailer, unknown_bill
from bot.jobs.leadership import LeaderElector
from bot.jobs.poll import Poller
from bot.jobs.retention import JobRetention
from bot.jobs.scheduling import FairQueue
from bot.jobs.sink import ResultSink
from bot.jobs.submit import Submitter
from bot.media.workers import ImageWorkers
from bot.models import FailureReason, Job, JobState
from bot.ops.metrics import NULL_METRICS, JobMetrics
from bot.settings import QueueSettings
from bot.storage import Store

log = logging.getLogger(__name__)


class JobRunner:
    """Submits queued jobs fairly within the account's limits, polls them and delivers results."""

    def __init__(
        self,
        store: Store,
        client: liblib.LiblibClient,
        sink: ResultSink,
        build_submit: SubmitBuilder,
        settings: QueueSettings,
        *,
        images: ImageWorkers,
        fair: FairQueue | None = None,
        max_image_bytes: int = 10 * 1024 * 1024,
        watchdog_interval: float = 5.0,
        metrics: JobMetrics | None = None,
        elector: LeaderElector | None = None,
        owns: Callable[[Job], bool] | None = None,
        delivery_scan_interval: float = 0.5,
        delivery_retry_delay: float = 15.0,
        audit_blocked: AuditBlocked | None = None,
        retention: JobRetention | None = None,
    ) -> None:
        self._store = store
        self._client = client
        self.fair = fair or FairQueue()
        metrics = metrics or NULL_METRICS
        self._tasks = TaskSet()
        self._main: list[asyncio.Task[None]] = []  # this process's loops (election, delivery scan)
        self._dispatch: list[asyncio.Task[None]] = []  # the dispatcher's loops (submit, watchdog)
        self._elector = elector
        self._owns = owns or (lambda _job: True)
        self._delivery_scan_interval = delivery_scan_interval
        self._accepting = True
        self._failer = JobFailer(store, sink, metrics, audit_blocked=audit_blocked)
        parts = RunnerParts(store, client, sink, self._failer, metrics)
        self._deliverer = Deliverer(
            parts,
            images=images,
            max_image_bytes=max_image_bytes,
            retry_base=delivery_retry_delay,
            deadline=settings.delivering_deadline,
        )
        self._poller = Poller(parts, settings, on_result=self._deliver_if_mine)
        self._submitter = Submitter(
            parts,
            build_submit,
            self.fair,
            self._tasks,
            elector=elector,
            on_running=self._poller.spawn,
            on_lost=self._poller.follow_lost,
            estimated_wait=client.estimated_wait,
            accepting=self.accepting,
        )
        self._watchdog = DeadlineWatchdog(
            store,
            settings,
            self._failer,
            self._poller,
            interval=watchdog_interval,
            accepting=self.accepting,
            leading=self._leading,
            submitting=self._submitter.is_submitting,
            delivering=self._deliverer.is_delivering,
            owns=self._owns,
        )
        self._retention = retention  # the dispatcher sweeps finished jobs' tokens and old rows

    @property
    def delivery_retry_delay(self) -> float:
        """Seconds before posting a result again after a transient refusal (the backoff's base)."""
        return self._deliverer.retry_base

    @delivery_retry_delay.setter
    def delivery_retry_delay(self, seconds: float) -> None:
        self._deliverer.retry_base = seconds

    # -- lifecycle ---------------------------------------------------------------------------------

    def accepting(self) -> bool:
        """False from the moment ``stop`` begins: nothing is submitted or resumed after that."""
        return self._accepting

    def wake(self) -> None:
        self._submitter.wake()

    def _leading(self) -> bool:
        """Whether this process may act as the dispatcher now (its lease is fresh), not merely was told so."""
        return self._elector is None or self._elector.is_leader

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
        await cancel_all([*self._main, *self._dispatch, *self._poller.tasks, *self._tasks])
        self._main.clear()
        self._dispatch.clear()
        if self._elector is not None:
            with contextlib.suppress(Exception):  # the lease lapses by itself if the database is gone
                await self._elector.resign()  # a standby takes over at once

    async def enforce_deadlines(self, now: datetime) -> None:
        await self._watchdog.enforce(now)

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
                await self._poller.hand_over()
                with contextlib.suppress(Exception):
                    await self._elector.resign()
                return
            if not self.accepting():  # stopped while resuming: never start submitting after the stop
                return
            self._dispatch = [
                asyncio.create_task(self._submitter.run(), name="job-runner-submit"),
                asyncio.create_task(self._watchdog.run(), name="job-runner-watchdog"),
            ]
            if self._retention is not None:
                self._dispatch.append(asyncio.create_task(self._retention.run(), name="job-runner-retention"))
        elif not leading and self._dispatch:
            # Another process leads now: stop submitting and polling; job states stay as stored and the
            # new dispatcher resumes the running jobs by their generateUuid.
            await cancel_all(self._dispatch)
            self._dispatch.clear()
            await self._poller.hand_over()

    async def _resume(self) -> None:
        for job in await self._store.list_jobs([JobState.SUBMITTING]):
            # Crash between the submit request and storing its uuid: the task may exist and be billed.
            # Never resubmit blindly; tell the member and settle at the estimate.
            await self._failer.fail(
                job,
                (JobState.SUBMITTING,),
                FailureReason.SUBMIT_UNKNOWN,
                Text(
                    N_(
                        "The bot restarted while submitting this job, so its outcome is unknown. It may have been "
                        "charged, so it counts against your quota; please try again."
                    )
                ),
                points_cost=unknown_bill(job),
            )
        for job in await self._store.list_jobs([JobState.RUNNING]):
            if job.generate_uuid:
                self._poller.resume(job)
        for job in await self._store.list_jobs([JobState.DELIVERING]):
            self._deliver_if_mine(job)

    # -- delivery ----------------------------------------------------------------------------------

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
        # A task of its own: losing the dispatcher lease cancels the polls, never a delivery under way.
        if self._owns(job) and not self._deliverer.is_delivering(job.id):
            self._tasks.spawn(self._deliverer.deliver(job))
