"""/imagine end to end: real discord.py client, fake Discord, LiblibAI simulator, SQLite store."""

from __future__ import annotations

import asyncio
import io
import time
from datetime import timedelta
from pathlib import Path

from PIL import Image, ImageChops

from bot.liblib.simulator.images import badge_image, layout
from bot.models import JobState
from bot.storage import open_store
from tests.e2e.conftest import Env, assert_no_pings, make_settings, running_bot
from tests.fake_discord import FakeDiscord


def is_original_edit(call, token: str) -> bool:
    return call.method == "PATCH" and "/webhooks/" in call.path and token in call.path and "@original" in call.path


async def wait_result(fake: FakeDiscord, token: str, timeout: float = 10.0):
    """The edit of @original that carries the result images."""
    return await fake.wait_for_call(lambda c: is_original_edit(c, token) and bool(c.files), timeout=timeout)


async def wait_embed_title(fake: FakeDiscord, token: str, fragment: str, timeout: float = 10.0):
    def match(c) -> bool:
        if not is_original_edit(c, token) or not isinstance(c.json, dict):
            return False
        return any(fragment in (e.get("title") or "") for e in c.json.get("embeds") or [])

    return await fake.wait_for_call(match, timeout=timeout)


async def wait_jobs(store, state: JobState, count: int, timeout: float = 10.0) -> list:
    """The runner records the final state just after the fake answers the delivery: poll for it."""
    deadline = time.monotonic() + timeout
    while True:
        jobs = await store.list_jobs([state])
        if len(jobs) >= count or time.monotonic() > deadline:
            return jobs
        await asyncio.sleep(0.02)


def png_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "PNG"
        return img.size


async def test_startup_syncs_commands_once(env: Env) -> None:
    names = {c["name"] for c in env.fake.commands}
    assert "imagine" in names
    assert env.fake.sync_count == 1


async def test_restart_does_not_resync_unchanged_commands(fake: FakeDiscord, sim, tmp_path: Path) -> None:
    settings = make_settings(fake, sim, tmp_path / "bot.db")
    async with running_bot(settings, fake):
        pass
    async with running_bot(settings, fake):
        pass
    assert fake.sync_count == 1


