"""Slash-command cogs: thin Discord adapters over the services in ``bot``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.discord_app.client import LiblibBot, Services


async def load_all(bot: LiblibBot, services: Services) -> None:
    """Add every cog, passing each exactly the services it needs."""
    from bot.discord_app.ui.views import register_handler
    from cogs.actions import ActionsCog
    from cogs.admin import AdminCog
    from cogs.generate import GenerateCog
    from cogs.info import InfoCog
    from cogs.restyle import RestyleCog
    from cogs.usage import UsageCog

    await bot.add_cog(GenerateCog(services))
    await bot.add_cog(RestyleCog(bot, services))
    actions = ActionsCog(services)
    await bot.add_cog(actions)
    register_handler(bot, actions)  # result buttons (dynamic items) survive restarts
    await bot.add_cog(InfoCog(services))
    if services.admin is not None:
        await bot.add_cog(AdminCog(services.admin, services.locales))
        await bot.add_cog(UsageCog(services.admin.quotas, services.locales))
