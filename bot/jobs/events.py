"""What happens to a job, said once: the structured event log line, the failure mapping, LiblibAI's bill, and
ending a job that did not succeed (failed, expired, or cancelled after its submit)."""

from __future__ import annotations

import logging
from typing import Any

from bot import liblib
from bot.i18n import N_, Text
from bot.jobs.admission import AuditBlocked
from bot.jobs.sink import DeliveryError, ResultSink
from bot.models import FailureReason, Job, JobResult, JobState, utcnow
from bot.ops.metrics import JobMetrics
from bot.storage import Store

log = logging.getLogger(__name__)


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


def billed(job: Job, reported: int | None) -> int:
    """LiblibAI's bill for ``job``'s task: the ``pointsCost`` it reported, or, when it reported none, the
    estimate the job reserved (an unknown cost is never taken for 0)."""
    return reported if reported is not None else job.points_reserved


def bill_after(job: Job, error: liblib.LiblibError) -> int | None:
    """What ``job``'s task (it exists at LiblibAI) is billed when following it ended with ``error``: the cost
    LiblibAI reported with a terminal status, else the estimate; None (nothing) only when LiblibAI says the
    task does not exist."""
    if isinstance(error, liblib.LiblibTaskNotFoundError):
        return None
    return billed(job, getattr(error, "points_cost", None))


class JobFailer:
    """Ends a job that did not succeed: FAILED or EXPIRED (and tells the member), or CANCELLED when its member
    cancelled it after its submit. The store settles the job at LiblibAI's bill in that same move: charged what
    LiblibAI billed (``points_cost``), refunded exactly once when it billed nothing."""

    def __init__(
        self, store: Store, sink: ResultSink, metrics: JobMetrics, *, audit_blocked: AuditBlocked | None = None
    ) -> None:
        self._store = store
        self._sink = sink
        self._metrics = metrics
        self._audit_blocked = audit_blocked

    async def fail(
        self,
        job: Job,
        expected: tuple[JobState, ...],
        reason: FailureReason,
        detail: Text,
        *,
        expired: bool = False,
        points_cost: int | None = None,
    ) -> None:
        """Move ``job`` from one of ``expected`` (a guarded transition: nothing happens if it moved on).
        ``points_cost``: LiblibAI's bill for its task (None: none, or already recorded on the job). A RUNNING
        job whose member cancelled it ends CANCELLED instead, with the same bill and no notice."""
        new = JobState.EXPIRED if expired else JobState.FAILED
        bill = _bill(points_cost)
        failed = await self._store.transition(
            job.id, expected, new, when_cancel_requested=False, failure_reason=reason, failure_detail=detail, **bill
        )
        if failed is None:
            if JobState.RUNNING in expected:
                await self.finish_cancelled(job, points_cost=points_cost)
            return
        if reason is FailureReason.AUDIT_REJECTED:
            failed = await self._audit_consequence(failed)
        log_job_event(failed, "failed", reason=str(reason), refunded=failed.refunded)
        self._metrics.job_entered(failed)
        try:
            await self._sink.notify_failure(failed)
        except DeliveryError as exc:  # e.g. the channel is gone and the interaction token expired
            log.warning("job %s: could not tell the member about the failure: %s", job.id, exc)
        except Exception:
            log.exception("job %s: could not tell the member about the failure", job.id)

    async def finish_cancelled(
        self, job: Job, *, points_cost: int | None = None, result: JobResult | None = None
    ) -> Job | None:
        """End a RUNNING job whose member cancelled it, now that its task ended at LiblibAI: CANCELLED, charged
        ``points_cost`` (refunded when LiblibAI billed nothing). The member was told at the cancel; the result
        (kept for the record) is never shown. None when the job was not a cancelled RUNNING job."""
        fields: dict[str, Any] = _bill(points_cost) | ({"result": result} if result is not None else {})
        cancelled = await self._store.transition(
            job.id,
            JobState.RUNNING,
            JobState.CANCELLED,
            when_cancel_requested=True,
            failure_reason=FailureReason.CANCELLED,
            failure_detail=Text(N_("Cancelled.")),
            **fields,
        )
        if cancelled is not None:
            log_job_event(cancelled, "cancelled", after="task ended at LiblibAI", refunded=cancelled.refunded)
            self._metrics.job_entered(cancelled)
        return cancelled

    async def _audit_consequence(self, job: Job) -> Job:
        """A batch the audit blocked entirely was billed: the quotas' consequence (a strike), told with the notice."""
        if self._audit_blocked is None or job.failure_detail is None:
            return job
        try:
            note = await self._audit_blocked(job)
        except Exception:
            log.exception("job %s: could not record the audit block's strike", job.id)
            return job
        if note is None:
            return job
        detail = Text(N_("{detail} {note}"), {"detail": job.failure_detail, "note": note})
        await self._store.update_job(job.id, failure_detail=detail)
        job.failure_detail = detail
        return job


def unknown_bill(job: Job) -> int:
    """What a job whose task LiblibAI may have billed, unseen (a submit of unknown outcome), is settled at: its
    estimate. A missing bill is never taken as 0."""
    return job.points_reserved


def _bill(points_cost: int | None) -> dict[str, Any]:
    """The transition field recording LiblibAI's bill, when there is one to record."""
    return {"points_cost": points_cost} if points_cost is not None else {}
