"""Owner alerts posted to a configured channel (the low-balance alert), pinging nobody."""

from __future__ import annotations

import discord

from bot.billing import AlertPoster
from bot.i18n import N_, t


def low_balance_alert(client: discord.Client, channel_id: int, locale: str) -> AlertPoster:
    async def post(balance: int, threshold: int) -> None:
        channel = client.get_channel(channel_id) or await client.fetch_channel(channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            raise TypeError(f"channel {channel_id} cannot receive messages")
        text = t(
            N_(
                "⚠️ The LiblibAI account balance is low: **{balance}** points left (alert threshold {threshold}). "
                "Top up the account to keep images coming."
            ),
            locale,
            balance=balance,
            threshold=threshold,
        )
        await channel.send(text, allowed_mentions=discord.AllowedMentions.none())

    return post
