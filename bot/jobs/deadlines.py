"""The deadline watchdog: a job stuck in one state past its deadline fails with a message and a refund.

RUNNING jobs are the polls' to time out (``running_deadline``); the watchdog only restarts a poll that
should exist and does not.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from bot.i18n import N_, Text
from bot.jobs.events import JobFailer
from bot.jobs.poll import Poller
from bot.models import FailureReason, JobState, utcnow
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
        Text(N_("Submitting this job did not finish in time. Your quota was refunded.")),
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
    ) -> None:
        self._store = store
        self._settings = settings
        self._failer = failer
        self._poller = poller
        self._interval = interval
        self._accepting = accepting  # false once the runner is stopping: start no poll then

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.enforce(utcnow())
            except Exception:
                log.exception("deadline watchdog failed")

    async def enforce(self, now: datetime) -> None:
        s = self._settings
        limits = {
            JobState.QUEUED: s.queued_deadline,
            JobState.SUBMITTING: s.submitting_deadline,
            JobState.DELIVERING: s.delivering_deadline,
        }
        for job in await self._store.list_jobs(list(limits)):
            if (now - job.state_changed_at).total_seconds() <= limits[job.state]:
                continue
            if job.state is JobState.SUBMITTING and self._poller.is_polling(job.id):
                continue
            reason, detail, expired = _OUTCOMES[job.state]
            await self._failer.fail(job, (job.state,), reason, detail, expired=expired)
        # A RUNNING job with no poll task (it should always have one) is resumed here.
        for job in await self._store.list_jobs([JobState.RUNNING]):
            if not self._poller.is_polling(job.id) and job.generate_uuid and self._accepting():
                self._poller.spawn(job)
