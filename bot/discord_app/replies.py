"""Answering members: private replies, replies to a message without pings, and the ONE error → reply mapping.

Every place a handler can fail (the command tree, forms, result buttons, reply + mention) hands the error
to ``answer_error`` (STYLE §2.5): a ``BotError`` is shown as is, discord.py's refusals get a short
sentence, and anything else is logged with its traceback and shown as an incident id.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Mapping
from typing import cast

import discord
from discord import app_commands

from bot.discord_app.ui.quota_text import clip
from bot.errors import BotError
from bot.i18n import t

log = logging.getLogger(__name__)

Target = discord.Interaction | discord.Message


async def reply_private(interaction: discord.Interaction, text: str, *, view: discord.ui.View | None = None) -> None:
    """Answer privately, whether or not the interaction was already deferred (publicly); ``view``: buttons."""
    buttons = view if view is not None else discord.utils.MISSING
    if not interaction.response.is_done():
        await interaction.response.send_message(clip(text), ephemeral=True, view=buttons)
        return
    # A public "thinking…" defer cannot turn private: remove it, then send a private follow-up.
    with contextlib.suppress(discord.HTTPException):
        await interaction.delete_original_response()
    await interaction.followup.send(clip(text), ephemeral=True, view=buttons)


async def tell(target: Target, text: str, *, view: discord.ui.View | None = None) -> None:
    """Best effort: privately on an interaction, or as a reply to a message that pings nobody. A reply
    Discord refuses is logged, not raised (there is nobody left to tell). ``view``: buttons to go with it."""
    try:
        if isinstance(target, discord.Message):
            await target.reply(
                clip(text),
                mention_author=False,
                allowed_mentions=discord.AllowedMentions.none(),
                view=view if view is not None else discord.utils.MISSING,
            )
        else:
            await reply_private(target, text, view=view)
    except discord.HTTPException as exc:
        log.info("could not answer %s (%s)", _where(target), exc.status)


def _error_text(error: BaseException, locale: str, *, where: str) -> str:
    """What the member reads about ``error`` (logged here: refusals at INFO, the unexpected with a traceback)."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, BotError):
        log.info("refused in %s: %s", where, error.message)
        return error.localized(locale)
    if isinstance(error, app_commands.TransformerError):
        value = discord.utils.escape_markdown(str(error.value))[:100]
        return t("That value is not valid: `{value}`.", locale, value=value)
    if isinstance(error, app_commands.CommandOnCooldown):
        return t("Slow down: try again in {seconds:.0f}s.", locale, seconds=error.retry_after)
    if isinstance(error, app_commands.CheckFailure):  # MissingPermissions and the other failed checks
        return t("You don't have permission to use this command here.", locale)
    incident = secrets.token_hex(3)
    log.error("unexpected error in %s (incident %s)", where, incident, exc_info=error)
    return t("Something went wrong on our side (incident `{incident}`). Please try again.", locale, incident=incident)


async def answer_error(target: Target, error: BaseException, locale: str) -> None:
    """Tell the member about ``error``: privately on an interaction (deferred or not), or as a reply to their
    message."""
    await tell(target, _error_text(error, locale, where=_where(target)))


def _where(target: Target) -> str:
    """The handler, for logs: ``/quota set``, ``a button lb:vary:…``, ``a form restyle:…``, ``a message``."""
    if isinstance(target, discord.Message):
        return "a message"
    if target.command is not None:
        return f"/{target.command.qualified_name}"
    kind = {discord.InteractionType.component: "a button", discord.InteractionType.modal_submit: "a form"}
    custom_id = cast(Mapping[str, object], target.data or {}).get("custom_id", "")
    return f"{kind.get(target.type, 'an interaction')} {custom_id}".strip()
