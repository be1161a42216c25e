"""The composition root: build every long-lived resource once, wire it, and close it in reverse order.

Used by ``liblib-bot run`` and, unchanged, by the end-to-end tests (which point the settings at the
fake Discord and the simulator).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import discord
import yarl
from pydantic import SecretStr

from bot.billing import BalanceBook, BalanceReading, price_per_image
from bot.discord_app.ack_priority import AckPriority
from bot.discord_app.alerts import low_balance_alert
from bot.discord_app.client import CogLoader, LiblibBot
from bot.discord_app.confirming import Questions, register_questions
from bot.discord_app.restyling import Restyler
from bot.discord_app.sink import DiscordResultSink
from bot.discord_app.starting import JobStarter
from bot.discord_app.ui.offers import ResultOffers, register_offers
from bot.discord_app.ui.views import register_handler, result_view
from bot.generation.builder import RequestBuilder
from bot.generation.families import make_submit_builder
from bot.generation.preferences import PreferenceService
from bot.generation.result_edits import Outpainter, Upscaler
from bot.generation.styles import StyleCatalog, bot_wide_styles
from bot.i18n import LocaleResolver
from bot.jobs import JobRunner, JobService
from bot.jobs.admission import Admission
from bot.jobs.leadership import elector_for
from bot.jobs.retention import JobRetention
from bot.jobs.routing import ModeRouter
from bot.jobs.scheduling import FairQueue
from bot.liblib import LiblibClient
from bot.liblib.availability import ModeAvailability
from bot.liblib.simulator import DEV_ACCESS_KEY, DEV_SECRET_KEY, Simulator
from bot.media.sources import HostPolicy, SourceImageFetcher, open_fetch_session
from bot.media.transport import ImageTransport
from bot.media.workers import open_image_workers
from bot.models import Job
from bot.ops.health import HealthServer
from bot.ops.metrics import Metrics
from bot.quotas import GuildAdminService, QuotaService
from bot.reports.service import UsageReporter
from bot.settings import DEFAULT_BASE_URL, DiscordSettings, LiblibSettings, Settings, SettingsError
from bot.storage import Store, open_store
from cogs.admin import AdminCog
from cogs.blend import BlendCog
from cogs.buttons import ButtonsCog
from cogs.generate import GenerateCog
from cogs.info import InfoCog
from cogs.prefer import PreferCog
from cogs.restyle import RestyleCog
from cogs.styles import StyleCog
from cogs.usage import UsageCog

log = logging.getLogger(__name__)

DISCORD_API_DEFAULT = "https://discord.com/api/v10"
DISCORD_GATEWAY_DEFAULT = "wss://gateway.discord.gg/"


@dataclass(frozen=True, slots=True)
class Services:
    """What the cogs are built from, once per runtime; each cog receives only the part it uses."""

    settings: Settings
    store: Store
    jobs: JobService
    starter: JobStarter  # admits, enqueues and shows the position of jobs asked for on Discord
    questions: Questions  # cost confirmations and cheaper-mode offers awaiting a member's click
    admin: GuildAdminService  # quotas and server settings (/quota, /settings, /usage)
    builder: RequestBuilder
    transport: ImageTransport
    sources: SourceImageFetcher  # downloads images members point at by URL (allowlisted hosts only)
    locales: LocaleResolver  # which language to answer in
    acks: AckPriority  # answered commands let unanswered ones go first
    balance: BalanceBook  # the LiblibAI account balance and its forecast (/usage top)
    router: ModeRouter  # the mode of a request whose member named none (language, unavailable modes)
    styles: StyleCatalog  # the servers' and the bot-wide style presets (/style, /imagine style:)
    preferences: PreferenceService  # members' personal defaults (/prefer)
    offers: ResultOffers  # which result buttons the settings offer, at what price (Upscale, Zoom Out, Pan)


@dataclass(slots=True)
class Runtime:
    settings: Settings
    bot: LiblibBot
    client: LiblibClient
    store: Store
    runner: JobRunner
    simulator: Simulator | None
    metrics: Metrics
    services: Services
    health: HealthServer | None = None  # the /metrics + /healthz server, when [metrics] enabled


def cog_loader(services: Services) -> CogLoader:
    """The bot's cogs, each given exactly what it uses."""
    s = services
    models = s.settings.models

    async def load(bot: LiblibBot) -> None:
        restyler = Restyler(
            s.builder,
            s.sources,
            s.transport,
            s.starter,
            s.locales,
            default_mode=models.restyle_default_mode,
            styles=s.styles,
        )
        await bot.add_cog(
            GenerateCog(
                starter=s.starter,
                admission=s.jobs.admission,
                router=s.router,
                builder=s.builder,
                transport=s.transport,
                sources=s.sources,
                store=s.store,
                locales=s.locales,
                acks=s.acks,
                settings=s.settings.actions,
                default_mode=models.default_mode,
                styles=s.styles,
                preferences=s.preferences,
            )
        )
        await bot.add_cog(RestyleCog(bot, restyler, s.locales))
        actions = ButtonsCog(
            jobs=s.jobs,
            starter=s.starter,
            builder=s.builder,
            transport=s.transport,
            restyler=restyler,
            locales=s.locales,
            settings=s.settings.actions,
            quotas=s.admin.quotas,
            upscaler=Upscaler(s.builder, s.transport, models, strength=s.settings.actions.upscale_strength),
            outpainter=Outpainter(s.builder, s.transport, models),
        )
        await bot.add_cog(actions)
        register_handler(bot, actions)  # result buttons (dynamic items) survive restarts
        register_offers(bot, s.offers)  # what re-posted results offer
        await bot.add_cog(
            BlendCog(
                starter=s.starter,
                router=s.router,
                builder=s.builder,
                transport=s.transport,
                sources=s.sources,
            )
        )
        register_questions(bot, s.questions)  # a click on a question a restart forgot is told it expired
        await bot.add_cog(
            InfoCog(
                jobs=s.jobs,
                store=s.store,
                builder=s.builder,
                transport=s.transport,
                locales=s.locales,
                default_mode=models.default_mode,
                prices=s.settings.liblib.prices,
            )
        )
        await bot.add_cog(AdminCog(s.admin, s.locales))
        await bot.add_cog(StyleCog(s.admin, s.locales))
        await bot.add_cog(PreferCog(s.preferences, s.styles, s.locales))
        await bot.add_cog(
            UsageCog(
                s.admin.quotas, UsageReporter(s.store, s.admin.quotas.zone, s.transport.workers), s.balance, s.locales
            )
        )

    return load


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


