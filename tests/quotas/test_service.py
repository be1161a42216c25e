"""QuotaService.admit_repost: a re-post follows admit's rules about where and who (and, for a new request, what),
but spends nothing; and what each place shows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.errors import MemberBlockedError, NotAllowedError
from bot.jobs import Requester
from bot.models import GenerationRequest, Job, JobResult, ResultImage, utcnow
from bot.quotas import QuotaService
from bot.quotas.service import BLOCKED, COOLDOWN
from bot.settings import Settings
from bot.storage import Store, open_store

GUILD, USER, CHANNEL = 9, 42, 5
HERE = Requester(user_id=USER, guild_id=GUILD, channel_id=CHANNEL)
DM = Requester(user_id=USER, guild_id=None, channel_id=77)
FLAGGED = JobResult(images=(ResultImage(url="u", seed=1),), points_cost=8, blocked_count=1)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(f"sqlite:///{tmp_path}/quotas.db") as opened:
        yield opened


async def never_asked() -> bool:
    raise AssertionError("a direct message needs no channel lookup")


async def not_age_restricted() -> bool:
    return False


async def test_a_repost_claims_no_cooldown_and_reserves_nothing(store: Store) -> None:
    quotas = QuotaService(store, Settings(quotas={"cooldown_seconds": 60}))
    request = GenerationRequest(mode="star3", prompt="a fox", seed=1)
    for _ in range(3):
        await quotas.admit_repost(HERE, request)
    assert await store.get_timer(GUILD, USER, COOLDOWN) is None
    job = Job(id="j", user_id=USER, channel_id=CHANNEL, guild_id=GUILD, request=request)
    assert (await quotas.admit(HERE, job)).debits  # and a render right after is not held back


async def test_a_repost_is_refused_where_and_to_whom_a_render_would_be(store: Store) -> None:
    await store.set_timer(GUILD, USER, BLOCKED, utcnow() + timedelta(hours=1))
    quotas = QuotaService(store, Settings())
    with pytest.raises(MemberBlockedError):
        await quotas.admit_repost(HERE)
    closed = QuotaService(store, Settings(quotas={"dms_allowed": False}))
    with pytest.raises(NotAllowedError, match="direct messages"):
        await closed.admit_repost(DM)


async def test_a_direct_message_never_withholds_a_flagged_batch(store: Store) -> None:
    quotas = QuotaService(store, Settings(quotas={"flagged_only_nsfw": True}))  # the bot-wide default
    assert not await (await quotas.admit_repost(DM)).withholds(FLAGGED, never_asked)
    assert await (await quotas.admit_repost(HERE)).withholds(FLAGGED, not_age_restricted)
