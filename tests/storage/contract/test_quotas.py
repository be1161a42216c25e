"""QuotaService and the server-administration store methods on both stores, with an injected clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.errors import BannedWordError, CooldownError, MemberBlockedError, NotAllowedError, QuotaExceededError
from bot.jobs import JobService
from bot.jobs.admission import Requester
from bot.jobs.scheduling import FairQueue
from bot.models import GenerationRequest, Job, JobState, new_job_id
from bot.quotas import GuildAdminService, QuotaService
from bot.quotas.policy import SERVER, role_scope
from bot.quotas.service import GUILD_SCOPE, member_usage_scope
from bot.settings import Settings
from bot.storage import Store
from bot.storage.base import AuditEntry, PromptLogEntry

GUILD = 500
USER = 42
ADMIN = 7


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def make(store: Store, clock: Clock, **quotas: Any) -> tuple[QuotaService, JobService, GuildAdminService]:
    settings = Settings(quotas=quotas, queue={"max_active_per_user": 100})
    service = QuotaService(store, settings, clock=clock)
    jobs = JobService(store, settings.queue, FairQueue(), lambda: None, quota_error=service.quota_error)
    return service, jobs, GuildAdminService(store, service)


def requester(user: int = USER, roles: tuple[int, ...] = (), guild: int | None = GUILD) -> Requester:
    return Requester(user_id=user, guild_id=guild, channel_id=1, role_ids=roles)


def job(prompt: str = "a fox", *, user: int = USER, count: int = 1, guild: int | None = GUILD) -> Job:
    request = GenerationRequest(mode="star3", prompt=prompt, count=count)
    return Job(id=new_job_id(), user_id=user, channel_id=1, guild_id=guild, request=request)


async def submit(service: QuotaService, jobs: JobService, who: Requester, j: Job) -> Job:
    admitted = await service.admit(who, j)
    await jobs.enqueue(admitted, wake=False)
    await service.enqueued(who, admitted)
    return admitted


async def test_daily_limit_resets_at_the_servers_midnight(store: Store) -> None:
    clock = Clock(datetime(2026, 11, 23, 15, 0, tzinfo=UTC))  # 23:00 in Shanghai
    service, jobs, admin = make(store, clock, images_per_day=2)
    await admin.update(GUILD, ADMIN, SERVER, {"timezone": "Asia/Shanghai"})
    for _ in range(2):
        await submit(service, jobs, requester(), job())
    with pytest.raises(QuotaExceededError) as refused:
        await submit(service, jobs, requester(), job())
    midnight = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
    assert refused.value.resets_at == midnight
    assert f"<t:{int(midnight.timestamp())}:R>" in refused.value.message and "2/2" in refused.value.message
    clock.now = midnight - timedelta(seconds=1)
    with pytest.raises(QuotaExceededError):
        await submit(service, jobs, requester(), job())
    clock.now = midnight  # 00:00 in Shanghai (still the 23rd in UTC)
    admitted = await submit(service, jobs, requester(), job())
    assert admitted.debits[0].window == "day:2026-11-24"


async def test_month_limit_and_exempt_roles(store: Store) -> None:
    clock = Clock(datetime(2026, 11, 30, 12, tzinfo=UTC))
    service, jobs, admin = make(store, clock, images_per_day=None, images_per_month=3)
    await submit(service, jobs, requester(), job(count=3))
    with pytest.raises(QuotaExceededError, match="monthly image limit"):
        await submit(service, jobs, requester(), job())
    await admin.update(GUILD, ADMIN, role_scope(11), {"exempt": True})
    await submit(service, jobs, requester(roles=(11,)), job())  # exempt: member limits do not apply
    clock.now = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    await submit(service, jobs, requester(), job())
    assert await store.get_usage(member_usage_scope(GUILD), USER, "month:2026-11") == (4, 32)


async def test_cooldown_is_claimed_atomically_and_survives_in_the_store(store: Store) -> None:
    clock = Clock(datetime(2026, 1, 1, tzinfo=UTC))
    service, jobs, _ = make(store, clock, cooldown_seconds=30)
    results = await asyncio.gather(
        *(submit(service, jobs, requester(), job()) for _ in range(10)), return_exceptions=True
    )
    assert sum(isinstance(r, Job) for r in results) == 1
    assert all(isinstance(r, CooldownError) for r in results if not isinstance(r, Job))
    fresh, fresh_jobs, _ = make(store, clock, cooldown_seconds=30)  # a restart: nothing in memory
    with pytest.raises(CooldownError):
        await submit(fresh, fresh_jobs, requester(), job())
    clock.now += timedelta(seconds=30)
    await submit(fresh, fresh_jobs, requester(), job())


async def test_banned_words_strike_then_block_then_lift(store: Store) -> None:
    clock = Clock(datetime(2026, 1, 1, tzinfo=UTC))
    service, _, admin = make(store, clock, banned_words=["gore"], strike_limit=2, strike_block_hours=1)
    with pytest.raises(BannedWordError, match="Strike 1 of 2"):
        await service.admit(requester(), job("so much gore"))
    with pytest.raises(BannedWordError) as second:
        await service.admit(requester(), job("GORE"))
    assert second.value.blocked_until == clock.now + timedelta(hours=1)
    with pytest.raises(MemberBlockedError):
        await service.admit(requester(), job("a flower"))
    assert await admin.lift_block(GUILD, ADMIN, USER)
    await service.admit(requester(), job("a flower"))
    # Strikes outside the window are forgotten.
    with pytest.raises(BannedWordError, match="Strike 1 of 2"):
        await service.admit(requester(), job("gore"))
    clock.now += timedelta(hours=25)
    with pytest.raises(BannedWordError, match="Strike 1 of 2"):
        await service.admit(requester(), job("gore"))
    actions = [e.action for e in await admin.audit_log(GUILD)]
    assert actions == ["lift block"]


async def test_channel_feature_and_cap_rules(store: Store) -> None:
    clock = Clock(datetime(2026, 1, 1, tzinfo=UTC))
    service, _, admin = make(store, clock)
    await admin.update(GUILD, ADMIN, SERVER, {"max_count": 2, "allowed_models": ["kontext-pro"]})
    with pytest.raises(NotAllowedError, match="`star3` is not allowed"):
        await service.admit(requester(), job())
    await admin.update(GUILD, ADMIN, SERVER, {"allowed_models": None, "multi_image": False})
    with pytest.raises(Exception, match="one image per request"):
        await service.admit(requester(), job(count=2))
    await admin.update(GUILD, ADMIN, SERVER, {"channel_allowed": False})
    with pytest.raises(NotAllowedError, match="not enabled in this channel"):
        await service.admit(requester(), job())


async def test_dms_follow_the_owner_switch(store: Store) -> None:
    clock = Clock(datetime(2026, 1, 1, tzinfo=UTC))
    service, _, _ = make(store, clock, dms_allowed=False)
    with pytest.raises(NotAllowedError, match="direct messages"):
        await service.admit(requester(guild=None), job(guild=None))
    open_service, open_jobs, _ = make(store, clock)
    admitted = await submit(open_service, open_jobs, requester(guild=None), job(guild=None))
    assert {d.scope for d in admitted.debits} == {"user", "account"}  # the DM budget and the bot-wide account cap


async def test_reservation_covers_member_and_server_and_settles_and_refunds(store: Store) -> None:
    clock = Clock(datetime(2026, 1, 1, tzinfo=UTC))
    service, jobs, _ = make(store, clock, server_points_per_day=100)
    admitted = await submit(service, jobs, requester(), job(count=2))
    assert {(d.scope, d.window) for d in admitted.debits} == {
        (member_usage_scope(GUILD), "day:2026-01-01"),
        (member_usage_scope(GUILD), "month:2026-01"),
        (GUILD_SCOPE, "day:2026-01-01"),
        (GUILD_SCOPE, "month:2026-01"),
        ("account", "day:2026-01-01"),  # the bot-wide account cap (the bot's time zone)
    }
    assert admitted.points_reserved == 16
    moved = await store.transition(admitted.id, JobState.QUEUED, JobState.CANCELLED)
    assert moved is not None and moved.refunded
    assert await store.get_usage(GUILD_SCOPE, GUILD, "day:2026-01-01") == (0, 0)
    assert await store.transition(admitted.id, JobState.QUEUED, JobState.CANCELLED) is None


async def test_reset_member_and_usage_reports(store: Store) -> None:
    clock = Clock(datetime(2026, 1, 1, 12, tzinfo=UTC))
    service, jobs, admin = make(store, clock, images_per_day=5)
    await submit(service, jobs, requester(), job(count=3))
    await submit(service, jobs, requester(user=43), job(user=43))
    report = await service.usage(GUILD, USER, channel_id=1)
    assert (report.day.images, report.month.images, report.server_day.images) == (3, 3, 4)
    top = await service.top(GUILD)
    assert [(r.scope_id, r.images) for r in top.day] == [(USER, 3), (43, 1)]
    await admin.reset_member(GUILD, ADMIN, USER)
    assert (await service.usage(GUILD, USER, channel_id=1)).day.images == 0
    assert [e.action for e in await admin.audit_log(GUILD)] == ["reset usage"]


async def test_prompt_log_joins_cost_and_prunes_by_retention(store: Store) -> None:
    clock = Clock(datetime(2026, 1, 1, tzinfo=UTC))
    service, jobs, admin = make(store, clock, prompt_log_days=2)
    first = await submit(service, jobs, requester(), job("画一只猫"))
    [entry] = await admin.prompt_log(GUILD)
    assert (entry.prompt, entry.job_id, entry.job_state, entry.points) == ("画一只猫", first.id, "queued", 8)
    clock.now += timedelta(days=3)
    await submit(service, jobs, requester(), job("later"))
    assert [e.prompt for e in await admin.prompt_log(GUILD)] == ["later"]  # pruned at write
    assert await store.prune_prompt_log(clock.now + timedelta(seconds=1)) == 1


async def test_store_admin_primitives(store: Store) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    await store.set_guild_config(GUILD, "server", {"timezone": "Asia/Shanghai", "banned_words": ["色情"]})
    assert await store.get_guild_config(GUILD) == {"server": {"timezone": "Asia/Shanghai", "banned_words": ["色情"]}}
    await store.set_guild_config(GUILD, "server", {})
    assert await store.get_guild_config(GUILD) == {}
    for i in range(3):
        await store.append_audit(AuditEntry(GUILD, ADMIN, f"a{i}", "{}", now + timedelta(seconds=i)))
    assert [e.action for e in await store.list_audit(GUILD, limit=2)] == ["a2", "a1"]
    assert await store.claim_timer(GUILD, USER, "cooldown", now=now, until=now + timedelta(seconds=5)) is None
    assert await store.claim_timer(GUILD, USER, "cooldown", now=now, until=now + timedelta(seconds=9)) == now + (
        timedelta(seconds=5)
    )
    await store.set_timer(GUILD, USER, "cooldown", None)
    assert await store.get_timer(GUILD, USER, "cooldown") is None
    assert await store.add_strike(GUILD, USER, now, since=now - timedelta(hours=1)) == 1
    assert await store.add_strike(GUILD, USER, now + timedelta(hours=2), since=now + timedelta(hours=1)) == 1
    assert await store.clear_strikes(GUILD, USER) == 1
    await store.append_prompt_log(PromptLogEntry(None, 5, USER, "nojob", "star3", "dm prompt", now))
    assert await store.list_prompt_log(GUILD) == []
    assert await store.list_usage("member:1", "day:x") == []
