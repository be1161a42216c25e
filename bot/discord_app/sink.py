"""DiscordResultSink: posts progress, results and failures for jobs, from stored ids only.

While the interaction token lives (15 min, we keep a margin) the deferred response is edited; after
that, results go to the channel as a reply with the bot token. Channel sends carry a nonce derived
from the job id, so Discord drops a duplicate if a crash makes us deliver twice. Echoed prompts never
ping: the client default is AllowedMentions.none(); only the requester is pinged on channel replies.

Progress edits are best effort: each gives up after PROGRESS_EDIT_TIMEOUT, and none raises. A delivery
that fails for a reason that may pass (the network, a timeout, Discord's 5xx or a rate limit discord.py
did not wait out) raises a transient DeliveryError and the Deliverer posts again; the interaction edit is
retried as such (it is idempotent), never moved to the channel, which could show the result twice if the
failed edit had in fact landed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

import aiohttp
import discord

from bot.discord_app.requester import is_age_restricted
from bot.discord_app.ui import embeds
from bot.i18n import N_
from bot.jobs.sink import DeliveryError, Presentation, PresentationLookup, Progress, ResultSink, Stage
from bot.media.codec import ImageFile
from bot.media.results import MAX_FILES_PER_MESSAGE, message_batches
from bot.media.videos import is_video_file
from bot.models import Job, JobResult, ResultImage, utcnow

log = logging.getLogger(__name__)

ORIGINAL = cast(int, "@original")  # discord.py builds the route from the id as text
# A progress edit gives up after this long: discord.py's own session waits minutes for a hanging Discord, and
# the runner awaits the edit (the submit loop before each submit).
PROGRESS_EDIT_TIMEOUT = 10.0


def is_transient(exc: BaseException) -> bool:
    """Whether a Discord call that raised ``exc`` may succeed if tried again: the network (aiohttp's errors,
    OSError, and so TimeoutError), Discord's 5xx, and rate limits (429 after discord.py's own retries, or
    ``RateLimited`` when the wait was beyond its patience)."""
    if isinstance(exc, discord.RateLimited):
        return True
    if isinstance(exc, discord.HTTPException):
        return exc.status >= 500 or exc.status == 429
    return isinstance(exc, aiohttp.ClientError | OSError)


def _try_later(exc: BaseException) -> DeliveryError:
    retry_after = exc.retry_after if isinstance(exc, discord.RateLimited) else None
    if isinstance(exc, discord.HTTPException):
        return DeliveryError(
            N_("Discord refused the message ({status})."), permanent=False, retry_after=retry_after, status=exc.status
        )
    return DeliveryError(
        N_("Discord did not answer ({error})."), permanent=False, retry_after=retry_after, error=type(exc).__name__
    )


class DiscordResultSink(ResultSink):
    def __init__(
        self,
        client: discord.Client,
        *,
        edit_interval: float = 3.0,
        view_factory: Callable[[Job], discord.ui.View | None] | None = None,
        presentation: PresentationLookup | None = None,
        progress_timeout: float = PROGRESS_EDIT_TIMEOUT,
    ) -> None:
        self._client = client
        self._edit_interval = edit_interval
        self._progress_timeout = progress_timeout
        self._last_edit: dict[str, tuple[float, Stage]] = {}  # job id -> (monotonic time, stage) of its last edit
        self._swept = time.monotonic()
        self._view_factory = view_factory
        self._presentation = presentation
        self._more_posted: dict[str, set[int]] = {}  # job id -> its further messages posted (numbers from 2)

    # -- helpers -----------------------------------------------------------------------------------

    @staticmethod
    def token_alive(job: Job, now: datetime | None = None) -> bool:
        return bool(
            job.interaction_token
            and job.application_id
            and job.interaction_expires_at
            and (now or utcnow()) < job.interaction_expires_at
        )

    def _webhook(self, job: Job) -> discord.Webhook:
        if job.application_id is None or job.interaction_token is None:
            raise DeliveryError(N_("The job has no interaction token."), permanent=False)
        return discord.Webhook.partial(job.application_id, job.interaction_token, client=self._client)

    async def _channel(self, job: Job) -> discord.abc.Messageable:
        channel = self._client.get_channel(job.channel_id)
        if channel is None:
            try:
                channel = await self._client.fetch_channel(job.channel_id)
            except discord.NotFound as exc:
                raise DeliveryError(N_("The channel no longer exists."), permanent=True) from exc
            except discord.Forbidden as exc:
                raise DeliveryError(N_("The bot cannot see the channel any more."), permanent=True) from exc
            except (discord.HTTPException, discord.RateLimited, aiohttp.ClientError, OSError) as exc:
                raise _try_later(exc) from exc
        if not isinstance(channel, discord.abc.Messageable):
            raise DeliveryError(N_("The job's channel cannot receive messages."), permanent=True)
        return channel

    async def _age_restricted(self, job: Job) -> bool:
        """Whether the job's channel is age-restricted; a channel we cannot see counts as not."""
        try:
            channel = await self._channel(job)
        except DeliveryError:
            return False
        return is_age_restricted(channel)

    def _throttled(self, job: Job, stage: Stage) -> bool:
        now = time.monotonic()
        self._forget_stale(now)
        last = self._last_edit.get(job.id)
        if last is not None:
            elapsed = now - last[0]
            # A new stage may show after a short pause; the same stage only every edit_interval.
            if elapsed < (min(1.0, self._edit_interval) if stage is not last[1] else self._edit_interval):
                return True
        self._last_edit[job.id] = (now, stage)
        return False

    def _forget_stale(self, now: float) -> None:
        """Drop entries older than edit_interval (they no longer throttle anything), at most once per interval.

        deliver and notify_failure drop a job's entry, but some jobs reach neither here: a cancelled job, or
        one another process delivers; without this their entries would stay for the life of the process."""
        if now - self._swept < self._edit_interval:
            return
        self._swept = now
        stale = [job_id for job_id, (at, _stage) in self._last_edit.items() if now - at >= self._edit_interval]
        for job_id in stale:
            del self._last_edit[job_id]

    # -- ResultSink --------------------------------------------------------------------------------

    async def progress(self, job: Job, progress: Progress) -> None:
        if self._throttled(job, progress.stage):
            return
        try:
            async with asyncio.timeout(self._progress_timeout):
                await self._edit_progress(job, embeds.progress_text(job, progress))
        except (discord.DiscordException, DeliveryError, aiohttp.ClientError, OSError) as exc:  # TimeoutError too
            # Best effort, never the runner's problem: a failed edit must not hold up a submit or a delivery.
            log.debug("job %s: progress edit skipped: %r", job.id, exc)
        except Exception:
            log.warning("job %s: progress edit failed unexpectedly", job.id, exc_info=True)

    async def _edit_progress(self, job: Job, text: str) -> None:
        if self.token_alive(job):
            await self._webhook(job).edit_message(ORIGINAL, content=text)
        elif job.progress_message_id and job.interaction_token is None:
            # Flows without an interaction (reply + mention) post a progress message of their own.
            channel = await self._channel(job)
            if isinstance(channel, discord.abc.GuildChannel | discord.DMChannel | discord.Thread):
                await channel.get_partial_message(job.progress_message_id).edit(content=text)

    async def deliver(self, job: Job, result: JobResult, images: list[ImageFile]) -> int | None:
        elapsed = (utcnow() - job.created_at).total_seconds()
        shown = JobResult(
            images=tuple(
                ResultImage(url=i.url, seed=i.seed, width=f.width, height=f.height)
                for i, f in zip(result.images, images, strict=False)
            ),
            points_cost=result.points_cost,
            blocked_count=result.blocked_count,
            videos=result.videos,
        )
        look = await self._presentation(job) if self._presentation else Presentation()
        note = None
        if await look.withholds(result, lambda: self._age_restricted(job)):
            images = []
            note = embeds.withheld_note(job.locale)
            shown = dataclasses.replace(shown, videos=())  # their links too
        if not look.audit_notice:
            shown = dataclasses.replace(shown, blocked_count=0)
        attached_videos = sum(1 for f in images if is_video_file(f.filename))
        embed = embeds.result_embed(job, shown, elapsed=elapsed, note=note, attached_videos=attached_videos)
        view = self._view_factory(job) if self._view_factory else None
        self._last_edit.pop(job.id, None)
        first, *more = message_batches(images)  # Discord shows 10 files a message: the rest follow it
        if self.token_alive(job):
            try:
                # view=None also removes the progress message's Cancel button
                message = await self._webhook(job).edit_message(
                    ORIGINAL, content="", embed=embed, attachments=_files(first), view=view
                )
            except discord.HTTPException as exc:
                if exc.status == 413:
                    raise DeliveryError(N_("The images are too large for this channel."), permanent=True) from exc
                if is_transient(exc):
                    raise _try_later(exc) from exc
                # A definite refusal: the response message was deleted (404), the token revoked (401)...
                log.info("job %s: interaction delivery failed (%s); using the channel", job.id, exc.status)
            except (discord.RateLimited, aiohttp.ClientError, OSError) as exc:
                raise _try_later(exc) from exc
            else:
                await self._post_more(job, more, total=len(images), result_id=message.id)
                return message.id
        message_id = await self._send_to_channel(job, embed=embed, files=first, view=view, nonce_tag="r")
        await self._post_more(job, more, total=len(images), result_id=message_id)
        await self._drop_progress_message(job)
        return message_id

    async def _post_more(self, job: Job, batches: list[list[ImageFile]], *, total: int, result_id: int) -> None:
        """A result's further images, 10 to a message, after its first message (``result_id``): through the
        interaction while its token lives, else in the channel as replies to the result. A batch posted before a
        failed attempt is not posted again when the Deliverer retries."""
        posted = self._more_posted.setdefault(job.id, set())
        for number, batch in enumerate(batches, start=2):
            if number in posted:
                continue
            start = (number - 1) * MAX_FILES_PER_MESSAGE + 1
            text = embeds.more_images_text(job, start, start + len(batch) - 1, total)
            if not await self._follow_up(job, text, batch):
                await self._send_more_to_channel(job, text, batch, nonce_tag=f"r{number}", reference_id=result_id)
            posted.add(number)
        self._more_posted.pop(job.id, None)

    async def _follow_up(self, job: Job, text: str, files: list[ImageFile]) -> bool:
        """Post through the interaction; False when its token is gone or refused (the channel then takes it)."""
        if not self.token_alive(job):
            return False
        try:
            await self._webhook(job).send(
                content=text, files=_files(files), wait=True, allowed_mentions=discord.AllowedMentions.none()
            )
        except discord.HTTPException as exc:
            if exc.status == 413:
                raise DeliveryError(N_("The images are too large for this channel."), permanent=True) from exc
            if is_transient(exc):
                raise _try_later(exc) from exc
            log.info("job %s: interaction follow-up failed (%s); using the channel", job.id, exc.status)
            return False
        except (discord.RateLimited, aiohttp.ClientError, OSError) as exc:
            raise _try_later(exc) from exc
        return True

    async def notify_failure(self, job: Job) -> None:
        embed = embeds.failure_embed(job)
        self._last_edit.pop(job.id, None)
        self._more_posted.pop(job.id, None)
        if self.token_alive(job):
            try:
                await self._webhook(job).edit_message(ORIGINAL, content="", embed=embed, view=None)
                return
            except (discord.HTTPException, discord.RateLimited, aiohttp.ClientError, OSError) as exc:
                log.info("job %s: interaction failure notice failed (%r); using the channel", job.id, exc)
        await self._send_to_channel(job, embed=embed, files=[], view=None, nonce_tag="f")
        await self._drop_progress_message(job)

    async def _drop_progress_message(self, job: Job) -> None:
        """A reply + mention job's own progress message (with its Cancel button) is noise once the outcome
        is posted as a reply of its own: delete it, best effort."""
        if job.interaction_token is not None or not job.progress_message_id:
            return
        try:
            channel = await self._channel(job)
            if isinstance(channel, discord.abc.GuildChannel | discord.DMChannel | discord.Thread):
                await channel.get_partial_message(job.progress_message_id).delete()
        except (discord.DiscordException, DeliveryError, aiohttp.ClientError, OSError) as exc:
            # The outcome is posted: a failure here must not turn a delivered job into a failed one.
            log.debug("job %s: progress message not deleted: %r", job.id, exc)
        except Exception:
            log.warning("job %s: progress message not deleted", job.id, exc_info=True)

    async def _send_to_channel(
        self, job: Job, *, embed: discord.Embed, files: list[ImageFile], view: discord.ui.View | None, nonce_tag: str
    ) -> int:
        kwargs: dict[str, Any] = {
            "content": f"<@{job.user_id}>",
            "embed": embed,
            "files": _files(files),
            # Only the requester may be pinged; the embed (with the prompt) never pings.
            "allowed_mentions": discord.AllowedMentions(users=[discord.Object(job.user_id)], replied_user=False),
            "nonce": f"{nonce_tag}{job.id}",
            **_view_kw(view),
        }
        return await self._channel_send(job, kwargs, job.reply_to_message_id or job.progress_message_id, bool(files))

    async def _send_more_to_channel(
        self, job: Job, text: str, files: list[ImageFile], *, nonce_tag: str, reference_id: int
    ) -> int:
        """A result's further images, in a reply to its first message that pings nobody."""
        kwargs: dict[str, Any] = {
            "content": text,
            "files": _files(files),
            "allowed_mentions": discord.AllowedMentions.none(),
            "nonce": f"{nonce_tag}{job.id}",
        }
        return await self._channel_send(job, kwargs, reference_id, bool(files))

    async def _channel_send(self, job: Job, kwargs: dict[str, Any], reference_id: int | None, files: bool) -> int:
        channel = await self._channel(job)
        if reference_id:
            kwargs["reference"] = discord.MessageReference(
                message_id=reference_id, channel_id=job.channel_id, fail_if_not_exists=False
            )
        try:
            message = await channel.send(**kwargs)
        except discord.Forbidden as exc:
            lacks = (
                N_("The bot lacks the Send Messages and Attach Files permissions in that channel.")
                if files
                else N_("The bot lacks the Send Messages permission in that channel.")
            )
            raise DeliveryError(lacks, permanent=True) from exc
        except discord.NotFound as exc:
            raise DeliveryError(N_("The channel no longer exists."), permanent=True) from exc
        except discord.HTTPException as exc:
            if exc.status == 413:
                raise DeliveryError(N_("The images are too large for this channel."), permanent=True) from exc
            if is_transient(exc):
                raise _try_later(exc) from exc
            raise DeliveryError(
                N_("Discord refused the message ({status})."), permanent=True, status=exc.status
            ) from exc
        except (discord.RateLimited, aiohttp.ClientError, OSError) as exc:  # worth another try later
            raise _try_later(exc) from exc
        return message.id


def _files(images: list[ImageFile]) -> list[discord.File]:
    return [discord.File(io.BytesIO(i.data), filename=i.filename) for i in images]


def _view_kw(view: discord.ui.View | None) -> dict[str, Any]:
    return {"view": view} if view is not None else {}
