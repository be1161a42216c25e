from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.jobs.scheduling import FairQueue
from bot.models import GenerationRequest, Job

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def job(jid: str, user: int, minute: int, **kw) -> Job:
    return Job(
        id=jid,
        user_id=user,
        channel_id=1,
        guild_id=1,
        request=GenerationRequest(mode="star3", prompt="p"),
        created_at=T0 + timedelta(minutes=minute),
        **kw,
    )


def test_round_robin_interleaves_members_instead_of_fifo() -> None:
    queued = [job("a1", 1, 0), job("a2", 1, 1), job("a3", 1, 2), job("b1", 2, 3), job("c1", 3, 4), job("b2", 2, 5)]
    order = [j.id for j in FairQueue().order(queued)]
    assert order == ["a1", "b1", "c1", "a2", "b2", "a3"]


def test_least_recently_served_member_goes_first() -> None:
    fair = FairQueue()
    fair.mark_served(1)
    queued = [job("a1", 1, 0), job("b1", 2, 5)]
    assert [j.id for j in fair.order(queued)] == ["b1", "a1"]


def test_jobs_backing_off_are_skipped_until_due() -> None:
    queued = [job("a1", 1, 0, not_before=T0 + timedelta(hours=1)), job("b1", 2, 1)]
    assert [j.id for j in FairQueue().order(queued, now=T0)] == ["b1"]
    assert [j.id for j in FairQueue().order(queued, now=T0 + timedelta(hours=2))] == ["a1", "b1"]


def test_positions_are_one_based_in_service_order() -> None:
    queued = [job("a1", 1, 0), job("a2", 1, 1), job("b1", 2, 2)]
    assert FairQueue().positions(queued) == {"a1": 1, "b1": 2, "a2": 3}
