"""QuotaService: the Admission used in production, plus what members and admins read about usage.

``admit`` runs every rule that needs no money (where, who, what, banned words, cooldown) and then
returns the job with its debits; the store reserves all of them with the job insert in one
transaction, so concurrent requests cannot overspend, and settles them exactly once when the job ends, at
what LiblibAI billed (refunded when it billed nothing). ``audit_blocked`` makes a batch the content audit
blocked entirely a strike, like a banned word.
Counters, timers, strikes and settings all live in the store: a restart forgets nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from bot.billing.prices import price_per_image
from bot.errors import (
    BannedWordError,
    BotError,
    CooldownError,
    InvalidRequestError,
    MemberBlockedError,
    NotAllowedError,
    QueueFullError,
    QuotaExceededError,
    discord_time,
)
from bot.generation.families import family_of, mode_name, planned_long_side, price_name
from bot.i18n import N_, Text
from bot.jobs.admission import Quote, Requester
from bot.jobs.sink import Presentation
from bot.liblib.endpoints import Family
from bot.models import GenerationRequest, Job, UsageDebit, utcnow
from bot.quotas.policy import SERVER, GuildConfig, Policy, channel_scope
from bot.quotas.windows import Windows, current_windows, get_zone, window_resets_at
from bot.quotas.words import word_matcher
from bot.settings import Settings
from bot.storage.base import EnqueueOutcome, EnqueueResult, PromptLogEntry, QuotaStore, UsageRow

log = logging.getLogger(__name__)

DM_GUILD = 0  # strikes and timers of direct messages
COOLDOWN = "cooldown"
BLOCKED = "blocked"
GUILD_SCOPE = "guild"
DM_SCOPE = "user"
ACCOUNT_SCOPE = "account"  # the owner's whole LiblibAI account: every server and direct messages
ACCOUNT_ID = 0


def member_usage_scope(guild_id: int | None) -> str:
    """The usage-counter scope of a member's own budget on one server (a separate budget per server)."""
    return DM_SCOPE if guild_id is None else f"member:{guild_id}"


def estimated_long_side(request: GenerationRequest) -> int:
    """The output's longest side, roughly: explicit sizes, the size a newer family's submit asks for, else about
    1 MP (2 MP-ish when high-res)."""
    if request.width or request.height:
        return max(request.width or 0, request.height or 0)
    planned = planned_long_side(request)
    if planned is not None:
        return planned
    w, h = (int(x) for x in (request.aspect_ratio or "1:1").split(":"))
    area = (2048 * 2048) if request.hires else (1024 * 1024)
    height = math.sqrt(area * h / w)
    return round(max(height, height * w / h))


def check_request(policy: Policy, request: GenerationRequest, kontext_default: str) -> None:
    """The per-option caps and feature switches; raises a BotError naming the option."""
    name = mode_name(request, kontext_default)
    if policy.allowed_models is not None:
        allowed = set(policy.allowed_models)
        if name not in allowed and request.mode not in allowed:
            raise NotAllowedError(
                N_("The model `{name}` is not allowed here. Allowed: {allowed}."),
                name=name,
                allowed=", ".join(sorted(allowed)),
            )
    if family_of(request.mode) in (Family.CUSTOM, Family.COMFY) and not policy.custom_models:  # owner-configured
        raise NotAllowedError(N_("Custom models are disabled on this server. Try `star3` or `kontext-pro`."))
    if request.is_img2img and not policy.img2img:
        raise NotAllowedError(N_("Image-to-image (starting from an image) is disabled here."))
    if request.count > 1 and not policy.multi_image:
        raise InvalidRequestError("count", N_("this server allows one image per request."))
    if request.count > policy.max_count:
        raise InvalidRequestError(
            "count", N_("this server allows at most {max_count} image(s) per request."), max_count=policy.max_count
        )
    if request.steps is not None and request.steps > policy.max_steps:
        raise InvalidRequestError(
            "steps", N_("this server allows at most {max_steps} steps."), max_steps=policy.max_steps
        )
    if policy.max_side is not None and estimated_long_side(request) > policy.max_side:
        raise InvalidRequestError(
            "size", N_("this server allows images up to {max_side} px on the long side."), max_side=policy.max_side
        )


