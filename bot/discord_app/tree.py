"""BotTree: the one place app-command errors become replies (STYLE §2.5)."""

from __future__ import annotations

import contextlib
import logging
import secrets

import discord
from discord import app_commands

from bot.errors import BotError
from bot.i18n import LocaleResolver, t

log = logging.getLogger(__name__)


async def reply_ephemeral(interaction: discord.Interaction, message: str) -> None:
    """Answer privately, whether or not the interaction was already deferred (publicly)."""
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(message, ephemeral=True)
            return
        # A public "thinking…" defer cannot turn private: remove it, then send a private follow-up.
        with contextlib.suppress(discord.HTTPException):
            await interaction.delete_original_response()
        await interaction.followup.send(message, ephemeral=True)
    except discord.HTTPException as exc:
        log.info("could not send an error reply (%s)", exc.status)


async def interaction_language(interaction: discord.Interaction) -> str:
    """The language to answer ``interaction`` in (see ``bot.i18n.LocaleResolver``)."""
    services = getattr(interaction.client, "services", None)
    resolver = getattr(services, "locales", None)
    if not isinstance(resolver, LocaleResolver):
        resolver = LocaleResolver()
    return await resolver.for_interaction(interaction)


def incident_text(incident: str, locale: str) -> str:
    return t("Something went wrong on our side (incident `{incident}`). Please try again.", locale, incident=incident)


class BotTree(app_commands.CommandTree[discord.Client]):
    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        """While the bot shuts down, refuse new commands at once (they could not finish before the sessions
        close) instead of leaving the member with a dead "thinking..."."""
        if not getattr(interaction.client, "closing", False):
            return True
        if interaction.type is not discord.InteractionType.autocomplete:
            locale = await interaction_language(interaction)
            await reply_ephemeral(interaction, t("The bot is restarting. Try again in a minute.", locale))
        return False

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        locale = await interaction_language(interaction)
        if isinstance(original, BotError):
            log.info("command refused: %s", original.message)
            await reply_ephemeral(interaction, original.localized(locale))
        elif isinstance(original, app_commands.TransformerError):
            value = discord.utils.escape_markdown(str(original.value))[:100]
            await reply_ephemeral(interaction, t("That value is not valid: `{value}`.", locale, value=value))
        elif isinstance(original, app_commands.CommandOnCooldown):
            await reply_ephemeral(
                interaction, t("Slow down: try again in {seconds:.0f}s.", locale, seconds=original.retry_after)
            )
        elif isinstance(original, app_commands.MissingPermissions | app_commands.CheckFailure):
            await reply_ephemeral(interaction, t("You don't have permission to use this command here.", locale))
        else:
            incident = secrets.token_hex(3)
            log.error(
                "unexpected error in /%s (incident %s)",
                interaction.command and interaction.command.name,
                incident,
                exc_info=original,
            )
            await reply_ephemeral(interaction, incident_text(incident, locale))