def uses_other_service(liblib: LiblibSettings) -> bool:
    """Whether ``base_url`` points somewhere other than the real LiblibAI API (e.g. ``liblib-bot simulate``)."""
    return liblib.base_url.rstrip("/") != DEFAULT_BASE_URL


def with_dev_keys(liblib: LiblibSettings, base_url: str | None = None) -> LiblibSettings:
    """``liblib`` signing with the simulator's dev key pair (only a simulator accepts it)."""
    update: dict[str, object] = {"access_key": SecretStr(DEV_ACCESS_KEY), "secret_key": SecretStr(DEV_SECRET_KEY)}
    if base_url is not None:
        update["base_url"] = base_url
    return liblib.model_copy(update=update)


@contextlib.asynccontextmanager
async def open_liblib(settings: Settings) -> AsyncIterator[tuple[LiblibClient, Simulator | None]]:
    """A LiblibClient for the configured account and ``base_url``.

    With no keys: the dev key pair against ``base_url`` when it points elsewhere than the real API (a running
    ``liblib-bot simulate``), else against a simulator started here (returned). Either way every result is
    simulated. With keys and such a ``base_url``, the client asks it at once whether it is a simulator (a
    simulator tags every answer; the client also learns it from any later one).
    """
    simulator: Simulator | None = None
    liblib_settings: LiblibSettings = settings.liblib
    async with contextlib.AsyncExitStack() as stack:
        if not liblib_settings.has_keys and uses_other_service(liblib_settings):
            liblib_settings = with_dev_keys(liblib_settings)
            log.warning(
                "No LiblibAI keys configured: using the simulator's dev key pair at %s. Every result is SIMULATED.",
                liblib_settings.base_url,
            )
        elif not liblib_settings.has_keys:
            simulator = Simulator(
                settings.simulator,
                submit_per_second=settings.liblib.submit_per_second,
                max_concurrent=settings.liblib.max_concurrent_tasks,
            )
            for workflow in settings.models.comfyui:  # the owner's workflows, priced and shaped as configured
                simulator.register_workflow(
                    workflow.workflow_uuid,
                    points_per_output=price_per_image(settings.liblib.prices, workflow.name),
                    video=workflow.video,
                    template_uuid=workflow.template_uuid,
                )
            await simulator.start(settings.simulator.host, settings.simulator.port)
            stack.push_async_callback(simulator.stop)
            liblib_settings = with_dev_keys(liblib_settings, simulator.base_url)
            log.warning(
                "No LiblibAI keys configured: using the built-in simulator at %s. Every result is SIMULATED.",
                simulator.base_url,
            )
        client = await stack.enter_async_context(LiblibClient(liblib_settings, simulated=not settings.liblib.has_keys))
        if settings.liblib.has_keys and uses_other_service(liblib_settings):
            await client.detect_simulator()  # so even the first request says whether it is simulated
        yield client, simulator


