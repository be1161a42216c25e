"""JobService: what the Discord side calls to start, find, list and cancel jobs.

Starting a job is one use case with one owner (``start``): admit (the Admission port), enqueue with the caps
enforced atomically in the store, then tell the admission the job is stored, or that it was refused (so what
admission claimed, a cooldown, is given back). A job with expensive work to do first (fetching and publishing
images), or one its member must confirm, is ``precheck``ed before it: the same refusals as things stand, claiming
nothing. ``quote`` is its estimated cost; ``cheaper_alternative`` picks the cheapest of the same request in other
modes that would be admitted now (offered when a points budget refuses the request).

Who may see a job (its id, prompt and result) has one owner too, ``visible_to``: every lookup by id for a
member (``get_visible``) and every listing shown to one (``snapshot``) goes through it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from bot.errors import (
    BotError,
    JobNotCancellableError,
    JobNotFoundError,
    JobSubmittingError,
    NotJobOwnerError,
    QueueFullError,
    TooManyActiveJobsError,
)
from bot.i18n import N_, Text
from bot.jobs.admission import Admission, OpenAdmission, Quote, Requester
from bot.jobs.events import log_job_event
from bot.jobs.scheduling import FairQueue
from bot.models import ACTIVE_STATES, FailureReason, GenerationRequest, Job, JobState
from bot.ops.metrics import NULL_METRICS, JobMetrics
from bot.settings import QueueSettings
from bot.storage import EnqueueOutcome, EnqueueResult, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class QueueEntry:
    job: Job
    position: int  # 1-based, across the whole bot (the LiblibAI account is shared)
    eta: float | None  # seconds until it starts


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    """The bot-wide queue's size, and the part of it one member may read: the jobs asked where they ask (their
    server's; in direct messages, their own)."""

    waiting: tuple[QueueEntry, ...]  # in submit order, with bot-wide positions
    working: tuple[Job, ...]  # submitting, running or delivering
    waiting_total: int  # across the bot
    working_total: int


def visible_to(job: Job, viewer: Requester) -> bool:
    """Whether ``viewer`` may see ``job``: its requester anywhere, and the members of the server it was asked in.
    A direct-message job belongs to no server (its guild id is None, like the viewer's in their own DMs), so it
    is its requester's alone."""
    if job.user_id == viewer.user_id:
        return True
    return job.guild_id is not None and job.guild_id == viewer.guild_id


QuotaErrorMapper = Callable[[EnqueueResult], Awaitable[BotError]]


