"""/prefer: a member's personal defaults (mode, aspect ratio, image count, style, language), private replies.

They are the member's in every server and in direct messages (``bot.generation.preferences``)."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app.autocomplete import mode_choices, style_choices
from bot.discord_app.replies import reply_private
from bot.discord_app.ui.presets import preferences_text
from bot.generation.builder import ASPECT_RATIOS
from bot.generation.preferences import PreferenceService
from bot.generation.styles import StyleCatalog
from bot.i18n import N_, LocaleResolver, t
from bot.liblib.endpoints import MAX_IMAGE_COUNT

_SETTINGS = [
    app_commands.Choice(name="Mode", value="mode"),
    app_commands.Choice(name="Aspect ratio", value="aspect"),
    app_commands.Choice(name="Images", value="count"),
    app_commands.Choice(name="Style", value="style"),
    app_commands.Choice(name="Language", value="language"),
]


class PreferCog(commands.Cog):
    prefer = app_commands.Group(name="prefer", description="Your personal defaults for /imagine and replies")

    def __init__(self, preferences: PreferenceService, styles: StyleCatalog, locales: LocaleResolver) -> None:
        self.preferences = preferences
        self.styles = styles
        self.locales = locales

    async def _show(self, interaction: discord.Interaction, head: str) -> None:
        """``head`` (a msgid), then the member's defaults, in the language they now read (it may just have changed)."""
        shown = await self.preferences.get(interaction.user.id)
        locale = await self.locales.for_interaction(interaction)
        await reply_private(interaction, (t(head, locale) + "\n" if head else "") + preferences_text(shown, locale))

    @prefer.command(name="set", description="Set your defaults (what you type in /imagine still wins)")
    @app_commands.describe(
        mode="Your default mode",
        aspect="Your default aspect ratio",
        count="Your default number of images",
        style="Your default style (a style of this server, or a bot-wide one)",
        language="The language the bot answers you in, whatever your Discord language",
    )
    @app_commands.choices(
        aspect=[app_commands.Choice(name=r, value=r) for r in ASPECT_RATIOS],
        language=[
            app_commands.Choice(name="English", value="en-US"),
            app_commands.Choice(name="简体中文", value="zh-CN"),
        ],
    )
    async def prefer_set(
        self,
        interaction: discord.Interaction,
        mode: str | None = None,
        aspect: str | None = None,
        count: app_commands.Range[int, 1, MAX_IMAGE_COUNT] | None = None,
        style: app_commands.Range[str, 1, 32] | None = None,
        language: str | None = None,
    ) -> None:
        given: dict[str, Any] = {"mode": mode, "aspect": aspect, "count": count, "style": style, "language": language}
        changes = {k: v for k, v in given.items() if v is not None}
        await self.preferences.update(interaction.user.id, changes, guild_id=interaction.guild_id)
        await self._show(interaction, N_("✅ Saved."))

    @prefer.command(name="show", description="Your personal defaults")
    async def prefer_show(self, interaction: discord.Interaction) -> None:
        await self._show(interaction, "")

    @prefer.command(name="reset", description="Forget one of your defaults, or all of them")
    @app_commands.describe(setting="The default to forget (all of them when left out)")
    @app_commands.choices(setting=_SETTINGS)
    async def prefer_reset(self, interaction: discord.Interaction, setting: str | None = None) -> None:
        await self.preferences.reset(interaction.user.id, None if setting is None else [setting])
        done = N_("✅ Your defaults are cleared.") if setting is None else N_("✅ That default is cleared.")
        await self._show(interaction, done)

    @prefer_set.autocomplete("mode")
    async def mode_autocomplete(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return mode_choices(self.styles.builder, current)

    @prefer_set.autocomplete("style")
    async def style_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return style_choices(await self.styles.available(interaction.guild_id), current)
