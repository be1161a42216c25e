"""JobService: start (admit, enqueue, give back a refused job's cooldown), cancel, queue positions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.errors import (
    CooldownError,
    JobNotCancellableError,
    JobSubmittingError,
    NotJobOwnerError,
    QueueFullError,
    QuotaExceededError,
    TooManyActiveJobsError,
)
from bot.i18n import Text
from bot.jobs import JobService, Requester
from bot.jobs.scheduling import FairQueue
from bot.jobs.service import visible_to
from bot.models import FailureReason, GenerationRequest, Job, JobState, new_job_id
from bot.quotas import QuotaService
from bot.quotas.service import utc_quota_error
from bot.settings import QueueSettings, Settings
from bot.storage import Store, open_store
from tests.jobs.helpers import new_job


async def test_cancel_refunds_once_and_refuses_strangers(parts) -> None:
    _sim, store, _sink, runner, queue = parts
    service = JobService(store, queue, FairQueue(), runner.wake, quota_error=utc_quota_error)
    await store.enqueue(new_job("c"))
    with pytest.raises(NotJobOwnerError):
        await service.cancel("c", actor_id=999, is_admin=False)
    cancelled = await service.cancel("c", actor_id=1, is_admin=False)
    assert cancelled.state is JobState.CANCELLED and cancelled.refunded
    assert await store.get_usage("user", 1, "day:x") == (0, 0)
    with pytest.raises(JobNotCancellableError, match="no longer be cancelled"):
        await service.cancel("c", actor_id=1, is_admin=False)


async def test_cancel_after_the_submit_marks_the_job_and_refunds_nothing(parts) -> None:
    _sim, store, _sink, runner, queue = parts
    service = JobService(store, queue, FairQueue(), runner.wake, quota_error=utc_quota_error)
    await store.enqueue(new_job("r"))
    await store.transition("r", JobState.QUEUED, JobState.SUBMITTING)
    with pytest.raises(JobSubmittingError, match="in a moment"):  # a moment later it is running (or queued)
        await service.cancel("r", actor_id=1, is_admin=False)
    await store.transition("r", JobState.SUBMITTING, JobState.RUNNING, generate_uuid="u")
    first = await service.cancel("r", actor_id=1, is_admin=False)
    assert first.state is JobState.RUNNING and first.cancel_requested and not first.refunded
    again = await service.cancel("r", actor_id=1, is_admin=False)  # a second click changes nothing
    assert again.cancel_requested_at == first.cancel_requested_at
    assert await store.get_usage("user", 1, "day:x") == (1, 8)  # LiblibAI bills the task: nothing refunded
    await store.transition("r", JobState.RUNNING, JobState.CANCELLED, when_cancel_requested=True, points_cost=8)
    with pytest.raises(JobNotCancellableError, match="cancelled"):
        await service.cancel("r", actor_id=1, is_admin=False)


@pytest.mark.parametrize(
    ("job_guild", "job_user", "viewer_guild", "viewer_user", "visible"),
    [
        (9, 1, 9, 1, True),  # the requester, where they asked
        (9, 1, 9, 2, True),  # a member of the same server
        (9, 1, 8, 2, False),  # another server's member
        (9, 1, None, 2, False),  # someone in their DMs
        (9, 1, None, 1, True),  # the requester, from their DMs
        (None, 1, None, 1, True),  # a DM job, to its requester
        (None, 1, None, 2, False),  # a DM job, to another member in their own DMs (both guild ids None)
        (None, 1, 9, 2, False),  # a DM job, to a server's member
        (None, 1, 9, 1, True),  # a DM job, to its requester in a server
    ],
)
def test_a_job_is_visible_to_its_requester_and_its_servers_members_only(
    job_guild, job_user, viewer_guild, viewer_user, visible
) -> None:
    job = Job(
        id="v", user_id=job_user, channel_id=5, guild_id=job_guild, request=GenerationRequest(mode="star3", prompt="x")
    )
    viewer = Requester(user_id=viewer_user, guild_id=viewer_guild, channel_id=6)
    assert visible_to(job, viewer) is visible


async def test_concurrent_position_queries_share_one_listing_and_never_answer_stale(parts, monkeypatch) -> None:
    _sim, store, _sink, runner, queue = parts
    service = JobService(store, queue, FairQueue(), runner.wake, quota_error=utc_quota_error)
    for i in range(30):
        await service.enqueue(new_job(f"j{i}", user=100 + i), wake=False)
    listings = 0
    real_list = store.list_jobs

    async def counting(states):
        nonlocal listings
        listings += 1
        return await real_list(states)

    monkeypatch.setattr(store, "list_jobs", counting)
    positions = await asyncio.gather(*(service.position(f"j{i}") for i in range(30)))
    assert positions == list(range(1, 31))
    assert listings == 1  # not one per caller: a burst would be quadratic
    await store.transition(
        "j0", JobState.QUEUED, JobState.CANCELLED, failure_reason=FailureReason.CANCELLED, failure_detail=Text("x")
    )
    assert await service.position("j1") == 1  # a later call lists again
    assert await service.position("j0") is None
    assert listings == 3


# -- start: admit, enqueue, and give a refused job's cooldown back --------------------------------------

GUILD = 500
USER = 42
OTHER = 43
COOLDOWN = 60
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        url: str = request.getfixturevalue("pg_store_url")
        return url
    return f"sqlite:///{tmp_path}/start.db"


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    async with open_store(store_url) as opened:
        yield opened


def starting(store: Store, clock: Clock, **queue: int) -> tuple[QuotaService, JobService]:
    settings = Settings(quotas={"cooldown_seconds": COOLDOWN, "images_per_day": 2}, queue=queue)
    quotas = QuotaService(store, settings, clock=clock)
    jobs = JobService(
        store, settings.queue, FairQueue(), lambda: None, admission=quotas, quota_error=quotas.quota_error
    )
    return quotas, jobs


def asker(user: int = USER) -> Requester:
    return Requester(user_id=user, guild_id=GUILD, channel_id=1)


def asked(user: int = USER) -> Job:
    request = GenerationRequest(mode="star3", prompt="a fox")
    return Job(id=new_job_id(), user_id=user, channel_id=1, guild_id=GUILD, request=request)


async def cooldown_until(quotas: QuotaService, user: int = USER) -> datetime | None:
    return (await quotas.usage(GUILD, user, channel_id=1)).cooldown_until


async def test_start_returns_the_stored_job_and_its_position_and_attaches_a_progress_message(store: Store) -> None:
    jobs = JobService(store, QueueSettings(), FairQueue(), lambda: None, quota_error=utc_quota_error)
    first, first_position = await jobs.start(asker(USER), asked(USER))
    second, second_position = await jobs.start(asker(OTHER), asked(OTHER))
    assert (first_position, second_position) == (1, 2)
    await jobs.attach_progress_message(second.id, 777)
    stored = await store.get_job(second.id)
    assert stored is not None and stored.state is JobState.QUEUED and stored.progress_message_id == 777
    assert first.id != second.id


async def test_a_member_refused_by_the_queue_cap_can_start_again_at_once_under_a_cooldown(store: Store) -> None:
    clock = Clock(T0)
    quotas, jobs = starting(store, clock, max_queued_total=1)
    theirs, _ = await jobs.start(asker(OTHER), asked(OTHER))
    with pytest.raises(QueueFullError):
        await jobs.start(asker(USER), asked(USER))
    assert await cooldown_until(quotas) is None  # the refused job's cooldown was given back
    await jobs.cancel(theirs.id, actor_id=OTHER, is_admin=False)
    clock.now = T0 + timedelta(seconds=1)
    started, position = await jobs.start(asker(USER), asked(USER))
    assert position == 1
    assert await cooldown_until(quotas) == clock.now + timedelta(seconds=COOLDOWN)
    with pytest.raises(CooldownError):  # a job that did start keeps its cooldown
        await jobs.start(asker(USER), asked(USER))
    stored = await store.get_job(started.id)
    assert stored is not None and stored.state is JobState.QUEUED


@pytest.mark.parametrize("refusal", ["too-many-active", "quota"])
async def test_every_refusal_at_enqueue_gives_the_cooldown_back(store: Store, refusal: str) -> None:
    clock = Clock(T0)
    quotas, jobs = starting(store, clock, max_active_per_user=1 if refusal == "too-many-active" else 3)
    first, _ = await jobs.start(asker(), asked())
    if refusal == "quota":
        clock.now += timedelta(seconds=COOLDOWN + 1)
        await jobs.start(asker(), asked())  # the second of two images a day
    clock.now += timedelta(seconds=COOLDOWN + 1)  # the cooldown ran out: the next attempt claims a new one
    with pytest.raises(TooManyActiveJobsError if refusal == "too-many-active" else QuotaExceededError):
        await jobs.start(asker(), asked())
    assert await cooldown_until(quotas) is None
    await jobs.cancel(first.id, actor_id=USER, is_admin=False)  # a slot (and the quota) back
    clock.now += timedelta(seconds=1)
    await jobs.start(asker(), asked())  # at once: no cooldown from the refused attempt


async def test_giving_a_cooldown_back_never_clears_a_later_one_and_happens_once(store: Store) -> None:
    clock = Clock(T0)
    quotas, _ = starting(store, clock)
    stale = await quotas.admit(asker(), asked())
    clock.now = T0 + timedelta(seconds=COOLDOWN + 1)  # the first cooldown ran out; another job claims one
    fresh = await quotas.admit(asker(), asked())
    await quotas.refused(asker(), stale)
    assert await cooldown_until(quotas) == clock.now + timedelta(seconds=COOLDOWN)
    await quotas.refused(asker(), fresh)
    assert await cooldown_until(quotas) is None
    clock.now += timedelta(seconds=1)
    await quotas.admit(asker(), asked())
    await quotas.refused(asker(), fresh)  # a second give-back for the same job does nothing
    assert await cooldown_until(quotas) == clock.now + timedelta(seconds=COOLDOWN)


class FailingEnqueue:
    """The real store, except that ``enqueue`` fails (``error``) or hangs until cancelled (``error=None``)."""

    def __init__(self, store: Store, error: BaseException | None) -> None:
        self._store = store
        self._error = error
        self.entered = asyncio.Event()

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    async def enqueue(self, job: Job, **limits: int) -> object:
        self.entered.set()
        if self._error is not None:
            raise self._error
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_database_error_at_enqueue_gives_the_cooldown_back(store: Store) -> None:
    clock = Clock(T0)
    quotas, _ = starting(store, clock)
    broken = FailingEnqueue(store, OSError("database is gone"))
    jobs = JobService(broken, QueueSettings(), FairQueue(), lambda: None, admission=quotas, quota_error=utc_quota_error)
    with pytest.raises(OSError, match="database is gone"):
        await jobs.start(asker(), asked())
    assert await cooldown_until(quotas) is None
    assert not quotas._cooldowns  # nothing kept for a job that does not exist


async def test_a_command_cancelled_during_enqueue_gives_the_cooldown_back(store: Store) -> None:
    clock = Clock(T0)
    quotas, _ = starting(store, clock)
    hanging = FailingEnqueue(store, None)
    jobs = JobService(
        hanging, QueueSettings(), FairQueue(), lambda: None, admission=quotas, quota_error=utc_quota_error
    )
    task = asyncio.create_task(jobs.start(asker(), asked()))
    await hanging.entered.wait()
    assert await cooldown_until(quotas) == T0 + timedelta(seconds=COOLDOWN)  # claimed by admit
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await cooldown_until(quotas) is None
    assert await store.list_jobs([JobState.QUEUED]) == []


async def test_a_stored_job_is_started_even_when_the_after_enqueue_step_fails(store: Store) -> None:
    clock = Clock(T0)
    quotas, jobs = starting(store, clock)

    async def prompt_log_down(requester: Requester, job: Job) -> None:
        raise OSError("prompt log unavailable")

    quotas.enqueued = prompt_log_down  # type: ignore[method-assign]
    started, position = await jobs.start(asker(), asked())
    assert position == 1
    stored = await store.get_job(started.id)
    assert stored is not None and stored.state is JobState.QUEUED
    assert await cooldown_until(quotas) == T0 + timedelta(seconds=COOLDOWN)  # the job started: it keeps it


# -- precheck: before the image work, the refusals start would give, claiming nothing ---------------------


def asked_for(count: int = 1) -> GenerationRequest:
    return GenerationRequest(mode="star3", prompt="a fox", count=count)


async def test_precheck_refuses_what_start_would_refuse_and_claims_nothing(store: Store) -> None:
    clock = Clock(T0)
    quotas, jobs = starting(store, clock)  # a cooldown of 60 s, 2 images a day
    await jobs.precheck(asker(), asked_for())
    assert await cooldown_until(quotas) is None  # passing claimed no cooldown
    assert await store.get_usage(f"member:{GUILD}", USER, quotas.windows(quotas.defaults).day) == (
        0,
        0,
    )  # and reserved nothing
    await jobs.start(asker(), asked())
    claimed = await cooldown_until(quotas)
    assert claimed == T0 + timedelta(seconds=COOLDOWN)  # one claim, by start
    clock.now += timedelta(seconds=1)
    with pytest.raises(CooldownError):
        await jobs.precheck(asker(), asked_for())
    assert await cooldown_until(quotas) == claimed  # a refusing pre-check neither moves nor ends it
    clock.now += timedelta(seconds=COOLDOWN)
    with pytest.raises(QuotaExceededError) as early:
        await jobs.precheck(asker(), asked_for(count=2))  # 1 of 2 used: two more do not fit
    two = Job(id=new_job_id(), user_id=USER, channel_id=1, guild_id=GUILD, request=asked_for(2))
    with pytest.raises(QuotaExceededError) as late:
        await jobs.start(asker(), two)
    assert early.value.message == late.value.message  # the same words as the store's refusal
    assert await cooldown_until(quotas) is None  # the refused start gave its cooldown back
    assert len(await store.list_jobs([JobState.QUEUED])) == 1


async def test_precheck_refuses_a_member_at_their_cap_on_jobs_at_once(store: Store) -> None:
    clock = Clock(T0)
    quotas, jobs = starting(store, clock, max_active_per_user=1)
    await jobs.start(asker(), asked())
    clock.now += timedelta(seconds=COOLDOWN + 1)
    with pytest.raises(TooManyActiveJobsError):
        await jobs.precheck(asker(), asked_for())
    assert await cooldown_until(quotas) is None  # the last cooldown ran out and none was claimed
    await jobs.precheck(asker(OTHER), asked_for())  # the cap is each member's own


async def test_a_precheck_only_advises_start_still_reserves_atomically(store: Store) -> None:
    """Two requests pre-checked while one image is left: both pass, the enqueue admits exactly one, and the
    refused one's cooldown is given back (nothing leaks)."""
    clock = Clock(T0)
    quotas, jobs = starting(store, clock, max_active_per_user=3)  # 2 images a day
    await jobs.start(asker(), asked())
    clock.now += timedelta(seconds=COOLDOWN + 1)
    await jobs.precheck(asker(), asked_for())
    await jobs.precheck(asker(), asked_for())  # both pass: the first claimed nothing
    await jobs.start(asker(), asked())
    clock.now += timedelta(seconds=COOLDOWN + 1)
    with pytest.raises(QuotaExceededError):
        await jobs.start(asker(), asked())
    assert await cooldown_until(quotas) is None
    assert len(await store.list_jobs([JobState.QUEUED])) == 2