async def test_imagine_defers_shows_progress_and_delivers_png(env: Env) -> None:
    started = time.monotonic()
    inter = await env.fake.slash("imagine", {"prompt": "a red fox in the snow", "aspect": "16:9"})
    callback = await env.fake.wait_for_call(lambda c: "/callback" in c.path and str(inter.id) in c.path)
    assert callback.json["type"] == 5  # deferred "thinking"
    assert time.monotonic() - started < 3
    queued = await env.fake.wait_for_call(
        lambda c: is_original_edit(c, inter.token) and "Queued" in (c.json or {}).get("content", "")
    )
    assert "position" in queued.json["content"]
    result = await wait_result(env.fake, inter.token)
    assert len(result.files) == 1
    assert png_size(result.files[0].content) == (1280, 720)  # Star-3 "landscape"
    embed = result.json["embeds"][0]
    assert "a red fox in the snow" in embed["description"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Mode"].startswith("star3") and "Points" in fields
    jobs = await wait_jobs(env.runtime.store, JobState.SUCCEEDED, 1)
    assert len(jobs) == 1 and jobs[0].result_message_id is not None
    assert env.sim.counters.submits == 1


async def test_count_four_delivers_four_files_in_one_message(env: Env) -> None:
    inter = await env.fake.slash("imagine", {"prompt": "four cats", "count": 4})
    result = await wait_result(env.fake, inter.token)
    assert len(result.files) == 4
    assert len({f.content for f in result.files}) == 4


async def test_audit_rejection_gets_a_distinct_message(env: Env) -> None:
    env.sim.fail_next_tasks("audit_reject")
    inter = await env.fake.slash("imagine", {"prompt": "something the audit dislikes"})
    call = await wait_embed_title(env.fake, inter.token, "filtered by audit")
    # LiblibAI bills blocked images: the notice says what was charged (and a strike, by default).
    assert "8 points charged" in call.json["embeds"][0]["footer"]["text"]
    assert "Strike 1 of 3" in call.json["embeds"][0]["description"]


async def test_generation_failure_gets_a_distinct_message(env: Env) -> None:
    env.sim.fail_next_tasks("failed")
    inter = await env.fake.slash("imagine", {"prompt": "this one fails"})
    await wait_embed_title(env.fake, inter.token, "Generation failed")
    [job] = await wait_jobs(env.runtime.store, JobState.FAILED, 1)
    assert job.refunded


async def test_banned_prompt_refused_by_liblib_is_explained(env: Env) -> None:
    inter = await env.fake.slash("imagine", {"prompt": "a forbidden-word picture"})
    await wait_embed_title(env.fake, inter.token, "Prompt refused")


async def test_invalid_input_gets_an_ephemeral_message_and_no_api_call(env: Env) -> None:
    inter = await env.fake.slash("imagine", {"prompt": "   \u200b  "})
    call = await env.fake.wait_for_call(lambda c: "/callback" in c.path and str(inter.id) in c.path)
    assert call.json["type"] == 4
    assert call.json["data"]["flags"] & 64  # ephemeral
    assert "prompt" in call.json["data"]["content"]
    inter2 = await env.fake.slash("imagine", {"prompt": "画一只猫", "mode": "star3"})
    call2 = await env.fake.wait_for_call(lambda c: "/callback" in c.path and str(inter2.id) in c.path)
    assert call2.json["data"]["flags"] & 64 and "English" in call2.json["data"]["content"]
    await env.fake.handled()  # both commands' handlers returned: nothing was queued, nothing can be submitted
    assert await env.runtime.store.list_jobs(list(JobState)) == []
    assert env.sim.counters.submit_requests == 0


async def test_ten_users_three_jobs_round_robin_without_violations(fake: FakeDiscord, sim, tmp_path: Path) -> None:
    settings = make_settings(fake, sim, tmp_path / "bot.db", liblib={"submit_per_second": 10.0})
    users = [fake.add_member(7000 + i, name=f"user{i}")["user"]["id"] for i in range(10)]
    async with running_bot(settings, fake) as runtime:
        tokens = []
        for user in users:  # user-major order: the worst case for first-come-first-served
            for n in range(3):
                inter = await fake.slash("imagine", {"prompt": f"job {n} of {user}"}, user_id=int(user))
                tokens.append(inter.token)
        for token in tokens:
            await wait_result(fake, token, timeout=30)
        done = await wait_jobs(runtime.store, JobState.SUCCEEDED, 30)
    assert len(done) == 30
    assert sim.counters.rate_limit_violations == 0
    assert sim.counters.concurrency_violations == 0
    assert sim.counters.max_concurrent_seen <= 5
    order = sorted(done, key=lambda j: j.submitted_at)
    first_rank = {}
    for rank, job in enumerate(order):
        first_rank.setdefault(job.user_id, rank)
    # Round robin: every member's first job goes out within the first pass of the rotation
    # (FIFO would make the last member wait for 27 jobs).
    assert max(first_rank.values()) < 15, first_rank
    assert_no_pings(fake)


async def test_job_outliving_the_interaction_token_is_delivered_in_the_channel(
    fake: FakeDiscord, sim, tmp_path: Path
) -> None:
    sim.set_durations(queued=0.02, running=0.6, auditing=0.02)
    settings = make_settings(fake, sim, tmp_path / "bot.db", queue={"interaction_token_ttl": 0.3})
    async with running_bot(settings, fake):
        inter = await fake.slash("imagine", {"prompt": "slow painting"})
        await fake.wait_for_call(lambda c: is_original_edit(c, inter.token))
        fake.expire_interaction_tokens()
        sent = await fake.wait_for_call(
            lambda c: c.method == "POST" and f"/channels/{fake.channel_id}/messages" in c.path and bool(c.files),
            timeout=10,
        )
    body = sent.json
    assert body["content"] == f"<@{fake.default_user_id}>"
    assert body["allowed_mentions"]["parse"] == []
    assert [int(u) for u in body["allowed_mentions"]["users"]] == [fake.default_user_id]
    assert int(body["message_reference"]["message_id"]) > 0
    assert_no_pings(fake)


async def test_restart_mid_generation_delivers_once_without_resubmitting(
    fake: FakeDiscord, sim, tmp_path: Path
) -> None:
    sim.set_durations(queued=0.05, running=0.8, auditing=0.05)
    settings = make_settings(fake, sim, tmp_path / "bot.db")
    async with running_bot(settings, fake) as runtime:
        tokens = [(await fake.slash("imagine", {"prompt": f"restart {i}"})).token for i in range(3)]
        for _ in range(100):
            if len(await runtime.store.list_jobs([JobState.RUNNING])) == 3:
                break
            await asyncio.sleep(0.02)
        assert len(await runtime.store.list_jobs([JobState.RUNNING])) == 3
    # The bot is down; the tasks keep running at LiblibAI.
    async with running_bot(settings, fake) as runtime:
        for token in tokens:
            await wait_result(fake, token)
        done = await wait_jobs(runtime.store, JobState.SUCCEEDED, 3)
    assert len(done) == 3
    assert sim.counters.submits == 3
    deliveries = [c for c in fake.calls if c.files]
    assert len(deliveries) == 3


async def test_a_task_that_finished_during_a_long_downtime_is_delivered_through_a_status_hiccup(
    fake: FakeDiscord, sim, tmp_path: Path
) -> None:
    """Issue 17 #12: the bot was down longer than ``running_deadline`` while the task finished (and was charged)
    at LiblibAI. After the restart the status route fails twice: the resumed poll asks again with backoff
    instead of expiring the job on the first error, and the member gets the result, not a refund."""
    sim.set_durations(queued=0.05, running=0.6, auditing=0.05)
    # Status queries are not retried by the client and are spaced like production's (relative to the 1 s floor
    # a resumed poll gets), so the first failure reaches the poll.
    liblib = {"max_retries": 0, "poll_interval_min": 0.5, "poll_interval_max": 0.5}
    settings = make_settings(fake, sim, tmp_path / "bot.db", liblib=liblib)
    async with running_bot(settings, fake) as runtime:
        token = (await fake.slash("imagine", {"prompt": "through the outage"})).token
        for _ in range(200):
            if running := await runtime.store.list_jobs([JobState.RUNNING]):
                break
            await asyncio.sleep(0.02)
        [job] = running
    # The bot is down; the task finishes at LiblibAI, and the downtime outlasts the running deadline (and the
    # interaction token).
    assert job.generate_uuid is not None
    for _ in range(200):
        if (task := sim.task(job.generate_uuid)) is not None and task.terminal:
            break
        await asyncio.sleep(0.02)
    downtime = timedelta(seconds=settings.queue.running_deadline + 600)
    async with open_store(settings.storage.url) as store:
        await store.update_job(
            job.id,
            created_at=job.created_at - downtime,
            state_changed_at=job.state_changed_at - downtime,
            submitted_at=(job.submitted_at or job.state_changed_at) - downtime,
            interaction_expires_at=job.created_at - downtime + timedelta(minutes=14),
        )
    sim.inject("500", route="status", count=2)
    served = sim.counters.faults_served
    async with running_bot(settings, fake) as runtime:
        post = await fake.wait_for_call(lambda c: c.method == "POST" and c.status == 200 and "/channels/" in c.path)
        assert post.files, post.json  # the result, not "took too long ... refunded"
        [done] = await wait_jobs(runtime.store, JobState.SUCCEEDED, 1)
    assert done.id == job.id and not done.refunded
    assert sim.counters.faults_served == served + 2  # both failed status queries came before the result
    assert sim.counters.submits == 1
    assert not [c for c in fake.calls if is_original_edit(c, token) and c.files]  # the token had expired


async def test_without_keys_the_builtin_simulator_is_used_and_results_say_so(fake: FakeDiscord, tmp_path: Path) -> None:
    settings = make_settings(fake, None, tmp_path / "bot.db")
    assert not settings.liblib.has_keys
    async with running_bot(settings, fake) as runtime:
        assert runtime.simulator is not None
        inter = await fake.slash("imagine", {"prompt": "offline fox"})
        result = await wait_result(fake, inter.token)
    assert "simulated" in result.json["embeds"][0]["footer"]["text"]


async def test_a_simulator_the_bot_did_not_start_still_marks_results_simulated(env: Env) -> None:
    """Keys configured, ``base_url`` at a running simulator (``liblib-bot simulate``): its tag on every answer
    makes the result say simulated; each delivered file's painted "k/n" is the k of its name."""
    assert env.runtime.simulator is None and env.settings.liblib.has_keys
    inter = await env.fake.slash("imagine", {"prompt": "a fox at the simulator", "count": 3})
    queued = await env.fake.wait_for_call(
        lambda c: is_original_edit(c, inter.token) and "Queued" in (c.json or {}).get("content", "")
    )
    assert "simulated" in queued.json["content"]  # known from the start (open_liblib asked the simulator)
    result = await wait_result(env.fake, inter.token)
    assert "simulated" in result.json["embeds"][0]["footer"]["text"]
    fields = {f["name"]: f["value"] for f in result.json["embeds"][0]["fields"]}
    assert "simulated" in fields["Mode"]
    [job] = await wait_jobs(env.runtime.store, JobState.SUCCEEDED, 1)
    assert [f.filename for f in result.files] == [f"{job.id}_{k}.png" for k in (1, 2, 3)]
    for k, file in enumerate(result.files, start=1):
        with Image.open(io.BytesIO(file.content)) as img:
            where = layout(*img.size, 3)
            painted = img.convert("RGB").crop(where.badge)
        assert ImageChops.difference(painted, badge_image(k, 3, where)).getbbox() is None, file.filename


async def test_imagine_with_an_image_sends_that_image_to_liblib(env: Env) -> None:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (1, 2, 3)).save(out, "PNG")
    attachment = env.fake.host_file("source.png", out.getvalue(), "image/png")
    inter = await env.fake.slash("imagine", {"prompt": "paint it"}, attachments={"image": attachment})
    await wait_result(env.fake, inter.token)
    [fetched] = env.sim.counters.source_fetches
    uploaded = env.sim.tasks()[0].params["sourceImage"]
    assert fetched == uploaded  # the upload flow copied the member's attachment into LiblibAI storage


