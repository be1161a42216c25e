"""Starting jobs from Discord: shared by every cog (slash commands, replies, context menus, buttons).

The two origins differ only in where progress shows: an interaction's deferred response, or (for a
reply that mentions the bot) a progress message the bot posts as a reply to the member's message.

Expensive work before a job (``prepare``: fetching, checking and publishing member or result images) runs
here, after ``JobService.precheck``: a member the admission would refuse costs no download and no upload.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import discord

from bot.discord_app.ack_priority import AckPriority
from bot.discord_app.requester import requester_from_interaction, requester_from_message
from bot.discord_app.ui.embeds import progress_text
from bot.discord_app.ui.views import cancel_view
from bot.generation.fingerprint import request_fingerprint
from bot.i18n import LocaleResolver
from bot.jobs import JobService, Progress, Stage
from bot.jobs.admission import Requester
from bot.models import GenerationRequest, Job, JobKind, new_job_id, utcnow

Prepare = Callable[[GenerationRequest], Awaitable[GenerationRequest]]
"""The expensive step before a job starts: the request with its images fetched, checked and published."""


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
        prepare: Prepare | None = None,
    ) -> Job:
        """Enqueue a job for an already-deferred interaction and show its queue position (and a Cancel
        button) there. ``parent_message_id``: the result message a button action came from; ``prepare``:
        the request's image work, run only once the member passes the admission's pre-check."""
        await self._acks.wait_turn()  # enqueueing can wait for a burst's other commands to be answered
        requester = requester_from_interaction(interaction)
        request = await self._prepared(requester, request, prepare)
        job = _new_job(
            requester,
            request,
            job_id=job_id,
            kind=kind,
            parent_job_id=parent_job_id,
            locale=await self._locales.for_interaction(interaction),  # progress and results use it later
            application_id=interaction.application_id,
            interaction_token=interaction.token,
            interaction_expires_at=utcnow() + timedelta(seconds=self._token_ttl),
            progress_message_id=response_message_id,
            parent_message_id=parent_message_id,
        )
        try:
            job, position = await self.jobs.start(requester, job)
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
        prepare: Prepare | None = None,
    ) -> Job:
        """Enqueue a job asked for in a message (reply + mention); progress and the result reply to it.
        ``prepare``: as for ``start_interaction``.

        Raises BotError when refused; the caller tells the member (there is no ephemeral channel here).
        """
        requester = requester_from_message(message)
        request = await self._prepared(requester, request, prepare)
        job = _new_job(
            requester,
            request,
            job_id=job_id,
            kind=kind,
            parent_job_id=parent_job_id,
            locale=locale,
            reply_to_message_id=message.id,
        )
        try:
            job, position = await self.jobs.start(requester, job)
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

    async def _prepared(
        self, requester: Requester, request: GenerationRequest, prepare: Prepare | None
    ) -> GenerationRequest:
        """Admit first, then fetch: the pre-check (advisory; ``JobService.start`` still decides) before the
        expensive ``prepare``."""
        if prepare is None:
            return request
        await self.jobs.precheck(requester, request)
        return await prepare(request)


def _new_job(
    requester: Requester,
    request: GenerationRequest,
    *,
    job_id: str | None,
    kind: JobKind,
    parent_job_id: str | None,
    locale: str,
    **delivery: Any,
) -> Job:
    """The job a member asked for, wherever they asked; ``delivery``: where its progress and result go."""
    return Job(
        id=job_id or new_job_id(),
        user_id=requester.user_id,
        channel_id=requester.channel_id,
        guild_id=requester.guild_id,
        request=request,
        kind=kind,
        parent_job_id=parent_job_id,
        locale=locale,
        fingerprint=request_fingerprint(request),
        **delivery,
    )
