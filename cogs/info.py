"""/help, /models, /queue, /jobs and /show: information about the bot, the queue and past jobs."""

from __future__ import annotations

from collections.abc import Mapping

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app.repost import repost_result
from bot.discord_app.requester import requester_from_interaction
from bot.discord_app.ui.info import MAX_LISTED, help_embed, jobs_embed, models_embed, queue_embed
from bot.errors import BotError
from bot.generation.builder import RequestBuilder
from bot.i18n import N_, LocaleResolver, Text, t
from bot.jobs import JobService
from bot.media.transport import ImageTransport
from bot.models import ACTIVE_STATES, TERMINAL_STATES, JobState, has_result
from bot.storage import Store


class InfoCog(commands.Cog):
    def __init__(
        self,
        *,
        jobs: JobService,
        store: Store,
        builder: RequestBuilder,
        transport: ImageTransport,
        locales: LocaleResolver,
        default_mode: str,
        prices: Mapping[str, int],
    ) -> None:
        self._jobs = jobs
        self.store = store
        self.builder = builder
        self.transport = transport  # /show re-posts stored results
        self.locales = locales
        self.default_mode = default_mode
        self.prices = prices  # [liblib.prices], shown by /models

    @app_commands.command(name="help", description="How to use the bot, with examples")
    async def help(self, interaction: discord.Interaction) -> None:
        locale = await self.locales.for_interaction(interaction)
        await interaction.response.send_message(embed=help_embed(locale), ephemeral=True)

    @app_commands.command(name="models", description="The modes and models you can use, and what each supports")
    async def models(self, interaction: discord.Interaction) -> None:
        locale = await self.locales.for_interaction(interaction)
        modes = self.builder.modes()
        embed = models_embed(modes, default_mode=self.default_mode, prices=self.prices, locale=locale)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(name="queue", description="What this server is waiting for, with estimated waits")
    async def queue(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        snapshot = await self._jobs.snapshot(requester_from_interaction(interaction))
        typical = self._jobs.estimated_wait(1)
        locale = await self.locales.for_interaction(interaction)
        embed = queue_embed(snapshot, typical=typical, locale=locale)
        await interaction.followup.send(embed=embed, ephemeral=True)

    @app_commands.command(name="jobs", description="Your recent jobs: status, cost and links")
    async def jobs(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        jobs = await self.store.list_jobs(
            ACTIVE_STATES | TERMINAL_STATES, user_id=interaction.user.id, limit=MAX_LISTED, newest_first=True
        )
        positions: dict[str, int] = {}
        for job in jobs:
            if job.state is JobState.QUEUED:
                position = await self._jobs.position(job.id)
                if position is not None:
                    positions[job.id] = position
        locale = await self.locales.for_interaction(interaction)
        await interaction.followup.send(embed=jobs_embed(jobs, positions=positions, locale=locale), ephemeral=True)

    @app_commands.command(name="show", description="Post a past job's result again, with its buttons")
    @app_commands.describe(job="The job id (shown under every result, e.g. 3f9a0c12be)")
    async def show(self, interaction: discord.Interaction, job: app_commands.Range[str, 1, 40]) -> None:
        await interaction.response.defer(thinking=True)
        found = await self._jobs.get_visible(job.strip(), requester_from_interaction(interaction))
        if not has_result(found):
            raise BotError(
                N_("Job `{job_id}` has no result to show (it is {state})."),
                job_id=found.id,
                state=Text(str(found.state)),
            )
        locale = await self.locales.for_interaction(interaction)
        note = t("Re-posted with /show by <@{user_id}>.", locale, user_id=interaction.user.id)
        await repost_result(self.transport, self._jobs.admission, interaction, found, note=note, locale=locale)