@contextlib.asynccontextmanager
async def open_runtime(
    settings: Settings, *, bot_options: dict[str, object] | None = None, admission: Admission | None = None
) -> AsyncIterator[Runtime]:
    """``admission``: who may start which job (default: the quotas); tests give their own."""
    point_discord_at(settings.discord.api_base_url, settings.discord.gateway_url)
    policy = HostPolicy.from_settings(settings.fetch)
    async with (
        open_liblib(settings) as (client, simulator),
        open_store(settings.storage.url) as store,
        open_fetch_session(policy, settings.fetch) as fetch_session,
        open_image_workers(settings.images) as images,
    ):
        options: dict[str, object] = dict(bot_options or {})
        metrics = Metrics()  # one registry per runtime; exported only when [metrics] is enabled
        options.setdefault("http_trace", metrics.discord_trace())
        options.update(shard_options(settings.discord))
        quotas = QuotaService(store, settings)
        availability = ModeAvailability(settings.liblib.unavailable_cooloff_seconds)  # routes LiblibAI does not serve
        metrics.watch_modes(availability.states)
        builder = RequestBuilder(settings.models, simulated=lambda: client.simulated)
        styles = style_catalog(store, builder, settings)
        preferences = PreferenceService(store, styles)
        locales = LocaleResolver(settings.discord.default_locale, quotas.server_language, preferences.language)
        acks = AckPriority()
        bot = LiblibBot(settings, store, locales=locales, acks=acks, **options)
        fair = FairQueue()
        offers = ResultOffers(settings.models, settings.liblib.prices)
        sink = DiscordResultSink(
            bot,
            edit_interval=settings.queue.progress_edit_interval,
            view_factory=functools.partial(result_view, offers=offers),
            presentation=quotas.presentation,
        )
        runner = JobRunner(
            store,
            client,
            sink,
            make_submit_builder(settings),
            settings.queue,
            images=images,
            fair=fair,
            metrics=metrics,
            # Several processes share the database: one elected dispatcher; each delivers its shards.
            elector=(
                elector_for(store, bound_seconds=settings.queue.dispatcher_lease_seconds)
                if store.multi_process
                else None
            ),
            owns=shard_owner(settings.discord),
            audit_blocked=quotas.audit_blocked,
            retention=JobRetention(store, retention_days=settings.storage.job_retention_days),
            availability=availability,
        )
        admission = admission or quotas
        jobs = JobService(
            store,
            settings.queue,
            fair,
            runner.wake,
            admission=admission,
            metrics=metrics,
            estimate_wait=client.estimated_wait,
            quota_error=quotas.quota_error,
            availability=availability,
        )
        questions = Questions(locales, timeout=settings.quotas.confirm_timeout_seconds)
        bot.before_close.append(questions.close)  # open questions end unanswered: nothing is queued
        starter = JobStarter(
            jobs,
            locales,
            acks,
            questions,
            token_ttl=settings.queue.interaction_token_ttl,
            modes=[m.name for m in builder.modes()],
        )
        services = Services(
            settings=settings,
            store=store,
            jobs=jobs,
            starter=starter,
            questions=questions,
            admin=GuildAdminService(store, quotas, styles),
            builder=builder,
            transport=ImageTransport(client, settings.liblib.image_transport, workers=images),
            sources=SourceImageFetcher(
                fetch_session, policy, timeout=settings.fetch.timeout, max_redirects=settings.fetch.max_redirects
            ),
            locales=locales,
            acks=acks,
            balance=balance_book(settings, store, bot, metrics),
            router=ModeRouter(
                admission,
                builder,
                default_mode=settings.models.default_mode,
                non_english_default=settings.models.non_english_default,
                availability=availability,
                price=quotas.price_per_image,
            ),
            styles=styles,
            preferences=preferences,
            offers=offers,
        )
        bot.runner = runner
        bot.load_cogs = cog_loader(services)
        health: HealthServer | None = None
        if settings.metrics.enabled:
            health = HealthServer(metrics, bot, store, host=settings.metrics.host, port=settings.metrics.port)
            await health.start()
        balance_watch = asyncio.create_task(services.balance.run(client_balance(client)), name="balance-watch")
        try:
            yield Runtime(settings, bot, client, store, runner, simulator, metrics, services, health)
        finally:
            balance_watch.cancel()
            if not bot.is_closed():
                await bot.close()
            if health is not None:
                await health.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await balance_watch


def check_settings(settings: Settings) -> None:
    """What the settings' own validation cannot see (it needs the configured modes): the bot-wide ``[[styles]]``,
    checked like ``/style add``. SettingsError names the style at fault; ``run`` and ``check`` call this with the
    settings' other checks, and ``open_runtime`` refuses the same."""
    try:
        bot_wide_styles(settings.styles, RequestBuilder(settings.models))
    except ValueError as exc:
        raise SettingsError(f"invalid settings: {exc}") from None


def style_catalog(store: Store, builder: RequestBuilder, settings: Settings) -> StyleCatalog:
    """The style presets, with the settings' bot-wide ``[[styles]]`` checked like a server's (a bad one stops the
    start, naming it)."""
    try:
        return StyleCatalog(store, builder, settings.styles)
    except ValueError as exc:
        raise SettingsError(f"invalid settings: {exc}") from None


def balance_book(settings: Settings, store: Store, bot: LiblibBot, metrics: Metrics) -> BalanceBook:
    channel = settings.balance.alert_channel_id
    return BalanceBook(
        store,
        settings.balance,
        alert=low_balance_alert(bot, channel, settings.discord.default_locale) if channel is not None else None,
        gauge=lambda reading: metrics.balance_seen(reading.points, reading.at),
    )


def client_balance(client: LiblibClient) -> Callable[[], BalanceReading | None]:
    def latest() -> BalanceReading | None:
        seen = client.latest_balance
        return BalanceReading(*seen) if seen is not None else None

    return latest
