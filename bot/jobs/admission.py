"""The admission port: may this member start this job here, and which quota counters does it reserve?

``JobService.start`` calls ``admit`` for every new job (slash commands, replies, buttons) just before
enqueue. An implementation refuses with a BotError (shown to the member as is) or returns the job with
the ``debits`` the store must reserve atomically at enqueue; then ``enqueued`` once the job is stored,
or ``refused`` when the store refused it. ``OpenAdmission`` admits everything for free. ``AuditBlocked`` is the
quotas' say once a job has run: what an audit-blocked batch costs its member beyond its points (a strike).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from bot.i18n import Text
from bot.models import Job


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asks, and where: everything admission rules need, with no Discord objects."""

    user_id: int
    guild_id: int | None
    channel_id: int
    role_ids: tuple[int, ...] = ()
    is_admin: bool = False  # Manage Server in that guild (or the bot owner)
    channel_nsfw: bool = False  # age-restricted channel


class Admission(Protocol):
    async def admit(self, requester: Requester, job: Job) -> Job:
        """Raise a BotError to refuse; else return ``job`` with the debits to reserve."""

    async def enqueued(self, requester: Requester, job: Job) -> None:
        """Called once the job is stored (cooldowns, the prompt log)."""

    async def refused(self, requester: Requester, job: Job) -> None:
        """Called instead of ``enqueued`` when the store refused the admitted job (caps, quotas): give back
        what ``admit`` claimed for it (a cooldown). Called at most once per admitted job."""

    async def default_mode(self, requester: Requester) -> str | None:
        """The mode to use when the member names none (a server's default), or None for the bot's."""

    async def active_cap(self, requester: Requester) -> int | None:
        """A server's cap on the member's queued + running jobs when lower than the bot-wide one, else None.
        The store enforces it atomically at enqueue, together with the bot-wide cap."""


# A job's whole batch was blocked by LiblibAI's content audit (and billed): the quotas' consequence for its
# member (a strike, when the server counts them). Returns what to tell the member about it, or None.
AuditBlocked = Callable[[Job], Awaitable[Text | None]]


class OpenAdmission:
    """No limits: every job is admitted and reserves nothing."""

    async def admit(self, requester: Requester, job: Job) -> Job:
        return job

    async def enqueued(self, requester: Requester, job: Job) -> None:
        return None

    async def refused(self, requester: Requester, job: Job) -> None:
        return None

    async def default_mode(self, requester: Requester) -> str | None:
        return None

    async def active_cap(self, requester: Requester) -> int | None:
        return None
