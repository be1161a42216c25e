"""Data at rest (issue 17 #10), the whole bot: the SQLite file is private to the bot's user, and the dispatcher
forgets the interaction tokens of finished jobs and deletes finished jobs past ``[storage] job_retention_days``
as soon as it starts."""

from __future__ import annotations

import asyncio
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.models import Job, JobState
from bot.storage import Store, open_store
from tests.e2e.conftest import make_settings, running_bot
from tests.fake_discord import FakeDiscord
from tests.jobs.helpers import new_job


async def finished(store: Store, job_id: str, at: datetime) -> Job:
    job = new_job(job_id)
    job.interaction_token = f"token-{job_id}"
    job.application_id = 1
    await store.enqueue(job)
    await store.transition(job_id, JobState.QUEUED, JobState.SUBMITTING)
    await store.transition(job_id, JobState.SUBMITTING, JobState.RUNNING)
    await store.transition(job_id, JobState.RUNNING, JobState.DELIVERING)
    moved = await store.transition(job_id, JobState.DELIVERING, JobState.SUCCEEDED, finished_at=at)
    assert moved is not None
    return moved


async def test_the_running_bot_forgets_old_tokens_deletes_old_jobs_and_keeps_its_file_private(
    fake: FakeDiscord, sim, tmp_path: Path
) -> None:
    db = tmp_path / "data" / "bot.db"
    settings = make_settings(fake, sim, db, storage={"job_retention_days": 30})
    now = datetime.now(UTC)
    async with open_store(settings.storage.url) as store:  # what an earlier run left behind
        await finished(store, "recent", now - timedelta(minutes=5))
        await finished(store, "stale", now - timedelta(minutes=20))
        await finished(store, "old", now - timedelta(days=31))

    previous = os.umask(0o022)
    try:
        db.chmod(0o644)  # as an older release created it
        async with running_bot(settings, fake) as runtime:
            for _ in range(250):
                stale = await runtime.store.get_job("stale")
                if stale is not None and stale.interaction_token is None:
                    break
                await asyncio.sleep(0.02)
            recent = await runtime.store.get_job("recent")
            stale = await runtime.store.get_job("stale")
            assert await runtime.store.get_job("old") is None
            assert stale is not None and stale.interaction_token is None and stale.state is JobState.SUCCEEDED
            assert recent is not None and recent.interaction_token == "token-recent"
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in db.parent.iterdir()}
    finally:
        os.umask(previous)
    assert modes == {"bot.db": 0o600, "bot.db-wal": 0o600, "bot.db-shm": 0o600}
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
