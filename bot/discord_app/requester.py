"""Who is asking, read off a Discord interaction or message: the one ``Requester`` every rule uses."""

from __future__ import annotations

import discord

from bot.jobs.admission import Requester


def _member_facts(user: discord.User | discord.Member) -> tuple[tuple[int, ...], bool]:
    if isinstance(user, discord.Member):
        roles = tuple(r.id for r in user.roles if not r.is_default())
        return roles, user.guild_permissions.manage_guild
    return (), False


def _nsfw(channel: object) -> bool:
    is_nsfw = getattr(channel, "is_nsfw", None)
    return bool(is_nsfw()) if callable(is_nsfw) else False


def requester_from_interaction(interaction: discord.Interaction) -> Requester:
    roles, is_admin = _member_facts(interaction.user)
    return Requester(
        user_id=interaction.user.id,
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id or 0,
        role_ids=roles,
        is_admin=is_admin or (interaction.guild_id is not None and interaction.permissions.manage_guild),
        channel_nsfw=_nsfw(interaction.channel),
    )


def requester_from_message(message: discord.Message) -> Requester:
    roles, is_admin = _member_facts(message.author)
    return Requester(
        user_id=message.author.id,
        guild_id=message.guild.id if message.guild else None,
        channel_id=message.channel.id,
        role_ids=roles,
        is_admin=is_admin,
        channel_nsfw=_nsfw(message.channel),
    )
