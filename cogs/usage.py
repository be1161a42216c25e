"""/usage: a member's own usage, what remains and when it resets; ``view: top`` for admins."""

from __future__ import annotations

from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app.ui.quota_text import top_text, usage_text
from bot.i18n import LocaleResolver, t
from bot.quotas import QuotaService
from cogs.admin import reply, require_admin, role_ids


class UsageCog(commands.Cog):
    def __init__(self, quotas: QuotaService, locales: LocaleResolver | None = None) -> None:
        self.quotas = quotas
        self.locales = locales or LocaleResolver()

    @app_commands.command(name="usage", description="Your image usage, what remains and when it resets")
    @app_commands.describe(view="mine: your own usage; top: who spent what on this server (Manage Server)")
    async def usage(self, interaction: discord.Interaction, view: Literal["mine", "top"] = "mine") -> None:
        locale = await self.locales.for_interaction(interaction)
        if view == "top":
            guild_id = require_admin(interaction)
            await reply(interaction, top_text(await self.quotas.top(guild_id), locale))
            return
        report = await self.quotas.usage(
            interaction.guild_id,
            interaction.user.id,
            channel_id=interaction.channel_id,
            role_ids=role_ids(interaction.user),
        )
        who = t("You", locale) if interaction.guild_id else t("You (direct messages)", locale)
        await reply(interaction, usage_text(report, who=who, locale=locale))
