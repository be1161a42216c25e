"""LiblibBot: the discord.py client. The composition root gives it its parts; setup_hook adds the cogs the root
chose, syncs, and starts the runner."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

import discord
from discord.ext import commands

from bot.discord_app.ack_priority import AckPriority
from bot.discord_app.tree import BotTree
from bot.i18n import CatalogTranslator, LocaleResolver
from bot.jobs import JobRunner
from bot.settings import Settings
from bot.storage import Store

log = logging.getLogger(__name__)

_SYNC_META_KEY = "command_sync_hash"
# Tasks discord.py runs a handler in: slash commands and context menus, buttons and forms, message listeners.
_HANDLER_TASKS = ("CommandTree-invoker", "discord-ui-", "discord.py: on_message")
SHUTDOWN_GRACE = 5.0  # seconds handlers in flight get to finish on shutdown (Docker waits 10 s before SIGKILL)

CogLoader = Callable[["LiblibBot"], Awaitable[None]]  # adds the cogs (chosen by the composition root)


class LiblibBot(commands.Bot):
    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        locales: LocaleResolver | None = None,
        acks: AckPriority | None = None,
        **options: Any,
    ) -> None:
        # No voice: discord.py's start-up warnings about its voice libraries (PyNaCl, davey) mean nothing here.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        intents = discord.Intents.default()
        # Mentions deliver their own content without the privileged intent; other members' messages need it.
        intents.message_content = settings.discord.message_content_intent
        intents.members = False
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=BotTree,
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            # No message cache: nothing reads it, and every edit the bot makes comes back as MESSAGE_UPDATE,
            # which discord.py would turn into Message objects for a cached message (CPU on every progress edit).
            max_messages=None,
            **options,
        )
        self.settings = settings
        self.store = store  # the command-sync hash
        self.acks = acks or AckPriority()  # answered commands let unanswered ones go first
        cast(BotTree, self.tree).locales = locales or LocaleResolver()
        # Set by the composition root before login (both are built after the bot: the runner delivers through it):
        self.runner: JobRunner | None = None
        self.load_cogs: CogLoader | None = None
        self.synced = False
        self.sync_only = False  # `liblib-bot sync-commands`: sync and do nothing else
        self.closing = False  # set by close(): new commands are refused (BotTree.interaction_check)
        self.before_close: list[Callable[[], None]] = []  # called first thing in close() (open questions end)
        self.logged_in = asyncio.Event()  # Discord accepted the token; login() goes on with setup_hook

    def dispatch(self, event_name: str, /, *args: Any, **kwargs: Any) -> None:
        if event_name == "interaction":
            self.acks.received(args[0])  # synchronously, as the gateway parses it
        super().dispatch(event_name, *args, **kwargs)

    async def on_message(self, message: discord.Message, /) -> None:
        """Slash-only bot: no prefix commands. Cog listeners still receive every message."""

    async def setup_hook(self) -> None:
        self.logged_in.set()
        if self.load_cogs is None or self.runner is None:
            raise RuntimeError("wire the cogs and the runner before login")
        await self.tree.set_translator(CatalogTranslator())
        await self.load_cogs(self)
        if self.sync_only:
            await self.sync_commands(force=True)
            return
        await self.sync_commands(force=self.settings.discord.sync_policy == "always")
        await self.runner.start()

    async def close(self) -> None:
        self.closing = True
        for hook in self.before_close:
            hook()
        if self.runner is not None:
            await self.runner.stop()  # in-flight polls persist; the next start resumes them
        await self._finish_handlers(SHUTDOWN_GRACE)
        await super().close()

    async def _finish_handlers(self, grace: float) -> None:
        """Let commands, buttons and replies already being handled finish before the sessions close: a member
        whose command was acknowledged gets its job queued and its answer, not a dead "thinking..."."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        current = asyncio.current_task()
        while True:
            pending = [
                t
                for t in asyncio.all_tasks()
                if t is not current and not t.done() and t.get_name().startswith(_HANDLER_TASKS)
            ]
            remaining = deadline - loop.time()
            if not pending:
                return
            if remaining <= 0:
                log.warning("stopping with %d command(s) still being handled", len(pending))
                return
            await asyncio.wait(pending, timeout=remaining)

    async def command_payload(self) -> list[dict[str, Any]]:
        """What a sync sends, translations included (so a changed translation re-syncs)."""
        guild = discord.Object(self.settings.discord.dev_guild_id) if self.settings.discord.dev_guild_id else None
        translator = self.tree.translator
        commands = self.tree.get_commands(guild=guild)
        if translator is None:
            return [c.to_dict(self.tree) for c in commands]
        return [await c.get_translated_payload(self.tree, translator) for c in commands]

    async def sync_commands(self, *, force: bool = False) -> bool:
        """Sync when forced, or (policy "auto") when the command set changed since the last sync."""
        policy = self.settings.discord.sync_policy
        guild_id = self.settings.discord.dev_guild_id
        guild = discord.Object(guild_id) if guild_id else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        payload = json.dumps(await self.command_payload(), sort_keys=True, default=str)
        digest = hashlib.sha256(f"{guild_id}:{payload}".encode()).hexdigest()
        store = self.store
        if not force:
            if policy == "never":
                return False
            if await store.get_meta(_SYNC_META_KEY) == digest:
                log.info("application commands unchanged; not syncing")
                return False
        synced = await self.tree.sync(guild=guild)
        await store.set_meta(_SYNC_META_KEY, digest)
        self.synced = True
        log.info("synced %d application commands %s", len(synced), f"to guild {guild_id}" if guild_id else "globally")
        return True