# -- quotes and a cheaper mode ----------------------------------------------------------------------------


async def test_the_quote_is_the_price_table_and_the_servers_threshold(store: Store) -> None:
    settings = Settings(quotas={"confirm_above_points": 20})
    quotas = QuotaService(store, settings)
    jobs = JobService(
        store, settings.queue, FairQueue(), lambda: None, admission=quotas, quota_error=quotas.quota_error
    )
    star3 = await jobs.quote(asker(), GenerationRequest(mode="star3", prompt="a fox", count=2))
    assert (star3.points, star3.confirm_above, star3.needs_confirm) == (16, 20, False)
    kontext = await jobs.quote(asker(), GenerationRequest(mode="kontext", kontext_model="max", prompt="a fox"))
    assert (kontext.points, kontext.needs_confirm) == (58, True)
    open_jobs = JobService(store, settings.queue, FairQueue(), lambda: None, quota_error=utc_quota_error)
    assert not (await open_jobs.quote(asker(), GenerationRequest(mode="star3", prompt="a fox"))).needs_confirm


async def test_the_cheaper_alternative_is_the_cheapest_that_fits_and_claims_nothing(store: Store) -> None:
    clock = Clock(T0)
    settings = Settings(quotas={"cooldown_seconds": COOLDOWN, "points_per_day": 30})
    quotas = QuotaService(store, settings, clock=clock)
    jobs = JobService(
        store, settings.queue, FairQueue(), lambda: None, admission=quotas, quota_error=quotas.quota_error
    )
    kontext = GenerationRequest(mode="kontext", kontext_model="max", prompt="a fox")
    pro = kontext.with_(kontext_model="pro")  # 29: fits 30
    star3 = GenerationRequest(mode="star3", prompt="a fox", count=4)  # 32: cheaper than 58, but over 30
    custom = GenerationRequest(mode="dreamtech-xl", prompt="a fox", count=3)  # 24: the cheapest that fits
    found = await jobs.cheaper_alternative(asker(), kontext, [star3, pro, custom, kontext])
    assert found is not None and found[0] == custom and found[1].points == 24
    assert await jobs.cheaper_alternative(asker(), kontext, [star3]) is None  # nothing fits
    assert await jobs.cheaper_alternative(asker(), pro, [kontext]) is None  # never a dearer one
    assert await cooldown_until(quotas) is None  # the pre-checks claimed no cooldown
    assert await store.get_usage(f"member:{GUILD}", USER, quotas.windows(quotas.defaults).day) == (0, 0)
    await quotas_allow_only(store, ["kontext-pro", "kontext-max"])
    quotas.forget_config(GUILD)
    found = await jobs.cheaper_alternative(asker(), kontext, [star3, pro, custom])
    assert found is not None and found[0] == pro  # the custom model is not allowed on this server


async def quotas_allow_only(store: Store, models: list[str]) -> None:
    await store.set_guild_config(GUILD, "server", {"allowed_models": models})
