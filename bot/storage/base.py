"""The store ports, split by concern, and the records they carry.

- ``JobStore``: jobs and their guarded moves (with the quota reservation taken, refunded or settled);
- ``UsageStore``: the quota counters; ``GuildSettingsStore``: server settings, the admin audit trail,
  the prompt log, strikes and member timers; ``QuotaStore``: both, for the quota rules;
- ``StyleStore``: the servers' style presets; ``PreferenceStore``: each member's personal defaults;
- ``MetaStore``: a small key/value table; ``LeaseStore``: the dispatcher ``Lease``;
- ``Store``: all of them plus health and closing, for the composition root.

Adapters: SqliteStore (one process) and PostgresStore (several processes on one database).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from bot.models import Job, JobState, Preferences, Style, UsageDebit


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
    """What a finished job really cost. Debits are adjusted from reserved to actual, unchecked.

    ``images`` (``points``) None keeps each debit's reserved images (points): a billed job that delivered no
    image still used the images it reserved.
    """

    images: int | None
    points: int | None


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One quota counter (see UsageDebit for the meaning of scope and window)."""

    scope: str
    scope_id: int
    window: str
    images: int
    points: int


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One change made by a server admin: who, what (action + JSON detail), when."""

    guild_id: int
    actor_id: int
    action: str
    detail: str
    created_at: datetime
    id: int | None = None  # set by the store


@dataclass(frozen=True, slots=True)
class PromptLogEntry:
    """Who asked what, where and when (for moderation). The job columns are joined when listed."""

    guild_id: int | None  # None: a direct message
    channel_id: int
    user_id: int
    job_id: str
    mode: str
    prompt: str
    created_at: datetime
    negative_prompt: str | None = None
    id: int | None = None  # set by the store
    job_state: str | None = None  # joined from jobs when listed (None once the job row is gone)
    images: int | None = None
    points: int | None = None  # the settled cost, else the reservation


class InvalidTransitionError(Exception):
    """A transition not in models.TRANSITIONS was requested (a programming error)."""


@dataclass(frozen=True, slots=True)
class Fence:
    """A fencing token: ``holder`` acquired lease ``lease`` as its ``epoch``-th holder.

    The epoch grows with every acquisition (never with a renewal), so a holder deposed since (another
    process took the lease over, even if it was given back later) carries a stale token. A transition made
    with ``fence`` happens only while the token is the lease's current one (see ``JobStore.transition``)."""

    lease: str
    holder: str
    epoch: int


class Lease(Protocol):
    """A named lease held by one holder at a time, until it expires (the dispatcher election)."""

    async def acquire_or_renew(self, holder_id: str) -> Fence | None:
        """Take the lease if it is free or expired, or extend it if ``holder_id`` holds it.
        The holder's fencing token when ``holder_id`` holds it now (a renewal keeps the epoch, an
        acquisition starts a new one), None when another holder does; raises when the database cannot
        answer (the caller cannot tell, so it keeps its belief until it lapses)."""

    async def release(self, holder_id: str) -> None:
        """Give the lease up at once (clean shutdown) so a standby need not wait for the expiry."""


class JobStore(Protocol):
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
        when_cancel_requested: bool | None = None,
        fence: Fence | None = None,
        **fields: Any,
    ) -> Job | None:
        """Move the job from one of ``expected`` to ``new`` and set ``fields`` (Job attribute names),
        in one guarded transaction. Returns the updated job, or None when its state was not expected; with
        ``when_cancel_requested``, when a cancel was not requested (True) or was (False); or when ``fence``
        is given and is no longer its lease's current token (the holder was deposed; a store one process
        owns has no one to fence out, so there every token holds).

        A move into a terminal state settles ``job.debits`` in the same transaction (so exactly once), by
        LiblibAI's bill: with ``settlement`` (SUCCEEDED only) at those images and points; else at the job's
        ``points_cost`` (as stored or set by this move), each debit keeping its images. A job LiblibAI billed
        nothing (``points_cost`` None or 0) is refunded (``refunded`` set) when it fails, is cancelled or
        expires, and keeps its reservation when it succeeds."""

    async def request_cancel(self, job_id: str, expected: JobState | Iterable[JobState]) -> Job | None:
        """Record (once; later calls keep the first time) that the job was cancelled while in one of
        ``expected``, without moving it: a job LiblibAI accepted is followed to its end and then moved to
        CANCELLED with its bill. Returns the job, or None when it is in none of ``expected``."""

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
        created_since: datetime | None = None,
    ) -> list[Job]:
        """Jobs in ``states`` (created at or after ``created_since`` when given), oldest first by creation
        (newest first when asked)."""

    async def points_charged_since(self, since: datetime) -> tuple[int, datetime | None]:
        """The points charged for jobs created at or after ``since`` (all servers and direct messages), and
        when the oldest of those charged jobs was created (None: nothing was charged)."""

    async def count_active(self, user_id: int) -> int: ...

    async def find_recent_by_fingerprint(
        self, fingerprint: str, *, since: datetime, guild_id: int | None, user_id: int | None = None
    ) -> Job | None:
        """The newest SUCCEEDED job with a result, this ``fingerprint`` and ``created_at >= since``, in
        that guild (``guild_id`` None: direct messages) and, when given, of that user; None if none."""

    async def clear_interaction_tokens(self, finished_before: datetime) -> int:
        """Forget (set to None) the interaction token of every finished job (a terminal state) whose
        ``finished_at`` is before ``finished_before``; returns how many. Active jobs keep theirs."""

    async def prune_jobs(self, finished_before: datetime) -> int:
        """Delete every finished job (a terminal state) whose ``finished_at`` is before ``finished_before``;
        returns how many. Never deletes an active job, however old."""


