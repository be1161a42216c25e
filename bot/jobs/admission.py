"""The admission port: may this member start this job here, and which quota counters does it reserve?

``JobService.start`` calls ``admit`` for every new job (slash commands, replies, buttons) just before
enqueue. An implementation refuses with a BotError (shown to the member as is) or returns the job with
the ``debits`` the store must reserve atomically at enqueue; then ``enqueued`` once the job is stored,
or ``refused`` when the store refused it. A job with expensive work before it (fetching and publishing
member or result images) is first ``precheck``ed, so a refused member costs no download, upload or
decoding; the pre-check only advises and ``admit`` still decides. Re-posting a stored result (``/show``, an
identical request) asks ``admit_repost``: the same rules, minus what spends. ``quote`` tells what a request
is estimated to cost and whether the member must confirm that first. ``OpenAdmission`` admits everything
for free. ``AuditBlocked`` is the quotas' say once a job has run: what an audit-blocked batch costs its
member beyond its points (a strike).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from bot.i18n import Text
from bot.jobs.sink import Presentation
from bot.models import GenerationRequest, Job


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asks, and where: everything admission rules need, with no Discord objects."""

    user_id: int
    guild_id: int | None
    channel_id: int
    role_ids: tuple[int, ...] = ()
    is_admin: bool = False  # Manage Server in that guild (or the bot owner)
    channel_nsfw: bool = False  # age-restricted channel


@dataclass(frozen=True, slots=True)
class Quote:
    """What a request is estimated to cost, and from what estimate on its member confirms it first."""

    points: int  # the estimate: what the job reserves from points budgets until LiblibAI reports its cost
    confirm_above: int | None = None  # the server's threshold (points); None: never ask

    @property
    def needs_confirm(self) -> bool:
        return self.confirm_above is not None and self.points > self.confirm_above


class Admission(Protocol):
    async def precheck(self, requester: Requester, request: GenerationRequest) -> None:
        """Before a job's expensive work: raise the BotError that ``admit`` (or the store's reservation of the
        debits) would raise as things stand now. Claims nothing (no cooldown, no debit): it only advises,
        and ``admit`` still runs at enqueue."""

    async def admit(self, requester: Requester, job: Job) -> Job:
        """Raise a BotError to refuse; else return ``job`` with the debits to reserve."""

    async def enqueued(self, requester: Requester, job: Job) -> None:
        """Called once the job is stored (cooldowns, the prompt log)."""

    async def refused(self, requester: Requester, job: Job) -> None:
        """Called instead of ``enqueued`` when the store refused the admitted job (caps, quotas): give back
        what ``admit`` claimed for it (a cooldown). Called at most once per admitted job."""

    async def quote(self, requester: Requester, request: GenerationRequest) -> Quote:
        """The request's estimated cost (the price table) and the threshold above which the member confirms."""

    async def default_mode(self, requester: Requester) -> str | None:
        """The mode to use when the member names none (a server's default), or None for the bot's."""

    async def active_cap(self, requester: Requester) -> int | None:
        """A server's cap on the member's queued + running jobs when lower than the bot-wide one, else None.
        The store enforces it atomically at enqueue, together with the bot-wide cap."""

    async def admit_repost(self, requester: Requester, request: GenerationRequest | None = None) -> Presentation:
        """A stored result is about to be re-posted for ``requester`` (free: nothing is reserved or claimed).
        Raise a BotError to refuse, by the rules of ``admit`` about where and who; with ``request`` (a new
        request answered by the re-post) also by its rules about what is asked, banned words included. Else
        return how results are shown there."""


# A job's whole batch was blocked by LiblibAI's content audit (and billed): the quotas' consequence for its
# member (a strike, when the server counts them). Returns what to tell the member about it, or None.
AuditBlocked = Callable[[Job], Awaitable[Text | None]]


class OpenAdmission:
    """No limits: every job is admitted and reserves nothing."""

    async def precheck(self, requester: Requester, request: GenerationRequest) -> None:
        return None

    async def admit(self, requester: Requester, job: Job) -> Job:
        return job

    async def enqueued(self, requester: Requester, job: Job) -> None:
        return None

    async def refused(self, requester: Requester, job: Job) -> None:
        return None

    async def quote(self, requester: Requester, request: GenerationRequest) -> Quote:
        return Quote(0)

    async def default_mode(self, requester: Requester) -> str | None:
        return None

    async def active_cap(self, requester: Requester) -> int | None:
        return None

    async def admit_repost(self, requester: Requester, request: GenerationRequest | None = None) -> Presentation:
        return Presentation()
