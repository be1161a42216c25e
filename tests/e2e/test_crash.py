"""Crash test: a real bot process with 20 jobs in every state is SIGKILLed and restarted.

The fake Discord and the LiblibAI simulator run in the test process on loopback; the bot runs as
``python -m bot run`` with a settings file. Slow-fault injection holds one submit and two result downloads
so that, at the kill, jobs sit in QUEUED, SUBMITTING, RUNNING and DELIVERING. After the restart every job
must end delivered exactly once, or failed with a message to the member and a refund, and LiblibAI must
have seen each job submitted at most once.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from functools import partial
from pathlib import Path

from bot.liblib.simulator import Simulator
from bot.models import FailureReason, Job, JobState
from bot.settings import SimulatorSettings
from bot.storage import open_store
from tests.e2e.conftest import assert_no_pings
from tests.e2e.faults import embed_titles, is_original_edit
from tests.e2e.process import BotProcess, process_sections, start, write_settings
from tests.fake_discord import Call, FakeDiscord

JOBS = 20
ACTIVE = (JobState.QUEUED, JobState.SUBMITTING, JobState.RUNNING, JobState.DELIVERING)
USERS = 5


def is_failure_notice(call: Call, token: str) -> bool:
    return is_original_edit(call, token) and call.status == 200 and any("❌" in t for t in embed_titles(call))


async def jobs_now(url: str) -> list[Job]:
    async with open_store(url) as store:
        return await store.list_jobs(list(JobState))


async def wait_until(url: str, done, timeout: float, bot: BotProcess) -> list[Job]:
    deadline = time.monotonic() + timeout
    while True:
        jobs = await jobs_now(url)
        if done(jobs):
            return jobs
        if time.monotonic() > deadline or not bot.running:
            states = Counter(j.state for j in jobs)
            raise AssertionError(f"timed out waiting; states {dict(states)}\n{bot.log_tail()}")
        await asyncio.sleep(0.05)


async def test_sigkill_with_jobs_in_every_state_loses_nothing_and_submits_nothing_twice(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    sim_settings = SimulatorSettings(port=0, queued_seconds=0.1, running_seconds=1.0, auditing_seconds=0.1)
    async with Simulator(sim_settings, submit_per_second=20.0, max_concurrent=5) as sim:
        db = tmp_path / "bot.db"
        url = f"sqlite:///{db}"
        sections = process_sections(
            fake, sim.base_url, db, queue={"max_active_per_user": JOBS}, submit_per_second=4.0, max_concurrent_tasks=4
        )
        settings_path = write_settings(tmp_path / "bot.toml", sections)
        users = [int(fake.add_member(8000 + i, name=f"member{i}")["user"]["id"]) for i in range(USERS)]
        log_path = tmp_path / "bot.log"

        bot = await start(settings_path, log_path=log_path, fake=fake)
        try:
            await bot.wait_ready(fake)
            # The first two result downloads hang: those jobs are DELIVERING at the kill.
            sim.inject("slow", route="image", count=2, value=8.0)
            tokens: dict[str, str] = {}
            for n in range(JOBS):
                prompt = f"crash job {n}"
                inter = await fake.slash("imagine", {"prompt": prompt}, user_id=users[n % USERS])
                tokens[prompt] = inter.token
            await wait_until(url, lambda js: sum(j.state is JobState.DELIVERING for j in js) >= 2, 20, bot)
            # Now hold the next submit: that job is SUBMITTING (request sent, no answer) at the kill.
            sim.inject("slow", route="submit", count=1, value=4.0)
            at_kill = await wait_until(
                url,
                # ...and the held submit has reached the simulator (all three faults served).
                lambda js: set(ACTIVE) <= {j.state for j in js} and sim.counters.faults_served == 3,
                20,
                bot,
            )
            assert await bot.kill(signal.SIGKILL) == -signal.SIGKILL
        finally:
            await bot.kill(signal.SIGKILL)
        states_at_kill = Counter(j.state for j in at_kill)
        assert set(ACTIVE) <= set(states_at_kill)
        submitting = {j.id for j in at_kill if j.state is JobState.SUBMITTING}
        sim.clear_injections()

        bot = await start(settings_path, log_path=log_path, fake=fake)
        try:
            await bot.wait_ready(fake)
            final = await wait_until(url, lambda js: len(js) == JOBS and all(j.state.terminal for j in js), 45, bot)
            for job in final:  # a failure notice follows the terminal state: wait for each before stopping
                if job.state is not JobState.SUCCEEDED:
                    await fake.wait_for_call(partial(is_failure_notice, token=tokens[job.request.prompt]))
        finally:
            await bot.kill(signal.SIGTERM)
        tasks = sim.tasks()
        counters = sim.counters.snapshot()

    by_prompt = {j.request.prompt: j for j in final}
    assert len(by_prompt) == JOBS
    for prompt, job in by_prompt.items():
        token = tokens[prompt]
        edits = [c for c in fake.calls if is_original_edit(c, token) and c.status == 200]
        posts = [c for c in fake.calls if c.method == "POST" and "/channels/" in c.path and c.status == 200]
        if job.state is JobState.SUCCEEDED:
            # Exactly one visible result: every upload for this job targets the same message.
            result_ids = {c.response["id"] for c in edits if c.files}
            assert len(result_ids) == 1, (prompt, result_ids)
            assert job.result_message_id == int(result_ids.pop())
            assert not any(f"<@{job.user_id}>" in (c.json or {}).get("content", "") for c in posts)
            assert not job.refunded
        else:
            assert job.state in (JobState.FAILED, JobState.EXPIRED), job
            # A submit of unknown outcome is settled at the estimate (LiblibAI may have billed it); others refunded.
            unknown = job.failure_reason is FailureReason.SUBMIT_UNKNOWN
            assert job.refunded is not unknown, job
            assert not unknown or job.points_cost == job.points_reserved, job
            assert any(is_failure_notice(c, token) for c in edits), f"{prompt}: member not told"
    # The job whose submit was in flight has an unknown outcome: failed, never resubmitted, charged the estimate.
    for job_id in submitting:
        [job] = [j for j in final if j.id == job_id]
        assert job.state is JobState.FAILED and job.failure_reason is FailureReason.SUBMIT_UNKNOWN
    assert sum(j.state is JobState.SUCCEEDED for j in final) >= JOBS - len(submitting)
    # No duplicate submits: one task per job at most, and every delivered job's task is its own.
    prompts = Counter(t.params.get("prompt") for t in tasks)
    assert all(n == 1 for n in prompts.values()), prompts
    assert counters["submits"] == len(tasks) == len(prompts)
    assert counters["rate_limit_violations"] == 0 and counters["concurrency_violations"] == 0
    uuid_prompt = {t.uuid: t.params.get("prompt") for t in tasks}
    for job in final:
        if job.state is JobState.SUCCEEDED:
            assert uuid_prompt[job.generate_uuid or ""] == job.request.prompt
    assert_no_pings(fake)
    assert fake.spec_errors == [], fake.spec_errors


async def test_sigkill_while_a_job_waits_for_the_rate_limiter_submits_it_after_the_restart(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    """The second job waits for the submit limiter (one submit every 2.5 s) when the bot is SIGKILLed: nothing
    was sent for it, so after the restart it is submitted and delivered once, not failed as an unknown outcome."""
    sim_settings = SimulatorSettings(port=0, queued_seconds=0.1, running_seconds=0.5, auditing_seconds=0.1)
    async with Simulator(sim_settings, submit_per_second=20.0, max_concurrent=5) as sim:
        db = tmp_path / "bot.db"
        url = f"sqlite:///{db}"
        # DEBUG: the submitter says when a job starts waiting for its submit slot.
        sections = process_sections(
            fake, sim.base_url, db, queue={"max_active_per_user": 5}, level="DEBUG", submit_per_second=0.4
        )
        settings_path = write_settings(tmp_path / "bot.toml", sections)
        user = int(fake.add_member(8100, name="patient")["user"]["id"])
        log_path = tmp_path / "bot.log"
        bot = await start(settings_path, log_path=log_path, fake=fake)
        try:
            await bot.wait_ready(fake)
            tokens = {}
            for prompt in ("first", "second"):
                tokens[prompt] = (await fake.slash("imagine", {"prompt": prompt}, user_id=user)).token
            first = await wait_until(
                url, lambda js: any(j.request.prompt == "first" and j.state is JobState.RUNNING for j in js), 20, bot
            )
            [second] = [j for j in first if j.request.prompt == "second"]

            def waiting_for_the_limiter(jobs: list[Job]) -> bool:
                # Before the fix the job is SUBMITTING by now; after it, the submitter logs that it waits.
                [job] = [j for j in jobs if j.id == second.id]
                return (
                    job.state is JobState.SUBMITTING or f"job {second.id}: waiting for a submit slot" in bot.log_text()
                )

            at_kill = await wait_until(url, waiting_for_the_limiter, 20, bot)
            assert await bot.kill(signal.SIGKILL) == -signal.SIGKILL
        finally:
            await bot.kill(signal.SIGKILL)
        assert sim.counters.submits == 1  # the second job's request never left
        assert {j.request.prompt: j.state for j in at_kill}["second"] is JobState.QUEUED

        bot = await start(settings_path, log_path=log_path, fake=fake)
        try:
            await bot.wait_ready(fake)
            final = await wait_until(url, lambda js: all(j.state.terminal for j in js), 30, bot)
        finally:
            assert await bot.kill(signal.SIGTERM) == 0
        tasks = sim.tasks()

    assert {j.request.prompt: j.state for j in final} == {"first": JobState.SUCCEEDED, "second": JobState.SUCCEEDED}
    assert sorted(t.params.get("prompt") for t in tasks) == ["first", "second"]  # each submitted once
    for job in final:
        token = tokens[job.request.prompt]
        uploads = {c.response["id"] for c in fake.calls if is_original_edit(c, token) and c.status == 200 and c.files}
        assert uploads == {str(job.result_message_id)}, job.request.prompt  # delivered once
        assert not job.refunded
        assert not any(is_failure_notice(c, token) for c in fake.calls)
    assert_no_pings(fake)
