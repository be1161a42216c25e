"""What happens to a job, said once: the structured event log line, the failure mapping, and failing a job."""

from __future__ import annotations

import logging

from bot import liblib
from bot.i18n import N_, Text
from bot.jobs.sink import DeliveryError, ResultSink
from bot.models import FailureReason, Job, JobState, utcnow
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
        case liblib.LiblibRouteNotServedError():
            return FailureReason.MODE_UNAVAILABLE, Text(error.human)
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


class JobFailer:
    """Ends a job as FAILED or EXPIRED (the store refunds its reservation exactly once) and tells the member."""

    def __init__(self, store: Store, sink: ResultSink, metrics: JobMetrics) -> None:
        self._store = store
        self._sink = sink
        self._metrics = metrics

    async def fail(
        self, job: Job, expected: tuple[JobState, ...], reason: FailureReason, detail: Text, *, expired: bool = False
    ) -> None:
        """Move ``job`` from one of ``expected`` (a guarded transition: nothing happens if it moved on)."""
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
