"""Re-post a past job's result as the response to an interaction, with working buttons; and a result image
as posted on Discord, for Vary and Upscale once LiblibAI's result URL has expired.

Used by ``/show`` and by ``/imagine`` when an identical seeded request was rendered recently. The
images come from the stored LiblibAI result URLs through the LiblibClient (as delivery does); if those
have expired, the attachments of the original result message are copied instead (a fetched message
carries fresh attachment URLs). Only if both are gone does the member get a friendly error. Re-posts are
admitted (``Admission.admit_repost``) and presented (``Presentation.withholds``) like new jobs and deliveries.
"""

from __future__ import annotations

import io
import logging

import discord

from bot.discord_app.requester import requester_from_interaction
from bot.discord_app.ui.embeds import more_images_text, result_embed, withheld_note
from bot.discord_app.ui.offers import offers_for
from bot.discord_app.ui.views import result_view
from bot.jobs.admission import Admission
from bot.media.codec import ImageFile, normalize_for_discord
from bot.media.results import (
    MAX_FILES_PER_MESSAGE,
    ResultUnavailableError,
    fetch_result_files,
    message_batches,
    per_file_limit,
)
from bot.media.transport import ImageTransport
from bot.models import GenerationRequest, Job, JobResult, ResultImage

log = logging.getLogger(__name__)


async def _result_message(interaction: discord.Interaction, job: Job) -> discord.Message:
    """The job's result message, fetched (so its attachment URLs are fresh)."""
    if job.result_message_id is None:
        raise ResultUnavailableError(job.id)
    client = interaction.client
    channel = client.get_channel(job.channel_id) or await client.fetch_channel(job.channel_id)
    if not isinstance(channel, discord.abc.Messageable):
        raise ResultUnavailableError(job.id)
    return await channel.fetch_message(job.result_message_id)


def _images(message: discord.Message) -> list[discord.Attachment]:
    return [a for a in message.attachments if (a.content_type or "").startswith("image/")]


async def posted_result_image(interaction: discord.Interaction, job: Job, index: int) -> tuple[bytes, str]:
    """Result image ``index`` as posted on Discord, with its URL: from the message clicked (the result, or a
    re-post of it), else from the job's result message. Raises ResultUnavailableError when neither has it."""
    try:
        images = _images(interaction.message) if interaction.message is not None else []
        if not 0 <= index < len(images):
            images = _images(await _result_message(interaction, job))
        if not 0 <= index < len(images):
            raise ResultUnavailableError(job.id)
        return await images[index].read(), images[index].url
    except discord.HTTPException as exc:
        raise ResultUnavailableError(job.id) from exc


async def _from_result_message(
    transport: ImageTransport, interaction: discord.Interaction, job: Job, max_file_bytes: int
) -> list[ImageFile]:
    try:
        message = await _result_message(interaction, job)
        images = _images(message)
        limit = per_file_limit(len(images), max_file_bytes)
        files = [
            await transport.workers.run(normalize_for_discord, await a.read(), f"{job.id}_{n + 1}", max_bytes=limit)
            for n, a in enumerate(images)
        ]
    except discord.HTTPException as exc:
        raise ResultUnavailableError(job.id) from exc
    if not files:
        raise ResultUnavailableError(job.id)
    return files


async def result_files(transport: ImageTransport, interaction: discord.Interaction, job: Job) -> list[ImageFile]:
    limit = interaction.filesize_limit
    try:
        return await fetch_result_files(transport, job, max_file_bytes=limit)
    except ResultUnavailableError:
        log.info("job %s: re-posting from the original message's attachments", job.id)
        return await _from_result_message(transport, interaction, job, limit)


async def repost_result(
    transport: ImageTransport,
    admission: Admission,
    interaction: discord.Interaction,
    job: Job,
    *,
    note: str,
    locale: str,
    request: GenerationRequest | None = None,
) -> None:
    """Answer an already-deferred interaction with ``job``'s result; the buttons act for the asker.

    A re-post is free but still shows a result somewhere, to someone, so it follows the rules every result
    and every new job follow: the admission may refuse it (a BotError: where and who; with ``request``, the
    new request it answers, also what), and the place's presentation may withhold a flagged batch's images.
    """
    requester = requester_from_interaction(interaction)
    look = await admission.admit_repost(requester, request)
    stored = job.result.images if job.result else ()

    async def age_restricted() -> bool:
        return requester.channel_nsfw

    if job.result is not None and await look.withholds(job.result, age_restricted):
        files: list[ImageFile] = []
        shown = JobResult(images=stored, points_cost=job.points_cost or 0)
        note = f"{withheld_note(locale)}\n{note}"
    else:
        files = await result_files(transport, interaction, job)
        shown = JobResult(
            images=tuple(
                ResultImage(url=i.url, seed=i.seed, width=f.width, height=f.height)
                for i, f in zip(stored, files, strict=False)
            ),
            points_cost=job.points_cost or 0,
        )
    elapsed = ((job.finished_at or job.created_at) - job.created_at).total_seconds()
    first, *more = message_batches(files)  # Discord shows 10 files a message: the rest follow it
    await interaction.edit_original_response(
        content=None,
        embed=result_embed(job, shown, elapsed=elapsed, note=note, locale=locale),
        attachments=_discord_files(first),
        view=result_view(job, owner_id=interaction.user.id, locale=locale, offers=offers_for(interaction.client)),
    )
    for number, batch in enumerate(more, start=2):
        start = (number - 1) * MAX_FILES_PER_MESSAGE + 1
        text = more_images_text(job, start, start + len(batch) - 1, len(files), locale)
        await interaction.followup.send(
            text, files=_discord_files(batch), allowed_mentions=discord.AllowedMentions.none()
        )


def _discord_files(files: list[ImageFile]) -> list[discord.File]:
    return [discord.File(io.BytesIO(f.data), filename=f.filename) for f in files]