@dataclass(frozen=True, slots=True)
class Counter:
    images: int
    points: int


@dataclass(frozen=True, slots=True)
class UsageReport:
    """Where one member stands (for /usage and /quota show)."""

    policy: Policy
    windows: Windows
    day: Counter
    month: Counter
    server_day: Counter
    cooldown_until: datetime | None
    blocked_until: datetime | None


@dataclass(frozen=True, slots=True)
class TopReport:
    """Who spent what on one server, today and this month."""

    windows: Windows
    day: list[UsageRow]
    month: list[UsageRow]
    server_day: Counter
    server_month: Counter


@dataclass(frozen=True, slots=True)
class _CooldownClaim:
    guild_id: int
    user_id: int
    began: datetime
    until: datetime


CONFIG_TTL = 5.0  # seconds


class QuotaService:
    """Limits and server rules for every new job (the Admission port), and usage reports."""

    def __init__(self, store: QuotaStore, settings: Settings, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._configs: dict[int, tuple[float, asyncio.Future[GuildConfig]]] = {}
        self._cooldowns: dict[str, _CooldownClaim] = {}  # job id -> the cooldown admit started for it
        self.defaults = Policy.defaults(
            settings.quotas, max_active=settings.queue.max_active_per_user, max_steps=settings.models.max_steps
        )

    def now(self) -> datetime:
        return self._clock()

    async def config(self, guild_id: int) -> GuildConfig:
        """The server's settings, cached for CONFIG_TTL seconds: every command reads them before it can answer
        Discord, and a burst of commands must not queue on the database. This process's admin changes
        invalidate the cache at once; another process's take effect within the TTL."""
        now = time.monotonic()
        cached = self._configs.get(guild_id)
        if cached is None or now - cached[0] >= CONFIG_TTL:
            # One read per guild however many commands arrive together (they share the future).
            cached = (now, asyncio.ensure_future(self._read_config(guild_id)))
            self._configs[guild_id] = cached
        try:
            return await asyncio.shield(cached[1])
        except Exception:
            if self._configs.get(guild_id) is cached:
                del self._configs[guild_id]  # never cache a failed read
            raise

    async def _read_config(self, guild_id: int) -> GuildConfig:
        return GuildConfig.from_store(await self._store.get_guild_config(guild_id))

    def forget_config(self, guild_id: int) -> None:
        self._configs.pop(guild_id, None)

    async def server_language(self, guild_id: int) -> str | None:
        """The server's default language (``/settings language``), if an admin set one."""
        server = (await self.config(guild_id)).get(SERVER)
        return server.language if server is not None else None

    async def policy_for(
        self, guild_id: int | None, *, user_id: int | None, channel_id: int | None, role_ids: Iterable[int] = ()
    ) -> Policy:
        if guild_id is None:
            return self.defaults
        config = await self.config(guild_id)
        return config.resolve(self.defaults, channel_id=channel_id, role_ids=role_ids, user_id=user_id)

    def windows(self, policy: Policy) -> Windows:
        return current_windows(self.now(), get_zone(policy.timezone))

    # -- the Admission port ---------------------------------------------------------------------

    async def precheck(self, requester: Requester, request: GenerationRequest) -> None:
        """Before a job's expensive work (fetching, decoding and publishing its images): the rules of ``admit``,
        the running cooldown and whether the quota counters have room, as things stand now.

        Claims nothing: no cooldown starts and nothing is reserved (``admit`` and the store's atomic
        reservation still decide at enqueue). A banned word is a refusal like any other here: its strike
        counts once, as the request ends with it."""
        now = self.now()
        policy, timer_key = await self._check_rules(requester, request, now)
        if _cools_down(policy):
            running = await self._store.get_timer(timer_key, requester.user_id, COOLDOWN)
            if running is not None and running > now:  # claim_timer's test, read-only
                raise CooldownError(running)
        windows = current_windows(now, get_zone(policy.timezone))
        for debit in self._debits(request, policy, windows, guild_id=requester.guild_id, user_id=requester.user_id):
            if debit.max_images is None and debit.max_points is None:
                continue
            used_images, used_points = await self._store.get_usage(debit.scope, debit.scope_id, debit.window)
            if not debit.fits(used_images, used_points):
                refusal = EnqueueResult(
                    EnqueueOutcome.QUOTA_EXCEEDED, failed_debit=debit, used_images=used_images, used_points=used_points
                )
                raise await self.quota_error(refusal)

    async def admit(self, requester: Requester, job: Job) -> Job:
        now = self.now()
        policy, strike_key = await self._check_rules(requester, job.request, now)
        if _cools_down(policy):
            until = now + timedelta(seconds=policy.cooldown_seconds)
            running = await self._store.claim_timer(strike_key, requester.user_id, COOLDOWN, now=now, until=until)
            if running is not None:
                raise CooldownError(running)
            # Claims are forgotten at enqueue or refusal; one whose job vanished otherwise lapses with its cooldown.
            self._cooldowns = {k: c for k, c in self._cooldowns.items() if c.until > now}
            self._cooldowns[job.id] = _CooldownClaim(strike_key, requester.user_id, now, until)
        return self._with_debits(job, policy, current_windows(now, get_zone(policy.timezone)))

    async def admit_repost(self, requester: Requester, request: GenerationRequest | None = None) -> Presentation:
        """``admit`` for a re-posted stored result (free: no cooldown, no debits): where and who; with a new
        ``request`` also what and banned words (a strike counts as for a render). Returns how results show there."""
        now = self.now()
        if request is None:
            policy, _ = await self._check_access(requester, now)
        else:
            policy, _ = await self._check_rules(requester, request, now)
        return _presentation(policy, requester.guild_id)

    async def _check_rules(self, requester: Requester, request: GenerationRequest, now: datetime) -> tuple[Policy, int]:
        """Every rule but the cooldown and the quota counters (where, who, blocks, banned words, the request's
        caps); returns the member's policy and the key of their timers (the guild, or DM_GUILD)."""
        policy, timer_key = await self._check_access(requester, now)
        await self._check_words(policy, requester, request, now)
        check_request(policy, request, self._settings.models.kontext_default_model)
        return policy, timer_key

    async def _check_access(self, requester: Requester, now: datetime) -> tuple[Policy, int]:
        """The rules about where and who (direct messages, the channel, the member's roles, a banned-word block);
        the member's policy there and the key of their timers."""
        guild = requester.guild_id
        if guild is None and not self._settings.quotas.dms_allowed:
            raise NotAllowedError(N_("Generating in direct messages is turned off. Use the bot in a server."))
        config = await self.config(guild) if guild is not None else GuildConfig({})
        policy = config.resolve(
            self.defaults, channel_id=requester.channel_id, role_ids=requester.role_ids, user_id=requester.user_id
        )
        if not policy.channel_allowed:
            raise _channel_refusal(config)
        own_limits = (policy.images_per_day, policy.images_per_month, policy.points_per_day, policy.points_per_month)
        if policy.blocked or (not policy.exempt and 0 in own_limits):
            raise NotAllowedError(N_("Your roles do not allow generating images on this server."))
        strike_key = guild if guild is not None else DM_GUILD
        blocked_until = await self._store.get_timer(strike_key, requester.user_id, BLOCKED)
        if blocked_until is not None and blocked_until > now:
            raise MemberBlockedError(blocked_until)
        return policy, strike_key

    async def presentation(self, job: Job) -> Presentation:
        """The server's audit display rules for the job's channel and member (roles are not known here)."""
        policy = await self.policy_for(job.guild_id, user_id=job.user_id, channel_id=job.channel_id)
        return _presentation(policy, job.guild_id)

    async def _requester_policy(self, requester: Requester) -> Policy:
        return await self.policy_for(
            requester.guild_id,
            user_id=requester.user_id,
            channel_id=requester.channel_id,
            role_ids=requester.role_ids,
        )

    async def quote(self, requester: Requester, request: GenerationRequest) -> Quote:
        """The request's estimate at the price table, and the server's confirmation threshold."""
        policy = await self._requester_policy(requester)
        return Quote(self.estimate_points(request), policy.confirm_above_points)

    async def default_mode(self, requester: Requester) -> str | None:
        return (await self._requester_policy(requester)).default_mode

    async def active_cap(self, requester: Requester) -> int | None:
        policy = await self._requester_policy(requester)
        return policy.max_active if policy.max_active < self._settings.queue.max_active_per_user else None

    async def refused(self, requester: Requester, job: Job) -> None:
        """Give back the cooldown ``admit`` started for ``job``, which the store then refused (a cap, a quota)."""
        claim = self._cooldowns.pop(job.id, None)
        if claim is None:
            return
        # Compare-and-set in one statement: end the timer when the claim began, but only while it still ends
        # where the claim put it (a later claim, after this one ran out, stays).
        await self._store.claim_timer(claim.guild_id, claim.user_id, COOLDOWN, now=claim.until, until=claim.began)

    async def enqueued(self, requester: Requester, job: Job) -> None:
        self._cooldowns.pop(job.id, None)
        days = self._settings.quotas.prompt_log_days
        if days <= 0:
            return
        now = self.now()
        entry = PromptLogEntry(
            guild_id=requester.guild_id,
            channel_id=requester.channel_id,
            user_id=requester.user_id,
            job_id=job.id,
            mode=mode_name(job.request, self._settings.models.kontext_default_model),
            prompt=job.request.prompt,
            negative_prompt=job.request.negative_prompt,
            created_at=now,
        )
        await self._store.append_prompt_log(entry, prune_before=now - timedelta(days=days))

    async def _check_words(
        self, policy: Policy, requester: Requester, request: GenerationRequest, now: datetime
    ) -> None:
        word = word_matcher(policy.banned_words).find(request.prompt, request.negative_prompt)
        if word is None:
            return
        guild = requester.guild_id if requester.guild_id is not None else DM_GUILD
        strikes, blocked_until = await self._strike(guild, requester.user_id, policy, now)
        log.info("banned word refused: guild=%s user=%s strikes=%d", guild, requester.user_id, strikes)
        raise BannedWordError(word, strikes=strikes, strike_limit=policy.strike_limit, blocked_until=blocked_until)

    async def _strike(self, guild: int, user_id: int, policy: Policy, now: datetime) -> tuple[int, datetime | None]:
        """Record a strike: (the member's strikes within the window, the end of the block it started if any)."""
        window = timedelta(hours=policy.strike_window_hours)
        strikes = await self._store.add_strike(guild, user_id, now, since=now - window)
        blocked_until = None
        if policy.strike_limit and strikes >= policy.strike_limit:
            blocked_until = now + timedelta(hours=policy.strike_block_hours)
            await self._store.set_timer(guild, user_id, BLOCKED, blocked_until)
            await self._store.clear_strikes(guild, user_id)
        return strikes, blocked_until

    async def audit_blocked(self, job: Job) -> Text | None:
        """The ``AuditBlocked`` port: LiblibAI's audit blocked ``job``'s whole batch (and billed it). A strike for
        its member, unless the server turned ``audit_strikes`` off; returns what the member is told, or None."""
        policy = await self.policy_for(job.guild_id, user_id=job.user_id, channel_id=job.channel_id)
        if not policy.audit_strikes:
            return None
        guild = job.guild_id if job.guild_id is not None else DM_GUILD
        strikes, blocked_until = await self._strike(guild, job.user_id, policy, self.now())
        log.info("audit block strike: job=%s guild=%s user=%s strikes=%d", job.id, guild, job.user_id, strikes)
        if blocked_until is not None:
            until = discord_time(blocked_until, "f")
            return Text(N_("You have been blocked from generating until {until}."), {"until": until})
        if policy.strike_limit:
            return Text(N_("Strike {strikes} of {limit}."), {"strikes": strikes, "limit": policy.strike_limit})
        return None

    def price_per_image(self, request: GenerationRequest) -> int:
        name = price_name(request, self._settings.models.kontext_default_model)
        return price_per_image(self._settings.liblib.prices, name)

    def estimate_points(self, request: GenerationRequest) -> int:
        """What the job reserves from points budgets until LiblibAI reports its cost."""
        return self.price_per_image(request) * request.count

    def _with_debits(self, job: Job, policy: Policy, windows: Windows) -> Job:
        debits = self._debits(job.request, policy, windows, guild_id=job.guild_id, user_id=job.user_id)
        return dataclasses.replace(job, debits=debits, points_reserved=self.estimate_points(job.request))

    def _debits(
        self, request: GenerationRequest, policy: Policy, windows: Windows, *, guild_id: int | None, user_id: int
    ) -> tuple[UsageDebit, ...]:
        """Every counter a job of ``request`` reserves, each with its limits: the member's own budget (day,
        month), the server's (day, month) and the bot-wide account's (day, in the bot's time zone)."""
        images = request.count
        points = self.estimate_points(request)
        own = member_usage_scope(guild_id)
        member = (
            (None, None, None, None)
            if policy.exempt
            else (policy.images_per_day, policy.images_per_month, policy.points_per_day, policy.points_per_month)
        )
        debits = [
            UsageDebit(own, user_id, windows.day, images, points, max_images=member[0], max_points=member[2]),
            UsageDebit(own, user_id, windows.month, images, points, max_images=member[1], max_points=member[3]),
        ]
        if guild_id is not None:
            debits += [
                UsageDebit(
                    GUILD_SCOPE,
                    guild_id,
                    windows.day,
                    images,
                    points,
                    max_images=policy.server_images_per_day,
                    max_points=policy.server_points_per_day,
                ),
                UsageDebit(
                    GUILD_SCOPE, guild_id, windows.month, images, points, max_points=policy.server_points_per_month
                ),
            ]
        account_day = current_windows(self.now(), get_zone(self.defaults.timezone)).day
        debits.append(
            UsageDebit(
                ACCOUNT_SCOPE,
                ACCOUNT_ID,
                account_day,
                images,
                points,
                max_points=self._settings.quotas.account_points_per_day,
            )
        )
        return tuple(debits)

    # -- refusals from the store ----------------------------------------------------------------

    async def quota_error(self, result: EnqueueResult) -> BotError:
        """The member-facing message for an enqueue refused with QUOTA_EXCEEDED."""
        debit = result.failed_debit
        if debit is None:
            return QuotaExceededError(N_("usage"), 0, 0, None)
        guild_id = debit.scope_id if debit.scope == GUILD_SCOPE else _guild_of_scope(debit.scope)
        zone = await self.zone(guild_id)
        return quota_error_for(result, debit, zone)

    async def zone(self, guild_id: int | None) -> tzinfo:
        """The server's quota time zone (its setting, else the bot's default)."""
        name = self.defaults.timezone
        if guild_id is not None:
            server = (await self.config(guild_id)).get(SERVER)
            if server is not None and "timezone" in server.model_fields_set and server.timezone:
                name = server.timezone
        return get_zone(name)

    # -- reports --------------------------------------------------------------------------------

    async def usage(
        self, guild_id: int | None, user_id: int, *, channel_id: int | None, role_ids: Iterable[int] = ()
    ) -> UsageReport:
        policy = await self.policy_for(guild_id, user_id=user_id, channel_id=channel_id, role_ids=role_ids)
        windows = self.windows(policy)
        own = member_usage_scope(guild_id)
        day = Counter(*await self._store.get_usage(own, user_id, windows.day))
        month = Counter(*await self._store.get_usage(own, user_id, windows.month))
        server_day = Counter(0, 0)
        if guild_id is not None:
            server_day = Counter(*await self._store.get_usage(GUILD_SCOPE, guild_id, windows.day))
        key = guild_id if guild_id is not None else DM_GUILD
        now = self.now()
        cooldown = await self._store.get_timer(key, user_id, COOLDOWN)
        blocked = await self._store.get_timer(key, user_id, BLOCKED)
        return UsageReport(
            policy=policy,
            windows=windows,
            day=day,
            month=month,
            server_day=server_day,
            cooldown_until=cooldown if cooldown and cooldown > now else None,
            blocked_until=blocked if blocked and blocked > now else None,
        )

    async def top(self, guild_id: int, *, limit: int = 10) -> TopReport:
        policy = await self.policy_for(guild_id, user_id=None, channel_id=None)
        windows = self.windows(policy)
        scope = member_usage_scope(guild_id)
        return TopReport(
            windows=windows,
            day=await self._store.list_usage(scope, windows.day, limit=limit),
            month=await self._store.list_usage(scope, windows.month, limit=limit),
            server_day=Counter(*await self._store.get_usage(GUILD_SCOPE, guild_id, windows.day)),
            server_month=Counter(*await self._store.get_usage(GUILD_SCOPE, guild_id, windows.month)),
        )


def _cools_down(policy: Policy) -> bool:
    return policy.cooldown_seconds > 0 and not policy.exempt


def _presentation(policy: Policy, guild_id: int | None) -> Presentation:
    """How results show in a place with ``policy``. A direct message is private (a member's own), so no batch
    is withheld there whatever the bot-wide default."""
    return Presentation(
        audit_notice=policy.audit_display == "notice",
        flagged_only_nsfw=guild_id is not None and policy.flagged_only_nsfw,
    )


def _guild_of_scope(scope: str) -> int | None:
    kind, _, value = scope.partition(":")
    return int(value) if kind == "member" and value.isdigit() else None


def _channel_refusal(config: GuildConfig) -> NotAllowedError:
    allowed = sorted(
        int(scope.partition(":")[2])
        for scope, cfg in config.scopes.items()
        if scope.startswith("channel:") and cfg.channel_allowed
    )
    if not allowed:
        return NotAllowedError(N_("Image generation is not enabled in this channel."))
    channels = ", ".join(f"<#{c}>" for c in allowed[:10])
    return NotAllowedError(N_("Image generation is not enabled in this channel. Try {channels}."), channels=channels)


# The limit names quota_error_for builds, for the catalog (rendered with t() in the member's language).
LIMIT_NAMES = (
    N_("your daily image"),
    N_("your monthly image"),
    N_("your daily points"),
    N_("your monthly points"),
    N_("this server's daily image"),
    N_("this server's monthly image"),
    N_("this server's daily points"),
    N_("this server's monthly points"),
    N_("the bot's daily points"),
    N_("usage"),
    N_("images"),
    N_("points"),
)


async def utc_quota_error(result: EnqueueResult) -> BotError:
    """The QUOTA_EXCEEDED message without a quota service (windows reset at UTC midnight): tests, the CLI."""
    if result.failed_debit is None:
        return QueueFullError()
    return quota_error_for(result, result.failed_debit, UTC)


def quota_error_for(result: EnqueueResult, debit: UsageDebit, zone: tzinfo) -> QuotaExceededError:
    """Name the limit that did not fit, the usage and when it resets (in the server's zone)."""
    resets_at = window_resets_at(debit.window, zone)
    period = "daily" if debit.window.startswith("day:") else "monthly"
    whose = {GUILD_SCOPE: "this server's ", ACCOUNT_SCOPE: "the bot's "}.get(debit.scope, "your ")
    if not debit.images_fit(result.used_images) or debit.max_points is None:
        return QuotaExceededError(
            f"{whose}{period} image",
            debit.max_images or 0,
            result.used_images,
            resets_at,
            "images",
            requested=debit.images,
        )
    return QuotaExceededError(
        f"{whose}{period} points",
        debit.max_points,
        result.used_points,
        resets_at,
        "points",
        requested=debit.points,
    )


__all__ = [
    "BLOCKED",
    "COOLDOWN",
    "GUILD_SCOPE",
    "Counter",
    "QuotaService",
    "TopReport",
    "UsageReport",
    "channel_scope",
    "check_request",
    "member_usage_scope",
    "quota_error_for",
    "utc_quota_error",
]
