"""The composition root: build every long-lived resource once, wire it, and close it in reverse order.

Used by ``liblib-bot run`` and, unchanged, by the end-to-end tests (which point the settings at the
fake Discord and the simulator).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import discord
import yarl
from pydantic import SecretStr

from bot.discord_app.client import LiblibBot, Services
from bot.discord_app.sink import DiscordResultSink
from bot.discord_app.ui.views import result_view
from bot.generation.builder import RequestBuilder
from bot.generation.families import make_submit_builder
from bot.i18n import LocaleResolver
from bot.jobs import JobRunner, JobService
from bot.jobs.leadership import elector_for
from bot.jobs.scheduling import FairQueue
from bot.liblib import LiblibClient
from bot.liblib.simulator import DEV_ACCESS_KEY, DEV_SECRET_KEY, Simulator
from bot.media.sources import HostPolicy, SourceImageFetcher, open_fetch_session
from bot.media.transport import ImageTransport
from bot.models import Job
from bot.ops.health import HealthServer
from bot.ops.metrics import Metrics
from bot.quotas import GuildAdminService, QuotaService
from bot.settings import DiscordSettings, LiblibSettings, Settings
from bot.storage import PostgresStore, Store, open_store

log = logging.getLogger(__name__)

DISCORD_API_DEFAULT = "https://discord.com/api/v10"
DISCORD_GATEWAY_DEFAULT = "wss://gateway.discord.gg/"


@dataclass(slots=True)
class Runtime:
    settings: Settings
    bot: LiblibBot
    client: LiblibClient
    store: Store
    runner: JobRunner
    simulator: Simulator | None
    metrics: Metrics
    health: HealthServer | None = None  # the /metrics + /healthz server, when [metrics] enabled


def point_discord_at(api_base_url: str, gateway_url: str) -> None:
    """Run against a Discord proxy or emulator (process-global in discord.py)."""
    if api_base_url.rstrip("/") != DISCORD_API_DEFAULT:
        discord.http.Route.BASE = api_base_url.rstrip("/")
    if gateway_url != DISCORD_GATEWAY_DEFAULT:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


def shard_options(discord_settings: DiscordSettings) -> dict[str, object]:
    """discord.py options for this process's shard (one shard per process; none: unsharded)."""
    if discord_settings.shard_count is None:
        return {}
    ids = discord_settings.shard_ids or [0]
    return {"shard_count": discord_settings.shard_count, "shard_id": ids[0]}


def shard_owner(discord_settings: DiscordSettings) -> Callable[[Job], bool]:
    """Whether a job's guild is on this process's shard (Discord's rule; direct messages go to shard 0)."""
    count, ids = discord_settings.shard_count, discord_settings.shard_ids
    if count is None or ids is None:
        return lambda _job: True
    mine = frozenset(ids)
    return lambda job: ((job.guild_id or 0) >> 22) % count in mine


@contextlib.asynccontextmanager
async def open_liblib(settings: Settings) -> AsyncIterator[tuple[LiblibClient, Simulator | None]]:
    """A LiblibClient for the configured account, or for the built-in simulator when no keys are set."""
    simulator: Simulator | None = None
    liblib_settings: LiblibSettings = settings.liblib
    async with contextlib.AsyncExitStack() as stack:
        if not settings.liblib.has_keys:
            simulator = Simulator(
                settings.simulator,
                submit_per_second=settings.liblib.submit_per_second,
                max_concurrent=settings.liblib.max_concurrent_tasks,
            )
            await simulator.start(settings.simulator.host, settings.simulator.port)
            stack.push_async_callback(simulator.stop)
            liblib_settings = settings.liblib.model_copy(
                update={
                    "base_url": simulator.base_url,
                    "access_key": SecretStr(DEV_ACCESS_KEY),
                    "secret_key": SecretStr(DEV_SECRET_KEY),
                }
            )
            log.warning(
                "No LiblibAI keys configured: using the built-in simulator at %s. Every result is SIMULATED.",
                simulator.base_url,
            )
        client = await stack.enter_async_context(LiblibClient(liblib_settings))
        client.simulated = simulator is not None
        yield client, simulator


@contextlib.asynccontextmanager
async def open_runtime(settings: Settings, *, bot_options: dict[str, object] | None = None) -> AsyncIterator[Runtime]:
    point_discord_at(settings.discord.api_base_url, settings.discord.gateway_url)
    policy = HostPolicy.from_settings(settings.fetch)
    async with (
        open_liblib(settings) as (client, simulator),
        open_store(settings.storage.url) as store,
        open_fetch_session(policy, settings.fetch) as fetch_session,
    ):
        options: dict[str, object] = dict(bot_options or {})
        metrics = Metrics()  # one registry per runtime; exported only when [metrics] is enabled
        options.setdefault("http_trace", metrics.discord_trace())
        options.update(shard_options(settings.discord))
        bot = LiblibBot(settings, **options)
        fair = FairQueue()
        quotas = QuotaService(store, settings)
        sink = DiscordResultSink(
            bot,
            edit_interval=settings.queue.progress_edit_interval,
            view_factory=result_view,
            presentation=quotas.presentation,
        )
        runner = JobRunner(
            store,
            client,
            sink,
            make_submit_builder(settings),
            settings.queue,
            fair=fair,
            metrics=metrics,
            # Several processes share a PostgreSQL database: one elected dispatcher; each delivers its shards.
            elector=(
                elector_for(store, bound_seconds=settings.queue.dispatcher_lease_seconds)
                if isinstance(store, PostgresStore)
                else None
            ),
            owns=shard_owner(settings.discord),
        )
        jobs = JobService(
            store,
            settings.queue,
            fair,
            runner.wake,
            admission=quotas,
            metrics=metrics,
            estimate_wait=runner.estimated_wait,
            quota_error=quotas.quota_error,
        )
        bot.services = Services(
            settings=settings,
            store=store,
            jobs=jobs,
            builder=RequestBuilder(settings.models, simulated=client.simulated),
            transport=ImageTransport(client, settings.liblib.image_transport),
            sources=SourceImageFetcher(
                fetch_session, policy, timeout=settings.fetch.timeout, max_redirects=settings.fetch.max_redirects
            ),
            admission=quotas,
            admin=GuildAdminService(store, quotas),
            locales=LocaleResolver(settings.discord.default_locale, quotas.server_language),
        )
        bot.runner = runner
        health: HealthServer | None = None
        if settings.metrics.enabled:
            health = HealthServer(metrics, bot, store, host=settings.metrics.host, port=settings.metrics.port)
            await health.start()
        try:
            yield Runtime(settings, bot, client, store, runner, simulator, metrics, health)
        finally:
            if not bot.is_closed():
                await bot.close()
            if health is not None:
                await health.stop()
