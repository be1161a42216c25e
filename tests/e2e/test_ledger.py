"""The ledger follows LiblibAI's bill (issue 16), end to end: the real bot, the fake Discord, the simulator.

Once a task exists at LiblibAI it is billed whatever the bot does, so the quota counters must hold what LiblibAI
billed: a Cancel after the submit stops the member's wait but not the charge, an audit-blocked batch is charged
(and is a strike), a status without ``pointsCost`` settles at the estimate, and only what LiblibAI did not bill
is refunded. The invariant checked throughout: the server's points counter equals the points the simulator
billed for that server's tasks.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.liblib.simulator import Simulator
from bot.models import FailureReason, Job, JobState
from bot.quotas.service import ACCOUNT_ID, ACCOUNT_SCOPE, GUILD_SCOPE, member_usage_scope
from bot.settings import SimulatorSettings
from bot.storage import Store, open_store
from tests.e2e.conftest import assert_no_pings, make_settings, running_bot
from tests.e2e.faults import footers, is_original_edit, wait_failure_notice, wait_result
from tests.e2e.helpers import ack, custom_ids, job_for_token
from tests.e2e.process import process_sections, start, write_settings
from tests.e2e.test_quotas import private_reply, queued_or_refused, today
from tests.fake_discord import FakeDiscord

STAR3_POINTS = 8  # per image, in the simulator and in the bot's default estimate


@pytest.fixture(params=["sqlite", "postgres"])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bot.db'}"
    url: str = request.getfixturevalue("pg_store_url")
    return url


async def wait_until(store: Store, done: Callable[[list[Job]], bool], what: str, timeout: float = 20.0) -> list[Job]:
    deadline = time.monotonic() + timeout
    while True:
        jobs = await store.list_jobs(list(JobState))
        if done(jobs):
            return jobs
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {[(j.id, j.state) for j in jobs]}")
        await asyncio.sleep(0.02)


async def tasks_done(sim: Simulator, timeout: float = 20.0) -> None:
    """Until every task the simulator created has ended (and been billed)."""
    deadline = time.monotonic() + timeout
    while not all(task.terminal for task in sim.tasks()):
        assert time.monotonic() < deadline, "a task never ended at the simulator"
        await asyncio.sleep(0.02)


async def cancel(fake: FakeDiscord, inter: Any) -> str:
    """Press the Cancel button of ``inter``'s progress message; the text the message was edited to."""
    progress = fake.original_message(inter)
    [button] = [c for c in custom_ids(progress) if c.startswith("lb:cancel:")]
    click = await fake.click(int(progress["id"]), button)
    answer = (await ack(fake, click)).json
    assert answer["type"] == 7, answer  # the progress message itself is edited
    return str(answer["data"]["content"])


async def test_cancel_after_submit_loop_never_bills_past_the_server_cap(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path, storage_url: str
) -> None:
    """A member starts a job, waits until LiblibAI accepted it, presses Cancel, and again, and again. Before
    the fix every cancel refunded the server's counter, so under a cap of 20 points the simulator billed 40."""
    cap = 20
    sim.set_durations(queued=0.02, running=1.0, auditing=0.02)
    settings = make_settings(
        fake,
        sim,
        tmp_path / "bot.db",
        storage={"url": storage_url},
        quotas={"server_points_per_day": cap},
        queue={"max_active_per_user": 10},
    )
    async with running_bot(settings, fake) as runtime:
        store = runtime.store
        accepted = refused = 0
        replies: list[str] = []
        states: list[JobState] = []
        for n in range(5):
            inter = await fake.slash("imagine", {"prompt": f"cancel loop {n}"})
            outcome = await queued_or_refused(fake, inter)
            if outcome != "queued":
                assert "this server's daily points limit" in outcome, outcome
                refused += 1
                continue
            accepted += 1
            job = await job_for_token(store, inter.token, JobState.RUNNING)  # LiblibAI accepted it
            replies.append(await cancel(fake, inter))
            states.append((await store.get_job(job.id)).state)
        await tasks_done(sim)
        final = await wait_until(store, lambda js: all(j.state.terminal for j in js), "every job to end")
        billed = sim.counters.points_spent
        assert billed <= cap + STAR3_POINTS, (billed, replies)
        # The member was told the truth, and the job was followed to its end at LiblibAI.
        assert all("Cancelled" in text and "still charges this job" in text for text in replies), replies
        assert not any("refunded" in text for text in replies)
        assert states == [JobState.RUNNING] * accepted
        assert refused >= 1 and accepted == len(final) == sim.counters.submits
        # The ledger follows the bill: the server's counter holds exactly what LiblibAI charged.
        assert await store.get_usage(GUILD_SCOPE, fake.guild_id, today()) == (accepted, billed)
        member = await store.get_usage(member_usage_scope(fake.guild_id), fake.user_id, today())
        assert member == (accepted, billed)
        assert await store.get_usage(ACCOUNT_SCOPE, ACCOUNT_ID, today()) == (accepted, billed)  # bot-wide
        for job in final:
            assert job.state is JobState.CANCELLED and job.failure_reason is FailureReason.CANCELLED
            assert not job.refunded and job.points_cost == STAR3_POINTS
            assert job.cancel_requested_at is not None
        # The result was hidden: nothing but the cancellation reached the member's messages.
        assert not [c for c in fake.calls if c.files]
    assert_no_pings(fake)


