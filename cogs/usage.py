"""/usage: a member's own usage, what remains and when it resets; ``view: top`` for admins."""

from __future__ import annotations

from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app.replies import reply_private
from bot.discord_app.requester import requester_from_interaction, require_admin
from bot.discord_app.ui.quota_text import top_text, usage_text
from bot.i18n import LocaleResolver, t
from bot.quotas import QuotaService


class UsageCog(commands.Cog):
    def __init__(self, quotas: QuotaService, locales: LocaleResolver) -> None:
        self.quotas = quotas
        self.locales = locales

    @app_commands.command(name="usage", description="Your image usage, what remains and when it resets")
    @app_commands.describe(view="mine: your own usage; top: who spent what on this server (Manage Server)")
    async def usage(self, interaction: discord.Interaction, view: Literal["mine", "top"] = "mine") -> None:
        locale = await self.locales.for_interaction(interaction)
        if view == "top":
            guild_id = require_admin(interaction)
            await reply_private(interaction, top_text(await self.quotas.top(guild_id), locale))
            return
        requester = requester_from_interaction(interaction)
        report = await self.quotas.usage(
            requester.guild_id, requester.user_id, channel_id=requester.channel_id, role_ids=requester.role_ids
        )
        who = t("You", locale) if requester.guild_id else t("You (direct messages)", locale)
        await reply_private(interaction, usage_text(report, who=who, locale=locale))
