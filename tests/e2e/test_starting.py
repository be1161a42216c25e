"""Starting a job from Discord (JobStarter -> JobService.start): a refused start leaves no cooldown behind."""

from __future__ import annotations

from pathlib import Path

from bot.liblib.simulator import Simulator
from bot.models import JobState
from tests.e2e.conftest import make_settings, running_bot
from tests.e2e.helpers import job_for_token
from tests.e2e.test_imagine import wait_result
from tests.e2e.test_quotas import queued_or_refused
from tests.fake_discord import FakeDiscord


async def test_a_member_refused_by_the_queue_cap_can_imagine_again_at_once_under_a_cooldown(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    sim.set_durations(queued=0.02, running=1.0, auditing=0.02)
    settings = make_settings(
        fake,
        sim,
        tmp_path / "bot.db",
        liblib={"max_concurrent_tasks": 1},  # one job runs, the next one waits in the queue
        queue={"max_queued_total": 1},
        quotas={"cooldown_seconds": 600},
    )
    first, second = (int(fake.add_member(9200 + i, name=f"member{i}")["user"]["id"]) for i in range(2))
    async with running_bot(settings, fake) as runtime:
        running = await fake.slash("imagine", {"prompt": "runs first"}, user_id=first)
        await job_for_token(runtime.store, running.token, JobState.RUNNING)
        waiting = await fake.slash("imagine", {"prompt": "waits"}, user_id=second)
        await job_for_token(runtime.store, waiting.token, JobState.QUEUED)

        refused = await fake.slash("imagine", {"prompt": "refused: the queue is full"})
        assert "queue is full" in await queued_or_refused(fake, refused)

        await job_for_token(runtime.store, waiting.token, JobState.RUNNING)  # the queue has room again
        again = await fake.slash("imagine", {"prompt": "right away"})
        assert await queued_or_refused(fake, again) == "queued"  # not "Slow down: ..."
        await wait_result(fake, again.token, timeout=20)
        cooling = await fake.slash("imagine", {"prompt": "too soon"})
        assert "Slow down" in await queued_or_refused(fake, cooling)  # the job that did start holds the cooldown
