"""/show, /queue, /jobs, /help, /models and re-posting identical seeded requests, end to end."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from bot.models import JobState, ResultImage
from tests.e2e.conftest import Env, assert_no_pings, make_settings, running_bot
from tests.e2e.helpers import ack, custom_ids, embed_fields, imagine_done, job_for_token, result_of
from tests.e2e.test_imagine import wait_result
from tests.fake_discord import FakeDiscord

STRANGER = 7_200_000_000_000_000_001


async def followup_embed(fake: FakeDiscord, interaction) -> dict:
    call = await fake.wait_for_call(
        lambda c: c.method == "POST" and interaction.token in c.path and "/webhooks/" in c.path
    )
    return call.json["embeds"][0]


async def test_help_is_short_private_and_has_examples(env: Env) -> None:
    inter = await env.fake.slash("help")
    call = await ack(env.fake, inter)
    assert call.json["type"] == 4 and call.json["data"]["flags"] & 64
    embed = call.json["data"]["embeds"][0]
    assert "/imagine" in embed["description"] and "/show" in embed["description"]
    examples = {f["name"]: f["value"] for f in embed["fields"]}["Examples"]
    assert "--ar 16:9" in examples and "kontext-pro" in examples


async def test_models_lists_every_configured_mode_and_what_it_supports(env: Env) -> None:
    inter = await env.fake.slash("models")
    embed = (await ack(env.fake, inter)).json["data"]["embeds"][0]
    text = embed["description"]
    for name in ("star3", "kontext-pro", "kontext-max", "dreamtech-xl"):
        assert f"(`{name}`)" in text
    star3 = next(block for block in text.split("\n\n") if "(`star3`)" in block)
    assert "**default**" in star3 and "English prompts" in star3 and "Upscale" in star3
    kontext = next(block for block in text.split("\n\n") if "(`kontext-max`)" in block)
    assert "4 reference images" in kontext and "Upscale" in kontext  # through [models] upscale_reference_mode
    custom = next(block for block in text.split("\n\n") if "(`dreamtech-xl`)" in block)
    assert "negative prompt" in custom and "seed" in custom
    # the price table ([liblib.prices] defaults): what each image reserves
    assert "58 points/image" in kontext and "8 points/image" in star3 and "8 points/image" in custom


async def test_show_reposts_a_past_result_with_buttons_for_the_asker(env: Env) -> None:
    env.fake.add_member(STRANGER, name="stranger")
    _, job, message = await imagine_done(env.fake, env.runtime.store, {"prompt": "worth seeing twice", "count": 2})
    inter = await env.fake.slash("show", {"job": job.id}, user_id=STRANGER)
    result = await wait_result(env.fake, inter.token)
    assert len(result.files) == 2
    assert [f.content for f in result.files] == [
        env.fake.attachment_bytes(a) for a in env.fake.messages[int(message["id"])]["attachments"]
    ]
    assert "Re-posted with /show" in embed_fields(result)["Note"]
    shown = env.fake.original_message(inter)
    assert all(c.endswith(f":{STRANGER}") and f":{job.id}:" in c for c in custom_ids(shown))
    click = await env.fake.click(int(shown["id"]), f"lb:reroll:{job.id}:0:{STRANGER}", user_id=STRANGER)
    await result_of(env.fake, click)
    assert (await job_for_token(env.runtime.store, click.token)).parent_job_id == job.id
    assert env.sim.counters.submits == 2  # /show itself is free


async def test_show_falls_back_to_the_original_attachments_when_the_liblib_url_is_gone(env: Env) -> None:
    _, job, message = await imagine_done(env.fake, env.runtime.store, {"prompt": "an expiring picture"})
    gone = replace(job.result, images=(ResultImage(url=f"{env.sim.base_url}/images/{'0' * 64}.png", seed=1),))
    await env.runtime.store.update_job(job.id, result=gone)
    inter = await env.fake.slash("show", {"job": job.id})
    result = await wait_result(env.fake, inter.token)
    [original] = env.fake.messages[int(message["id"])]["attachments"]
    assert result.files[0].content == env.fake.attachment_bytes(original)


async def test_show_refuses_unknown_and_unfinished_jobs_privately(env: Env) -> None:
    inter = await env.fake.slash("show", {"job": "nosuchjob0"})
    call = await env.fake.wait_for_call(
        lambda c: c.method == "POST" and inter.token in c.path and (c.json or {}).get("flags", 0) & 64
    )
    assert "No job `nosuchjob0`" in call.json["content"]
    env.sim.fail_next_tasks("failed")
    failed = await env.fake.slash("imagine", {"prompt": "this fails"})
    job = await job_for_token(env.runtime.store, failed.token, JobState.FAILED)
    inter = await env.fake.slash("show", {"job": job.id})
    call = await env.fake.wait_for_call(
        lambda c: c.method == "POST" and inter.token in c.path and (c.json or {}).get("flags", 0) & 64
    )
    assert "no result to show" in call.json["content"]


async def test_queue_shows_running_and_waiting_jobs_with_estimates(fake: FakeDiscord, sim, tmp_path: Path) -> None:
    sim.set_durations(queued=0.02, running=1.5, auditing=0.02)
    settings = make_settings(fake, sim, tmp_path / "bot.db", liblib={"max_concurrent_tasks": 1})
    async with running_bot(settings, fake) as runtime:
        first = await fake.slash("imagine", {"prompt": "running now"})
        second = await fake.slash("imagine", {"prompt": "waiting"})
        running = await job_for_token(runtime.store, first.token, JobState.RUNNING)
        waiting = await job_for_token(runtime.store, second.token, JobState.QUEUED)
        inter = await fake.slash("queue")
        embed = await followup_embed(fake, inter)
        fields = {f["name"]: f["value"] for f in embed["fields"]}
        assert "**1** waiting and **1** in progress" in embed["description"]
        assert f"`{running.id}`" in fields["In progress here"] and "running now" in fields["In progress here"]
        assert fields["Waiting here"].startswith("#1 · about ") and f"`{waiting.id}`" in fields["Waiting here"]

        mine = await fake.slash("jobs")
        listing = (await followup_embed(fake, mine))["description"]
        assert f"`{waiting.id}`" in listing and "queued #1" in listing
        assert f"`{running.id}`" in listing and "running" in listing
        await wait_result(fake, second.token, timeout=15)
        await job_for_token(runtime.store, second.token)
        again = await fake.slash("jobs")
        listing = (await followup_embed(fake, again))["description"]
        done = await runtime.store.get_job(waiting.id)
        link = f"https://discord.com/channels/{fake.guild_id}/{fake.channel_id}/{done.result_message_id}"
        assert f"[`{waiting.id}`]({link})" in listing and "succeeded" in listing and "pts" in listing
    assert_no_pings(fake)


async def test_jobs_lists_only_the_callers_jobs(env: Env) -> None:
    env.fake.add_member(STRANGER, name="stranger")
    _, job, _ = await imagine_done(env.fake, env.runtime.store, {"prompt": "not yours"})
    inter = await env.fake.slash("jobs", user_id=STRANGER)
    embed = await followup_embed(env.fake, inter)
    assert job.id not in str(embed) and "No jobs yet" in embed["description"]


SEEDED = {"prompt": "a lighthouse at dusk", "mode": "dreamtech-xl", "seed": 42}


async def test_identical_seeded_request_is_reposted_instead_of_paid_twice(env: Env) -> None:
    _, first, message = await imagine_done(env.fake, env.runtime.store, SEEDED)
    assert first.fingerprint and len(first.fingerprint) == 64
    env.fake.add_member(STRANGER, name="stranger")  # the whole server shares the saving
    inter = await env.fake.slash("imagine", SEEDED, user_id=STRANGER)
    result = await wait_result(env.fake, inter.token)
    note = embed_fields(result)["Note"]
    assert "Re-posted" in note and f"job `{first.id}`" in note and "fresh" in note
    assert result.files[0].content == env.fake.attachment_bytes(env.fake.messages[int(message["id"])]["attachments"][0])
    assert env.sim.counters.submit_requests == 1
    reposted = env.fake.original_message(inter)
    assert all(c.endswith(f":{STRANGER}") for c in custom_ids(reposted))  # buttons act for the new asker

    fresh = await env.fake.slash("imagine", {**SEEDED, "fresh": True})
    await wait_result(env.fake, fresh.token)
    assert env.sim.counters.submit_requests == 2
    unseeded = {k: v for k, v in SEEDED.items() if k != "seed"}
    await imagine_done(env.fake, env.runtime.store, unseeded)
    await imagine_done(env.fake, env.runtime.store, unseeded)
    assert env.sim.counters.submit_requests == 4  # without a fixed seed every request renders


async def test_dedupe_window_zero_disables_reposting(fake: FakeDiscord, sim, tmp_path: Path) -> None:
    settings = make_settings(fake, sim, tmp_path / "bot.db", actions={"dedupe_window_seconds": 0})
    async with running_bot(settings, fake) as runtime:
        await imagine_done(fake, runtime.store, SEEDED)
        await imagine_done(fake, runtime.store, SEEDED)
    assert sim.counters.submit_requests == 2


async def test_progress_shows_position_and_wait(env: Env) -> None:
    inter = await env.fake.slash("imagine", {"prompt": "how long?"})
    call = await env.fake.wait_for_call(
        lambda c: c.method == "PATCH" and inter.token in c.path and "Queued" in str((c.json or {}).get("content"))
    )
    assert "position **1**" in call.json["content"] and ", about " in call.json["content"]
    await wait_result(env.fake, inter.token)
    await asyncio.sleep(0)
