"""BotTree: app-command errors become replies through ``answer_error``; new commands are refused while stopping."""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

from bot.discord_app.replies import answer_error, tell
from bot.i18n import LocaleResolver, t

log = logging.getLogger(__name__)


class BotTree(app_commands.CommandTree[discord.Client]):
    def __init__(self, client: discord.Client, **options: Any) -> None:
        super().__init__(client, **options)
        self.locales = LocaleResolver()  # which language to answer in; LiblibBot sets the configured one

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        """While the bot shuts down, refuse new commands at once (they could not finish before the sessions
        close) instead of leaving the member with a dead "thinking..."."""
        if not getattr(interaction.client, "closing", False):
            return True
        if interaction.type is not discord.InteractionType.autocomplete:
            locale = await self.locales.for_interaction(interaction)
            await tell(interaction, t("The bot is restarting. Try again in a minute.", locale))
        return False

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        await answer_error(interaction, error, await self.locales.for_interaction(interaction))
