"""Starting jobs from Discord: shared by every cog (slash commands, replies, context menus, buttons).

The two origins differ only in where progress shows: an interaction's deferred response, or (for a
reply that mentions the bot) a progress message the bot posts as a reply to the member's message.
"""

from __future__ import annotations

from datetime import timedelta

import discord
from discord import app_commands

from bot.discord_app.client import Services
from bot.discord_app.ui.embeds import progress_text
from bot.discord_app.ui.views import cancel_view
from bot.errors import InvalidRequestError
from bot.generation.builder import RequestBuilder
from bot.generation.fingerprint import request_fingerprint
from bot.jobs.admission import Requester
from bot.jobs.sink import Progress, Stage
from bot.media.codec import MAX_INPUT_BYTES
from bot.models import GenerationRequest, Job, JobKind, new_job_id, utcnow


def mode_choices(builder: RequestBuilder, current: str) -> list[app_commands.Choice[str]]:
    """Autocomplete for a ``mode`` option: configured modes whose name or label contains what was typed."""
    needle = current.lower()
    return [
        app_commands.Choice(name=f"{m.label} ({m.name})"[:100], value=m.name)
        for m in builder.modes()
        if needle in m.name or needle in m.label.lower()
    ][:25]


def check_attachment(attachment: discord.Attachment | None, field: str) -> None:
    """Metadata checks only (no I/O): size and declared type."""
    if attachment is None:
        return
    if attachment.size > MAX_INPUT_BYTES:
        raise InvalidRequestError(
            field,
            "the file is {size:.1f} MB; the limit is {limit:.0f} MB.",
            size=attachment.size / 1e6,
            limit=MAX_INPUT_BYTES // 1_000_000,
        )
    if attachment.content_type and not attachment.content_type.startswith("image/"):
        raise InvalidRequestError(field, "that attachment is not an image (PNG, JPEG, WebP or GIF).")


def _member_facts(user: discord.User | discord.Member) -> tuple[tuple[int, ...], bool]:
    if isinstance(user, discord.Member):
        roles = tuple(r.id for r in user.roles if not r.is_default())
        return roles, user.guild_permissions.manage_guild
    return (), False


def _nsfw(channel: object) -> bool:
    is_nsfw = getattr(channel, "is_nsfw", None)
    return bool(is_nsfw()) if callable(is_nsfw) else False


def requester_from_interaction(interaction: discord.Interaction) -> Requester:
    roles, is_admin = _member_facts(interaction.user)
    return Requester(
        user_id=interaction.user.id,
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id or 0,
        role_ids=roles,
        is_admin=is_admin or (interaction.guild_id is not None and interaction.permissions.manage_guild),
        channel_nsfw=_nsfw(interaction.channel),
    )


def requester_from_message(message: discord.Message) -> Requester:
    roles, is_admin = _member_facts(message.author)
    return Requester(
        user_id=message.author.id,
        guild_id=message.guild.id if message.guild else None,
        channel_id=message.channel.id,
        role_ids=roles,
        is_admin=is_admin,
        channel_nsfw=_nsfw(message.channel),
    )


async def _enqueue(services: Services, requester: Requester, job: Job) -> tuple[Job, int]:
    """Admit, enqueue (reserving the debits atomically) and return the job with its queue position."""
    job = await services.admission.admit(requester, job)
    jobs = services.jobs
    result = await jobs.enqueue(job, wake=False, max_active=await services.admission.active_cap(requester))
    await services.admission.enqueued(requester, job)
    position = await jobs.position(job.id) or result.queue_position
    return job, position


async def start_interaction_job(
    services: Services,
    interaction: discord.Interaction,
    request: GenerationRequest,
    *,
    kind: JobKind = JobKind.IMAGINE,
    parent_job_id: str | None = None,
    response_message_id: int | None = None,
    job_id: str | None = None,
    parent_message_id: int | None = None,
) -> Job:
    """Enqueue a job for an already-deferred interaction and show its queue position (and a Cancel
    button) there. ``parent_message_id``: the result message a button action came from."""
    await services.acks.wait_turn()  # enqueueing can wait for a burst's other commands to be answered
    job = Job(
        id=job_id or new_job_id(),
        user_id=interaction.user.id,
        channel_id=interaction.channel_id or 0,
        guild_id=interaction.guild_id,
        request=request,
        kind=kind,
        parent_job_id=parent_job_id,
        application_id=interaction.application_id,
        interaction_token=interaction.token,
        interaction_expires_at=utcnow() + timedelta(seconds=services.settings.queue.interaction_token_ttl),
        progress_message_id=response_message_id,
        locale=await services.locales.for_interaction(interaction),  # progress and results use it later
        fingerprint=request_fingerprint(request),
        parent_message_id=parent_message_id,
    )
    try:
        job, position = await _enqueue(services, requester_from_interaction(interaction), job)
        progress = Progress(Stage.QUEUED, position=position, eta=services.jobs.estimated_wait(position))
        await interaction.edit_original_response(content=progress_text(job, progress), view=cancel_view(job))
    finally:
        services.jobs.wake()
    return job


async def start_message_job(
    services: Services,
    message: discord.Message,
    request: GenerationRequest,
    *,
    kind: JobKind = JobKind.RESTYLE,
    parent_job_id: str | None = None,
    job_id: str | None = None,
    locale: str = "en-US",
) -> Job:
    """Enqueue a job asked for in a message (reply + mention); progress and the result reply to it.

    Raises BotError when refused; the caller tells the member (there is no ephemeral channel here).
    """
    job = Job(
        id=job_id or new_job_id(),
        user_id=message.author.id,
        channel_id=message.channel.id,
        guild_id=message.guild.id if message.guild else None,
        request=request,
        kind=kind,
        parent_job_id=parent_job_id,
        reply_to_message_id=message.id,
        locale=locale,
        fingerprint=request_fingerprint(request),
    )
    try:
        job, position = await _enqueue(services, requester_from_message(message), job)
        progress = await message.reply(
            progress_text(job, Progress(Stage.QUEUED, position=position)),
            mention_author=False,
            allowed_mentions=discord.AllowedMentions.none(),
            view=cancel_view(job),
        )
        await services.store.update_job(job.id, progress_message_id=progress.id)
        job.progress_message_id = progress.id
    finally:
        services.jobs.wake()
    return job
