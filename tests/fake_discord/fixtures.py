"""Run a real discord.py client against a FakeDiscord for the duration of a block."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TypeVar

import discord

from .server import FakeDiscord

ClientT = TypeVar("ClientT", bound=discord.Client)


@contextlib.asynccontextmanager
async def run_bot(bot: ClientT, fake: FakeDiscord, *, ready_timeout: float = 10.0) -> AsyncIterator[ClientT]:
    """``login`` (so ``setup_hook`` and any command sync are done), ``connect``, wait until ready; close on exit.

    Give the bot ``guild_ready_timeout=0.05`` or ``on_ready`` waits 2 s for more guilds. A failure of the
    connection task (bad payload, closed gateway) is raised here instead of hanging until the timeout.
    """
    try:
        await bot.login(fake.token)
    except BaseException:
        await bot.close()
        raise
    task = asyncio.create_task(bot.connect(reconnect=False), name="fake-discord-bot-connect")
    ready = asyncio.create_task(bot.wait_until_ready(), name="fake-discord-bot-ready")
    try:
        done, _ = await asyncio.wait({task, ready}, timeout=ready_timeout, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            if task in done:
                task.result()  # raises the connection error
                raise RuntimeError("the bot's connect() returned before it was ready")
            raise TimeoutError(f"the bot was not ready within {ready_timeout}s")
        yield bot
    finally:
        ready.cancel()
        await bot.close()
        try:
            await asyncio.wait_for(task, 10)
        finally:
            with contextlib.suppress(asyncio.CancelledError):
                await ready
