"""/style: a server's style presets. ``list`` is for everyone; ``add``, ``edit`` and ``remove`` need Manage Server
(Discord cannot hide single subcommands, so the check runs here) and go through GuildAdminService, which
validates, stores and audits them. Every reply is private."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app.autocomplete import mode_choices, style_choices
from bot.discord_app.replies import reply_private
from bot.discord_app.requester import require_admin
from bot.discord_app.ui.presets import style_list_text, style_summary
from bot.errors import BotError
from bot.generation.builder import ASPECT_RATIOS
from bot.i18n import N_, LocaleResolver, t
from bot.models import STYLE_FIELDS, Style
from bot.quotas import GuildAdminService

Affix = app_commands.Range[str, 1, 500]
_ASPECTS = [app_commands.Choice(name=r, value=r) for r in ASPECT_RATIOS]
_DESCRIBE: dict[str, str] = {
    "prefix": "Text put before the member's prompt",
    "suffix": "Text put after the member's prompt",
    "negative": "Negative prompt (modes that take one)",
    "mode": "The mode the style uses unless the member picks one",
    "aspect": "The aspect ratio the style uses unless the member picks one",
    "lora": "A LoRA preset of the style's custom model (from the bot's settings)",
    "strength": "Image-to-image strength, 0-1 (custom models, with an image)",
    "description": "A short description shown in /style list and autocomplete",
}


def _present(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class StyleCog(commands.Cog):
    style = app_commands.Group(name="style", description="Style presets for /imagine")

    def __init__(self, admin: GuildAdminService, locales: LocaleResolver) -> None:
        self.admin = admin
        self.catalog = admin.styles
        self.locales = locales

    async def _reply(self, interaction: discord.Interaction, msgid: str, style: Style) -> None:
        locale = await self.locales.for_interaction(interaction)
        await reply_private(interaction, t(msgid, locale, name=style.name) + "\n" + style_summary(style, locale))

    @style.command(name="add", description="Add a style preset to this server (admins)")
    @app_commands.describe(name="The style's name: lowercase letters, digits, - or _ (1-32)", **_DESCRIBE)
    @app_commands.choices(aspect=_ASPECTS)
    async def style_add(
        self,
        interaction: discord.Interaction,
        name: app_commands.Range[str, 1, 32],
        prefix: Affix | None = None,
        suffix: Affix | None = None,
        negative: app_commands.Range[str, 1, 1000] | None = None,
        mode: str | None = None,
        aspect: str | None = None,
        lora: app_commands.Range[str, 1, 32] | None = None,
        strength: app_commands.Range[float, 0.0, 1.0] | None = None,
        description: app_commands.Range[str, 1, 100] | None = None,
    ) -> None:
        guild_id = require_admin(interaction)
        values = _present(
            prefix=prefix, suffix=suffix, negative=negative, mode=mode, aspect=aspect, lora=lora, strength=strength
        )
        style = Style(name=name, description=description or "", **values)
        added = await self.admin.add_style(guild_id, interaction.user.id, style)
        await self._reply(interaction, N_("✅ Style `{name}` added."), added)

    @style.command(name="edit", description="Change a style preset of this server (admins)")
    @app_commands.describe(
        name="The style to change",
        clear="Settings to remove, comma-separated (prefix, suffix, negative, mode, aspect, lora, strength, ...)",
        **_DESCRIBE,
    )
    @app_commands.choices(aspect=_ASPECTS)
    async def style_edit(
        self,
        interaction: discord.Interaction,
        name: app_commands.Range[str, 1, 32],
        prefix: Affix | None = None,
        suffix: Affix | None = None,
        negative: app_commands.Range[str, 1, 1000] | None = None,
        mode: str | None = None,
        aspect: str | None = None,
        lora: app_commands.Range[str, 1, 32] | None = None,
        strength: app_commands.Range[float, 0.0, 1.0] | None = None,
        description: app_commands.Range[str, 1, 100] | None = None,
        clear: app_commands.Range[str, 1, 200] | None = None,
    ) -> None:
        guild_id = require_admin(interaction)
        changes = _present(
            prefix=prefix,
            suffix=suffix,
            negative=negative,
            mode=mode,
            aspect=aspect,
            lora=lora,
            strength=strength,
            description=description,
        )
        unset = [f.strip().lower() for f in (clear or "").split(",") if f.strip()]
        unknown = [f for f in unset if f not in STYLE_FIELDS]
        if unknown:
            raise BotError(
                N_("`{fields}` cannot be cleared. Settings: {known}."),
                fields=", ".join(unknown)[:100],
                known=", ".join(STYLE_FIELDS),
            )
        edited = await self.admin.edit_style(guild_id, interaction.user.id, name, changes, unset=unset)
        await self._reply(interaction, N_("✅ Style `{name}` saved."), edited)

    @style.command(name="remove", description="Remove a style preset from this server (admins)")
    @app_commands.describe(name="The style to remove")
    async def style_remove(self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 32]) -> None:
        guild_id = require_admin(interaction)
        removed = await self.admin.remove_style(guild_id, interaction.user.id, name)
        await self._reply(interaction, N_("✅ Style `{name}` removed. It was:"), removed)

    @style.command(name="list", description="The style presets you can use here")
    async def style_list(self, interaction: discord.Interaction) -> None:
        guild_id = interaction.guild_id
        own = await self.catalog.server_styles(guild_id) if guild_id is not None else []
        locale = await self.locales.for_interaction(interaction)
        await reply_private(interaction, style_list_text(own, self.catalog.bot_wide(), locale))

    @style_add.autocomplete("mode")
    @style_edit.autocomplete("mode")
    async def mode_autocomplete(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return mode_choices(self.catalog.builder, current)

    @style_edit.autocomplete("name")
    @style_remove.autocomplete("name")
    async def name_autocomplete(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        return style_choices(await self.catalog.server_styles(interaction.guild_id), current)
