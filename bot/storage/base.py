"""The Store port: durable jobs and quota counters. Adapters: SqliteStore (default), later PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from bot.models import Job, JobState, UsageDebit


class EnqueueOutcome(StrEnum):
    OK = "ok"
    TOO_MANY_ACTIVE = "too_many_active"
    QUEUE_FULL = "queue_full"
    QUOTA_EXCEEDED = "quota_exceeded"


@dataclass(frozen=True, slots=True)
class EnqueueResult:
    outcome: EnqueueOutcome
    # For QUOTA_EXCEEDED: the debit that did not fit and that counter's totals before this request.
    failed_debit: UsageDebit | None = None
    used_images: int = 0
    used_points: int = 0
    # For TOO_MANY_ACTIVE / QUEUE_FULL: the count that hit the cap.
    active_count: int = 0
    queue_position: int = 0  # 1-based position among queued jobs when OK


@dataclass(frozen=True, slots=True)
class Settlement:
    """On success: what the job really cost. Debits are adjusted from reserved to actual, unchecked."""

    images: int
    points: int


class InvalidTransitionError(Exception):
    """A transition not in models.TRANSITIONS was requested (a programming error)."""


class Store(Protocol):
    async def enqueue(
        self, job: Job, *, max_active_per_user: int | None = None, max_queued_total: int | None = None
    ) -> EnqueueResult:
        """Atomically: check the per-user active cap and the queue cap, apply every debit in
        ``job.debits`` within its limits, and insert the job. All or nothing."""

    async def get_job(self, job_id: str) -> Job | None: ...

    async def transition(
        self,
        job_id: str,
        expected: JobState | Iterable[JobState],
        new: JobState,
        *,
        settlement: Settlement | None = None,
        **fields: Any,
    ) -> Job | None:
        """Move the job from one of ``expected`` to ``new`` and set ``fields`` (Job attribute names),
        in one guarded transaction. Returns the updated job, or None when its state was not expected.
        Entering FAILED, CANCELLED or EXPIRED refunds ``job.debits`` exactly once (sets ``refunded``).
        Entering SUCCEEDED with a settlement adjusts the debits to the actual images and points."""

    async def update_job(self, job_id: str, **fields: Any) -> None:
        """Set non-state fields (progress message id, percent, ...)."""

    async def list_jobs(
        self,
        states: Iterable[JobState],
        *,
        guild_id: int | None = None,
        user_id: int | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Job]:
        """Jobs in ``states``, oldest first by creation (newest first when asked)."""

    async def count_active(self, user_id: int) -> int: ...

    async def find_recent_by_fingerprint(
        self, fingerprint: str, *, since: datetime, guild_id: int | None, user_id: int | None = None
    ) -> Job | None:
        """The newest SUCCEEDED job with a result, this ``fingerprint`` and ``created_at >= since``, in
        that guild (``guild_id`` None: direct messages) and, when given, of that user; None if none."""

    async def get_usage(self, scope: str, scope_id: int, window: str) -> tuple[int, int]:
        """(images, points) used in that counter; (0, 0) when none."""

    async def get_meta(self, key: str) -> str | None: ...

    async def set_meta(self, key: str, value: str) -> None: ...

    async def ping(self) -> bool:
        """True when the database answers (health checks)."""

    async def close(self) -> None: ...
