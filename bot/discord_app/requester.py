"""Who is asking, read off a Discord interaction or message: the one ``Requester`` every rule uses, and the
one definition of a server admin (Manage Server)."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.errors import BotError
from bot.i18n import N_
from bot.jobs.admission import Requester


class NotAdminError(BotError, app_commands.CheckFailure):
    def __init__(self) -> None:
        super().__init__(N_("You need the **Manage Server** permission to do that. Nothing was changed."))


def role_ids(user: discord.User | discord.Member) -> tuple[int, ...]:
    """The member's roles (not @everyone); none outside a server."""
    if isinstance(user, discord.Member):
        return tuple(r.id for r in user.roles if not r.is_default())
    return ()


def _is_admin(user: discord.User | discord.Member, permissions: discord.Permissions | None) -> bool:
    """Manage Server: from the member's roles, or from the permissions Discord resolved for the interaction."""
    member_admin = isinstance(user, discord.Member) and user.guild_permissions.manage_guild
    return member_admin or (permissions is not None and permissions.manage_guild)


def is_age_restricted(channel: object) -> bool:
    """An age-restricted (NSFW) channel; a direct message is not one (``Presentation`` decides what DMs show)."""
    is_nsfw = getattr(channel, "is_nsfw", None)
    return bool(is_nsfw()) if callable(is_nsfw) else False


def requester_from_interaction(interaction: discord.Interaction) -> Requester:
    guild_id = interaction.guild_id
    return Requester(
        user_id=interaction.user.id,
        guild_id=guild_id,
        channel_id=interaction.channel_id or 0,
        role_ids=role_ids(interaction.user),
        is_admin=_is_admin(interaction.user, interaction.permissions if guild_id is not None else None),
        channel_nsfw=is_age_restricted(interaction.channel),
    )


def requester_from_message(message: discord.Message) -> Requester:
    return Requester(
        user_id=message.author.id,
        guild_id=message.guild.id if message.guild else None,
        channel_id=message.channel.id,
        role_ids=role_ids(message.author),
        is_admin=_is_admin(message.author, None),
        channel_nsfw=is_age_restricted(message.channel),
    )


def require_admin(interaction: discord.Interaction) -> int:
    """The server's id, or NotAdminError for a member without Manage Server (or outside a server)."""
    requester = requester_from_interaction(interaction)
    if requester.guild_id is None or not requester.is_admin:
        raise NotAdminError()
    return requester.guild_id