async def test_an_audit_blocked_batch_is_charged_and_is_a_strike(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    settings = make_settings(fake, sim, tmp_path / "bot.db", quotas={"strike_limit": 2})
    scope, day = member_usage_scope(fake.guild_id), today()
    async with running_bot(settings, fake) as runtime:
        store = runtime.store
        notices = []
        for n in range(2):
            sim.fail_next_tasks("audit_reject")
            inter = await fake.slash("imagine", {"prompt": f"blocked {n}", "count": 2})
            notice = await wait_failure_notice(fake, inter.token, "Output filtered by audit")
            notices.append(notice.json["embeds"][0])
            job = await job_for_token(store, inter.token, JobState.FAILED)
            assert job.failure_reason is FailureReason.AUDIT_REJECTED
            assert not job.refunded and job.points_cost == 2 * STAR3_POINTS
        first, second = notices
        assert "charged 16 points" in first["description"] and "Strike 1 of 2" in first["description"]
        assert "16 points charged" in first["footer"]["text"] and "refunded" not in first["footer"]["text"]
        assert "blocked from generating until" in second["description"]
        assert await store.get_usage(scope, fake.user_id, day) == (4, sim.counters.points_spent) == (4, 32)
        third = await fake.slash("imagine", {"prompt": "after two blocks"})
        assert "You are blocked from generating here" in await private_reply(fake, third)
    assert sim.counters.submits == 2
    assert_no_pings(fake)


async def test_audit_strikes_can_be_turned_off_per_server(fake: FakeDiscord, sim: Simulator, tmp_path: Path) -> None:
    settings = make_settings(fake, sim, tmp_path / "bot.db", quotas={"strike_limit": 1})
    async with running_bot(settings, fake) as runtime:
        admin = await fake.slash("settings", {"audit_strikes": False}, subcommand="moderation", user_id=fake.admin_id)
        assert "✅" in await private_reply(fake, admin)
        sim.fail_next_tasks("audit_reject")
        inter = await fake.slash("imagine", {"prompt": "blocked, no strike"})
        notice = await wait_failure_notice(fake, inter.token, "Output filtered by audit")
        description = notice.json["embeds"][0]["description"]
        assert "charged 8 points" in description and "Strike" not in description and "blocked from" not in description
        after = await fake.slash("imagine", {"prompt": "still allowed"})
        await wait_result(fake, after.token)
        usage = await runtime.store.get_usage(GUILD_SCOPE, fake.guild_id, today())
        assert usage == (2, 16) == (2, sim.counters.points_spent)


async def test_a_status_without_points_cost_settles_at_the_estimate(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    settings = make_settings(fake, sim, tmp_path / "bot.db")
    async with running_bot(settings, fake) as runtime:
        sim.bill_next_tasks(report=False)
        inter = await fake.slash("imagine", {"prompt": "no cost reported", "count": 2})
        result = await wait_result(fake, inter.token)
        fields = {f["name"]: f["value"] for f in result.json["embeds"][0]["fields"]}
        assert fields["Points"] == "16"
        job = await job_for_token(runtime.store, inter.token)
        assert job.points_cost == job.points_reserved == 16
        assert await runtime.store.get_usage(GUILD_SCOPE, fake.guild_id, today()) == (2, 16)


async def test_a_failure_is_refunded_only_when_liblib_billed_nothing(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    settings = make_settings(fake, sim, tmp_path / "bot.db")
    async with running_bot(settings, fake) as runtime:
        store = runtime.store
        sim.fail_next_tasks("failed")  # LiblibAI reports pointsCost 0: refunded
        free = await fake.slash("imagine", {"prompt": "failed for free"})
        notice = await wait_failure_notice(fake, free.token, "Generation failed")
        assert "quota refunded" in footers(notice)[0]
        sim.fail_next_tasks("failed")
        sim.bill_next_tasks(5)  # a failure LiblibAI bills anyway: charged what it billed
        paid = await fake.slash("imagine", {"prompt": "failed but billed"})
        notice = await wait_failure_notice(fake, paid.token, "Generation failed")
        assert "charged 5 points" in notice.json["embeds"][0]["description"]
        assert "refunded" not in footers(notice)[0]
        sim.inject("100021")  # refused at submit: no task, nothing billed
        refused = await fake.slash("imagine", {"prompt": "never created"})
        await wait_failure_notice(fake, refused.token, "Out of LiblibAI points")
        jobs = {j.request.prompt: j for j in await store.list_jobs([JobState.FAILED])}
        assert jobs["failed for free"].refunded and jobs["never created"].refunded
        assert not jobs["failed but billed"].refunded and jobs["failed but billed"].points_cost == 5
        assert await store.get_usage(GUILD_SCOPE, fake.guild_id, today()) == (1, 5) == (1, sim.counters.points_spent)


# -- exactly once across a SIGKILL ------------------------------------------------------------------


async def test_a_cancelled_job_is_settled_once_across_a_sigkill_restart(fake: FakeDiscord, tmp_path: Path) -> None:
    """A job is cancelled after LiblibAI accepted it, then the bot process is SIGKILLed before the task ends.
    The restarted process resumes following the task (its cancel request is in the store) and settles it at
    the billed cost, once; a job running next to it is delivered and settled as usual."""
    sim_settings = SimulatorSettings(port=0, queued_seconds=0.05, running_seconds=3.0, auditing_seconds=0.05)
    async with Simulator(sim_settings, submit_per_second=20.0, max_concurrent=5) as sim:
        db = tmp_path / "bot.db"
        url = f"sqlite:///{db}"
        settings_path = write_settings(
            tmp_path / "bot.toml", process_sections(fake, sim.base_url, db, submit_per_second=20.0)
        )
        log_path = tmp_path / "bot.log"
        bot = await start(settings_path, log_path=log_path, fake=fake)
        try:
            await bot.wait_ready(fake)
            stopped = await fake.slash("imagine", {"prompt": "cancelled, then killed"})
            kept = await fake.slash("imagine", {"prompt": "running, then killed"})
            await fake.wait_for_call(lambda c: is_original_edit(c, stopped.token) and "Queued" in str(c.json))
            async with open_store(url) as store:
                await job_for_token(store, stopped.token, JobState.RUNNING)
                await job_for_token(store, kept.token, JobState.RUNNING)
            text = await cancel(fake, stopped)
            assert await bot.kill(signal.SIGKILL) == -signal.SIGKILL
        finally:
            await bot.kill(signal.SIGKILL)
        assert not all(task.terminal for task in sim.tasks()), "the tasks ended before the kill"

        bot = await start(settings_path, log_path=log_path, fake=fake)
        try:
            await bot.wait_ready(fake)
            await wait_result(fake, kept.token, timeout=30)
            async with open_store(url) as store:
                final = await wait_until(store, lambda js: all(j.state.terminal for j in js), "both jobs", 30)
        finally:
            await bot.kill(signal.SIGTERM)
        billed = sim.counters.points_spent
        async with open_store(url) as store:
            server = await store.get_usage(GUILD_SCOPE, fake.guild_id, today())
            member = await store.get_usage(member_usage_scope(fake.guild_id), fake.user_id, today())
            account = await store.get_usage(ACCOUNT_SCOPE, ACCOUNT_ID, today())

    jobs = {j.request.prompt: j for j in final}
    cancelled, delivered = jobs["cancelled, then killed"], jobs["running, then killed"]
    assert billed == 2 * STAR3_POINTS and sim.counters.submits == 2
    assert server == member == account == (2, billed), (server, member, account, billed)
    assert cancelled.state is JobState.CANCELLED and not cancelled.refunded, cancelled
    assert cancelled.points_cost == STAR3_POINTS
    assert delivered.state is JobState.SUCCEEDED and delivered.points_cost == STAR3_POINTS
    assert "still charges this job" in text
    assert not [c for c in fake.calls if c.files and stopped.token in c.path]  # its result stayed hidden
    assert_no_pings(fake)