class UsageStore(Protocol):
    async def get_usage(self, scope: str, scope_id: int, window: str) -> tuple[int, int]:
        """(images, points) used in that counter; (0, 0) when none."""

    async def list_usage(self, scope: str, window: str, *, limit: int | None = None) -> list[UsageRow]:
        """Every counter of ``scope`` in ``window``, most points first (then most images, then scope_id)."""

    async def reset_usage(self, scope: str, scope_id: int, windows: Iterable[str]) -> None:
        """Zero those counters (an admin's reset). Later refunds of older jobs clamp at zero."""


class GuildSettingsStore(Protocol):
    async def get_guild_config(self, guild_id: int) -> dict[str, dict[str, Any]]:
        """Every scope's stored settings object ("server", "channel:<id>", "role:<id>", "member:<id>")."""

    async def set_guild_config(self, guild_id: int, scope: str, config: dict[str, Any] | None) -> None:
        """Replace one scope's settings object (JSON-serialisable); None or {} deletes it."""

    async def append_audit(self, entry: AuditEntry) -> None: ...

    async def list_audit(self, guild_id: int, *, limit: int = 20) -> list[AuditEntry]:
        """Newest first."""

    async def append_prompt_log(self, entry: PromptLogEntry, *, prune_before: datetime | None = None) -> None:
        """Record a prompt; with ``prune_before``, also delete entries created before it (retention)."""

    async def list_prompt_log(
        self, guild_id: int, *, user_id: int | None = None, limit: int = 20
    ) -> list[PromptLogEntry]:
        """Newest first, with each job's state, images and points joined."""

    async def prune_prompt_log(self, before: datetime) -> int:
        """Delete entries created before ``before``; returns how many."""

    async def add_strike(self, guild_id: int, user_id: int, at: datetime, *, since: datetime) -> int:
        """Record a strike at ``at``, forget the member's strikes older than ``since`` and return how
        many remain (this one included). ``guild_id`` 0 stands for direct messages."""

    async def clear_strikes(self, guild_id: int, user_id: int) -> int: ...

    async def get_timer(self, guild_id: int, user_id: int, kind: str) -> datetime | None:
        """When the member's ``kind`` timer ("cooldown", "blocked", ...) ends, or None."""

    async def set_timer(self, guild_id: int, user_id: int, kind: str, until: datetime | None) -> None:
        """Set (or with None clear) a member's timer."""

    async def claim_timer(
        self, guild_id: int, user_id: int, kind: str, *, now: datetime, until: datetime
    ) -> datetime | None:
        """Atomically start the timer (ending at ``until``) unless one is still running at ``now``.
        Returns None when started, else the running timer's end."""


class QuotaStore(UsageStore, GuildSettingsStore, Protocol):
    """What the quota rules and the server admin read and write: counters and server settings."""


class StyleStore(Protocol):
    """The style presets of each server (``/style``); bot-wide styles live in the settings, not here."""

    async def list_styles(self, guild_id: int) -> list[Style]:
        """The server's styles, by name."""

    async def insert_style(self, style: Style) -> bool:
        """Add ``style`` to its server (``style.guild_id``); False when that server has one of that name."""

    async def update_style(self, style: Style) -> bool:
        """Replace the server's style of that name with ``style``; False when there is none."""

    async def delete_style(self, guild_id: int, name: str) -> bool:
        """Remove the server's style ``name``; False when there was none."""


class PreferenceStore(Protocol):
    """Each member's personal defaults (``/prefer``), one set per member for every server."""

    async def get_preferences(self, user_id: int) -> Preferences | None: ...

    async def set_preferences(self, user_id: int, preferences: Preferences | None) -> None:
        """Replace the member's defaults; None, or none set, forgets them."""


class MetaStore(Protocol):
    async def get_meta(self, key: str) -> str | None: ...

    async def set_meta(self, key: str, value: str) -> None: ...


class LeaseStore(Protocol):
    @property
    def multi_process(self) -> bool:
        """True when several bot processes may share this database (then one is elected dispatcher)."""

    def lease(self, name: str, *, ttl_seconds: float) -> Lease:
        """The lease called ``name`` on this database; a holder keeps it ``ttl_seconds`` per renewal."""


class Store(JobStore, QuotaStore, StyleStore, PreferenceStore, MetaStore, LeaseStore, Protocol):
    """Every port of one database, for the composition root."""

    async def ping(self) -> bool:
        """True when the database answers (health checks)."""

    async def close(self) -> None: ...
