"""Starting jobs from Discord: shared by every cog (slash commands, replies, context menus, buttons).

The two origins differ only in where progress shows: an interaction's deferred response, or (for a
reply that mentions the bot) a progress message the bot posts as a reply to the member's message.
"""

from __future__ import annotations

from datetime import timedelta

import discord

from bot.discord_app.ack_priority import AckPriority
from bot.discord_app.requester import requester_from_interaction, requester_from_message
from bot.discord_app.ui.embeds import progress_text
from bot.discord_app.ui.views import cancel_view
from bot.generation.fingerprint import request_fingerprint
from bot.i18n import LocaleResolver
from bot.jobs import JobService, Progress, Stage
from bot.models import GenerationRequest, Job, JobKind, new_job_id, utcnow


class JobStarter:
    """Starts the jobs members ask for on Discord (slash commands, buttons, forms, reply + mention): builds the
    Job from the Discord objects, has JobService start it, and shows its queue position and a Cancel button."""

    def __init__(self, jobs: JobService, locales: LocaleResolver, acks: AckPriority, *, token_ttl: float) -> None:
        self.jobs = jobs
        self._locales = locales
        self._acks = acks
        self._token_ttl = token_ttl

    async def start_interaction(
        self,
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
        await self._acks.wait_turn()  # enqueueing can wait for a burst's other commands to be answered
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
            interaction_expires_at=utcnow() + timedelta(seconds=self._token_ttl),
            progress_message_id=response_message_id,
            locale=await self._locales.for_interaction(interaction),  # progress and results use it later
            fingerprint=request_fingerprint(request),
            parent_message_id=parent_message_id,
        )
        try:
            job, position = await self.jobs.start(requester_from_interaction(interaction), job)
            progress = Progress(Stage.QUEUED, position=position, eta=self.jobs.estimated_wait(position))
            await interaction.edit_original_response(content=progress_text(job, progress), view=cancel_view(job))
        finally:
            self.jobs.wake()
        return job

    async def start_message(
        self,
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
            job, position = await self.jobs.start(requester_from_message(message), job)
            progress = await message.reply(
                progress_text(job, Progress(Stage.QUEUED, position=position)),
                mention_author=False,
                allowed_mentions=discord.AllowedMentions.none(),
                view=cancel_view(job),
            )
            await self.jobs.attach_progress_message(job.id, progress.id)
            job.progress_message_id = progress.id
        finally:
            self.jobs.wake()
        return job
