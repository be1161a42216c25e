"""The deadline watchdog: a job stuck in one state past its deadline fails with a message and a refund.

RUNNING jobs are the polls' to time out (``running_deadline``); the watchdog only restarts a poll that
should exist and does not (adopting its task's slot, like every resumed poll).

It never fails what is still under way here: a submit in flight (its request may yet succeed; settings
refuse a deadline shorter than a submit can take) or a delivery in progress. DELIVERING jobs of another
process's shards are that process's to deliver (its delivery scan keeps at it). A dispatcher that is not
sure it still leads (its lease lapsed, even unnoticed by the election loop) does nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from bot.i18n import N_, Text
from bot.jobs.events import JobFailer, unknown_bill
from bot.jobs.poll import Poller
from bot.models import FailureReason, Job, JobState, utcnow
from bot.settings import QueueSettings
from bot.storage import Store

log = logging.getLogger(__name__)

# How a job past its state's deadline ends: (reason, what the member reads, expired rather than failed).
_OUTCOMES: dict[JobState, tuple[FailureReason, Text, bool]] = {
    JobState.QUEUED: (
        FailureReason.DEADLINE,
        Text(N_("The job waited in the queue too long and was dropped. Your quota was refunded.")),
        True,
    ),
    JobState.SUBMITTING: (
        FailureReason.SUBMIT_UNKNOWN,
        Text(
            N_("Submitting this job did not finish in time. It may have been charged, so it counts against your quota.")
        ),
        False,
    ),
    JobState.DELIVERING: (FailureReason.DELIVERY_FAILED, Text(N_("The result could not be delivered in time.")), False),
}


class DeadlineWatchdog:
    def __init__(
        self,
        store: Store,
        settings: QueueSettings,
        failer: JobFailer,
        poller: Poller,
        *,
        interval: float,
        accepting: Callable[[], bool],
        leading: Callable[[], bool],
        submitting: Callable[[str], bool],
        delivering: Callable[[str], bool],
        owns: Callable[[Job], bool],
    ) -> None:
        self._store = store
        self._settings = settings
        self._failer = failer
        self._poller = poller
        self._interval = interval
        self._accepting = accepting  # false once the runner is stopping: start no poll then
        self._leading = leading  # false once the dispatcher lease lapsed (noticed or not)
        self._submitting = submitting  # job id -> its submit is in flight here
        self._delivering = delivering  # job id -> it is being delivered here
        self._owns = owns  # a job this process delivers

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.enforce(utcnow())
            except Exception:
                log.exception("deadline watchdog failed")

    async def enforce(self, now: datetime) -> None:
        if not self._leading():
            return
        s = self._settings
        limits = {
            JobState.QUEUED: s.queued_deadline,
            JobState.SUBMITTING: s.submitting_deadline,
            JobState.DELIVERING: s.delivering_deadline,
        }
        for job in await self._store.list_jobs(list(limits)):
            if (now - job.state_changed_at).total_seconds() <= limits[job.state] or self._under_way(job):
                continue
            if not self._leading():  # deposed while this pass ran (a slow store): the new dispatcher decides
                return
            reason, detail, expired = _OUTCOMES[job.state]
            # A submit of unknown outcome settles at the estimate (LiblibAI may have billed it).
            bill = unknown_bill(job) if job.state is JobState.SUBMITTING else None
            await self._failer.fail(job, (job.state,), reason, detail, expired=expired, points_cost=bill)
        # A RUNNING job with no poll task (it should always have one) is resumed here.
        for job in await self._store.list_jobs([JobState.RUNNING]):
            if not self._poller.is_polling(job.id) and job.generate_uuid and self._accepting() and self._leading():
                self._poller.resume(job)

    def _under_way(self, job: Job) -> bool:
        """Still being worked on, so not stuck: a submit in flight here, or a delivery here or elsewhere."""
        if job.state is JobState.SUBMITTING:
            return self._submitting(job.id)
        if job.state is JobState.DELIVERING:
            return self._delivering(job.id) or not self._owns(job)
        return False
