"""The ResultSink port: where the runner reports progress, results and failures.

The runner knows nothing about Discord; `bot.discord_app.sink.DiscordResultSink` is the adapter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot.i18n import Text
from bot.media.codec import ImageFile
from bot.models import Job, JobResult

__all__ = [
    "DeliveryError",
    "Presentation",
    "PresentationLookup",
    "Progress",
    "ResultSink",
    "Stage",
]


class Stage(StrEnum):
    QUEUED = "queued"
    SUBMITTING = "submitting"
    WAITING = "waiting"  # accepted by LiblibAI, waiting for a worker there
    GENERATING = "generating"
    AUDITING = "auditing"
    DELIVERING = "delivering"


@dataclass(frozen=True, slots=True)
class Presentation:
    """How a server wants results shown in one place (its audit settings), looked up whenever a result is posted:
    delivered, or re-posted (``/show``, an identical request). Direct messages follow no server's rule."""

    audit_notice: bool = True  # say how many images the content audit filtered
    flagged_only_nsfw: bool = False  # a batch the audit partly filtered: the rest only in age-restricted channels

    async def withholds(self, result: JobResult, age_restricted: Callable[[], Awaitable[bool]]) -> bool:
        """Whether ``result`` is posted without its images: a batch the content audit partly filtered, where the
        server shows such batches only in age-restricted channels, and ``age_restricted()`` says this place is
        not one (asked only then: looking a channel up may cost a request)."""
        return bool(result.blocked_count) and self.flagged_only_nsfw and not await age_restricted()


PresentationLookup = Callable[[Job], Awaitable[Presentation]]


@dataclass(frozen=True, slots=True)
class Progress:
    stage: Stage
    position: int | None = None  # in the queue
    percent: float | None = None  # how far along (0–1) while LiblibAI has it: ``bot.jobs.progress``
    elapsed: float | None = None  # seconds since the submit
    eta: float | None = None  # seconds until it starts (queued) or until its result (at LiblibAI)


class DeliveryError(Exception):
    """The result could not be posted anywhere; ``permanent`` when retrying cannot help.

    ``text`` (a msgid and its parameters) is stored as the job's failure detail and shown in its language.
    ``retry_after``: seconds the platform asked us to wait (a rate limit the client did not wait out itself)."""

    def __init__(self, msgid: str, /, *, permanent: bool, retry_after: float | None = None, **params: object) -> None:
        self.text = Text(msgid, params)
        super().__init__(str(self.text))
        self.permanent = permanent
        self.retry_after = retry_after


class ResultSink(Protocol):
    async def progress(self, job: Job, progress: Progress) -> None:
        """Best effort: throttled, and never raises (every failure is swallowed by the adapter)."""

    async def deliver(self, job: Job, result: JobResult, images: list[ImageFile]) -> int | None:
        """Post the result; return the message id. Must be idempotent per job (safe to repeat after a crash).

        Raises only DeliveryError: ``permanent=False`` for what may pass (network, timeouts, 5xx, rate limits),
        which the Deliverer tries again until the job's delivering deadline."""

    async def notify_failure(self, job: Job) -> None:
        """Tell the member why ``job`` failed (``job.failure_reason`` / ``failure_detail``)."""
