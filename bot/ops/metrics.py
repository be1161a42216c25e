"""Prometheus metrics: the metric objects and the few calls the runner and the Discord client make.

Each ``Metrics`` owns its own ``CollectorRegistry`` (one per Runtime), so two bots in one process, as
in the tests, never collide. The runner only sees the small ``JobMetrics`` protocol; ``NULL_METRICS``
is its default, so the runner works without any of this.
"""

from __future__ import annotations

import time
from datetime import datetime
from types import SimpleNamespace
from typing import Protocol

import aiohttp
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot import liblib
from bot.models import Job, JobState

# Seconds: from a short wait up to LiblibAI's 30-minute task limit.
_QUEUE_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
_GENERATION_BUCKETS = (2.5, 5, 10, 15, 20, 30, 45, 60, 90, 120, 300, 600, 1800)


class JobMetrics(Protocol):
    """What the job runner reports (see ``bot/jobs.py``)."""

    def job_entered(self, job: Job) -> None:
        """``job`` has just moved into ``job.state``."""

    def generation_finished(self, seconds: float) -> None:
        """A task finished generating (submit or resume to a terminal status)."""

    def liblib_error(self, error: BaseException) -> None:
        """A LiblibAI call failed (after the client's own retries)."""


class _NullMetrics:
    def job_entered(self, job: Job) -> None:
        pass

    def generation_finished(self, seconds: float) -> None:
        pass

    def liblib_error(self, error: BaseException) -> None:
        pass


NULL_METRICS: JobMetrics = _NullMetrics()


def error_label(error: BaseException) -> str:
    """The ``code`` label: the API's error code when there is one, else the error's class name."""
    code = getattr(error, "code", None)
    return str(code) if code is not None else type(error).__name__


def _unreachable(error: BaseException) -> bool:
    return isinstance(error, liblib.LiblibConnectionError | liblib.LiblibServerError)


class Metrics:
    """Every metric the bot exports, plus the last LiblibAI call outcome for ``/healthz``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.jobs = Counter("liblib_bot_jobs", "Jobs entering each state", ["state"], registry=r)
        self.queue_depth = Gauge("liblib_bot_queue_depth", "Jobs waiting in the queue", registry=r)
        self.time_in_queue = Histogram(
            "liblib_bot_time_in_queue_seconds", "From enqueue to submit", buckets=_QUEUE_BUCKETS, registry=r
        )
        self.generation_time = Histogram(
            "liblib_bot_generation_seconds", "From submit to the finished task", buckets=_GENERATION_BUCKETS, registry=r
        )
        self.liblib_errors = Counter("liblib_bot_liblib_errors", "LiblibAI errors by API code", ["code"], registry=r)
        self.points_spent = Counter(
            "liblib_bot_points_spent", "LiblibAI points charged for finished jobs (as LiblibAI billed them)", registry=r
        )
        self.discord_errors = Counter(
            "liblib_bot_discord_api_errors", "Discord API error responses by HTTP status", ["status"], registry=r
        )
        self.account_balance = Gauge(
            "liblib_bot_account_balance_points", "The LiblibAI account balance last reported (points)", registry=r
        )
        self.account_balance_time = Gauge(
            "liblib_bot_account_balance_timestamp_seconds", "When that balance was reported (Unix time)", registry=r
        )
        # None until the first LiblibAI outcome; then whether the last call reached the API.
        self.liblib_reachable: bool | None = None
        self.liblib_last_error: str = ""
        self.liblib_last_at: float | None = None

    # -- JobMetrics ---------------------------------------------------------------------------------

    def job_entered(self, job: Job) -> None:
        self.jobs.labels(state=str(job.state)).inc()
        if job.state is JobState.RUNNING:
            self._liblib_outcome(None)
            if job.submitted_at is not None:
                self.time_in_queue.observe(max(0.0, (job.submitted_at - job.created_at).total_seconds()))
        elif job.state.terminal and job.points_cost and not job.refunded:  # delivered, or billed without a result
            self.points_spent.inc(job.points_cost)

    def generation_finished(self, seconds: float) -> None:
        self._liblib_outcome(None)
        self.generation_time.observe(seconds)

    def liblib_error(self, error: BaseException) -> None:
        self.liblib_errors.labels(code=error_label(error)).inc()
        self._liblib_outcome(error)

    def _liblib_outcome(self, error: BaseException | None) -> None:
        self.liblib_reachable = error is None or not _unreachable(error)
        self.liblib_last_error = "" if error is None else error_label(error)
        self.liblib_last_at = time.monotonic()

    def balance_seen(self, points: int, at: datetime) -> None:
        self.account_balance.set(points)
        self.account_balance_time.set(at.timestamp())

    # -- Discord ------------------------------------------------------------------------------------

    def discord_trace(self) -> aiohttp.TraceConfig:
        """An aiohttp trace for discord.py's ``http_trace`` option: counts every error response.

        discord.py sends REST calls and interaction webhooks through one session, so this sees both,
        including the 429s it retries by itself.
        """
        trace = aiohttp.TraceConfig()

        async def on_end(
            session: aiohttp.ClientSession, ctx: SimpleNamespace, params: aiohttp.TraceRequestEndParams
        ) -> None:
            if params.response.status >= 400:
                self.discord_errors.labels(status=str(params.response.status)).inc()

        async def on_exception(
            session: aiohttp.ClientSession, ctx: SimpleNamespace, params: aiohttp.TraceRequestExceptionParams
        ) -> None:
            self.discord_errors.labels(status="connection").inc()

        trace.on_request_end.append(on_end)
        trace.on_request_exception.append(on_exception)
        return trace

    # -- export -------------------------------------------------------------------------------------

    def render(self) -> bytes:
        return generate_latest(self.registry)