async def test_non_image_attachment_is_refused_without_an_api_call(env: Env) -> None:
    attachment = env.fake.host_file("cat.png", b"definitely not an image", "image/png")
    inter = await env.fake.slash("imagine", {"prompt": "paint it"}, attachments={"image": attachment})
    call = await env.fake.wait_for_call(
        lambda c: c.method == "POST" and "/webhooks/" in c.path and (c.json or {}).get("flags", 0) & 64
    )
    assert "not a readable image" in call.json["content"]
    assert inter.token
    assert env.sim.counters.submit_requests == 0


async def test_prompt_flags_apply_and_options_win(env: Env) -> None:
    inter = await env.fake.slash("imagine", {"prompt": "two owls --count 2 --ar 3:4", "aspect": "16:9"})
    result = await wait_result(env.fake, inter.token)
    assert len(result.files) == 2
    assert png_size(result.files[0].content) == (1280, 720)  # the aspect option beat --ar 3:4
    bad = await env.fake.slash("imagine", {"prompt": "owl --stylize 9"})
    call = await env.fake.wait_for_call(lambda c: "/callback" in c.path and str(bad.id) in c.path)
    assert call.json["data"]["flags"] & 64 and "Known flags" in call.json["data"]["content"]


async def test_a_command_arriving_while_the_bot_shuts_down_is_refused_at_once(env: Env) -> None:
    """Between SIGTERM and the sessions closing, new commands get a private "restarting" answer instead of
    a job that could not be confirmed (the commands already in flight are let finish)."""
    from tests.e2e.test_quotas import private_reply  # test_quotas imports this module

    env.runtime.bot.closing = True  # what LiblibBot.close() sets first
    inter = await env.fake.slash("imagine", {"prompt": "too late"})
    assert "restarting" in await private_reply(env.fake, inter)
    assert await env.runtime.store.list_jobs(list(JobState)) == []