class JobService:
    """Start, enqueue, find and cancel jobs, with the caps enforced atomically in the store."""

    def __init__(
        self,
        store: Store,
        settings: QueueSettings,
        fair: FairQueue,
        wake: Callable[[], None],
        *,
        admission: Admission | None = None,
        metrics: JobMetrics | None = None,
        estimate_wait: Callable[[int], float] | None = None,
        quota_error: QuotaErrorMapper,
    ) -> None:
        self._store = store
        self._settings = settings
        self._fair = fair
        self._wake = wake
        self.admission: Admission = admission or OpenAdmission()
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

    async def precheck(self, requester: Requester, request: GenerationRequest) -> None:
        """Before a job's expensive work (fetching, decoding and publishing its images): raise the refusal
        ``start`` would raise as things stand (the admission's rules, cooldown and quotas, then the member's
        cap on jobs at once), so a refused member costs no download or upload.

        Advisory and claims nothing: ``start`` admits and reserves atomically at enqueue all the same."""
        await self.admission.precheck(requester, request)
        cap = self._active_cap(await self.admission.active_cap(requester))
        if await self._store.count_active(requester.user_id) >= cap:  # the enqueue's test, read-only
            raise TooManyActiveJobsError(cap)

    async def quote(self, requester: Requester, request: GenerationRequest) -> Quote:
        """The request's estimated cost and whether its member confirms it first (the admission's price table)."""
        return await self.admission.quote(requester, request)

    async def cheaper_alternative(
        self, requester: Requester, request: GenerationRequest, alternatives: Sequence[GenerationRequest]
    ) -> tuple[GenerationRequest, Quote] | None:
        """The cheapest of ``alternatives`` (``request`` in other modes) whose estimate is below ``request``'s and
        that the pre-check admits as things stand: allowed here (models, features, caps) and within every budget.
        None when none fits. Claims nothing."""
        price = (await self.quote(requester, request)).points
        quoted = [(await self.quote(requester, alternative), n) for n, alternative in enumerate(alternatives)]
        for quote, n in sorted((q for q in quoted if q[0].points < price), key=lambda q: (q[0].points, q[1])):
            try:
                await self.precheck(requester, alternatives[n])
            except BotError:
                continue
            return alternatives[n], quote
        return None

    async def start(self, requester: Requester, job: Job) -> tuple[Job, int]:
        """Admit ``job``, enqueue it (reserving its debits atomically) and return it with its queue position.

        Raises the admission's or the store's refusal (a BotError). The runner is not woken: the caller wakes
        it once the member has seen the position (a burst's acknowledgements come first)."""
        admission = self.admission
        job = await admission.admit(requester, job)
        try:
            result = await self.enqueue(job, wake=False, max_active=await admission.active_cap(requester))
        except BotError:
            # Refused, so not stored: give back what admission claimed (a cooldown); the member may try again.
            await self._give_back(requester, job)
            raise
        except BaseException:
            # A database error or a cancelled command: the job may or may not have been stored.
            await asyncio.shield(self._give_back_unless_stored(requester, job))
            raise
        # Stored: from here the job runs whatever happens, so the member must not be told it failed.
        try:
            await admission.enqueued(requester, job)
        except Exception:
            log.exception("job %s: the admission's after-enqueue step failed", job.id)
        try:
            position = await self.position(job.id) or result.queue_position
        except Exception:
            log.exception("job %s: could not list the queue for its position", job.id)
            position = result.queue_position
        return job, position

    async def _give_back(self, requester: Requester, job: Job) -> None:
        """Hand back what admitting ``job`` claimed; never hides the refusal the member must read."""
        try:
            await self.admission.refused(requester, job)
        except Exception:
            log.warning("job %s: could not give back its cooldown", job.id, exc_info=True)

    async def _give_back_unless_stored(self, requester: Requester, job: Job) -> None:
        try:
            stored = await self._store.get_job(job.id)
        except Exception:
            log.warning("job %s: could not tell whether it was stored", job.id, exc_info=True)
            return
        if stored is None:
            await self._give_back(requester, job)

    async def enqueue(self, job: Job, *, wake: bool = True, max_active: int | None = None) -> EnqueueResult:
        """Store ``job`` (reserving its debits); ``max_active``: a lower per-member cap (a server's policy)."""
        cap = self._active_cap(max_active)
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

    def _active_cap(self, max_active: int | None) -> int:
        """The member's cap on jobs at once: the bot-wide one, or a server's lower ``max_active``."""
        limit = self._settings.max_active_per_user
        return limit if max_active is None else min(max_active, limit)

    async def attach_progress_message(self, job_id: str, message_id: int) -> None:
        """Remember the message that shows the job's progress (the bot's reply to a member's message)."""
        await self._store.update_job(job_id, progress_message_id=message_id)

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

    async def snapshot(self, viewer: Requester) -> QueueSnapshot:
        """The jobs asked where ``viewer`` asks and visible to them: queued ones in submit order (with bot-wide
        positions and wait estimates) and those being worked on; and how many of each there are bot-wide."""
        queued = await self._store.list_jobs([JobState.QUEUED])
        order = self._fair.order(queued)
        working = await self._store.list_jobs(ACTIVE_STATES - {JobState.QUEUED})

        def here(job: Job) -> bool:
            return job.guild_id == viewer.guild_id and visible_to(job, viewer)

        return QueueSnapshot(
            waiting=tuple(
                QueueEntry(job, position, self.estimated_wait(position))
                for position, job in enumerate(order, start=1)
                if here(job)
            ),
            working=tuple(job for job in working if here(job)),
            waiting_total=len(order),
            working_total=len(working),
        )

    async def get(self, job_id: str) -> Job:
        job = await self._store.get_job(job_id)
        if job is None:
            raise JobNotFoundError(job_id)
        return job

    async def get_visible(self, job_id: str, viewer: Requester) -> Job:
        """The job, when ``viewer`` may see it; else JobNotFoundError, as for an unknown id (a stranger learns
        nothing, not even that the id exists)."""
        job = await self._store.get_job(job_id)
        if job is None or not visible_to(job, viewer):
            raise JobNotFoundError(job_id)
        return job

    async def cancel(self, job_id: str, *, actor_id: int, is_admin: bool) -> Job:
        """Cancel for the requester (or an admin). A queued job ends CANCELLED at once, refunded. A job LiblibAI
        already accepted cannot be stopped there (no cancel call) and is billed: it stays RUNNING, marked
        cancelled, until its task ends, and is then settled at the billed cost (``Job.cancel_requested``)."""
        job = await self.get(job_id)
        if job.user_id != actor_id and not is_admin:
            raise NotJobOwnerError()
        moved = await self._store.transition(
            job_id,
            JobState.QUEUED,
            JobState.CANCELLED,
            failure_reason=FailureReason.CANCELLED,
            failure_detail=Text(N_("Cancelled.")),
        )
        if moved is not None:
            log_job_event(moved, "cancelled", by=actor_id)
            self._metrics.job_entered(moved)
            return moved
        requested = await self._store.request_cancel(job_id, JobState.RUNNING)
        if requested is not None:
            log_job_event(requested, "cancel_requested", by=actor_id)
            return requested
        state = (await self.get(job_id)).state
        if state is JobState.SUBMITTING:  # a moment later it is RUNNING (cancel then) or back in the queue
            raise JobSubmittingError()
        raise JobNotCancellableError(str(state))
