"""Result buttons end to end: Reroll, Vary (Subtle/Strong), Upscale, Remix, Delete, Cancel; owners, admins,
restarts."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from bot.jobs.admission import OpenAdmission, Requester
from bot.models import Job, JobKind, JobState, UsageDebit
from tests.e2e.conftest import Env, assert_no_pings, make_settings, running_bot
from tests.e2e.helpers import (
    ack,
    custom_ids,
    embed_fields,
    imagine_done,
    job_for_token,
    labels,
    original_edit_with,
    result_of,
)
from tests.e2e.test_discord_faults import logged
from tests.e2e.test_imagine import png_size
from tests.fake_discord import FakeDiscord
from tests.fake_discord.messages import walk_components

STRANGER = 7_100_000_000_000_000_001


def str_options(modal: dict) -> list[dict]:
    """The options of the (one) select menu in a modal's components."""
    [select] = [c for _, c in walk_components(modal["components"]) if c.get("type") == 3]
    return select["options"]


def button(message: dict, action: str, index: int = 0) -> str:
    [custom_id] = [c for c in custom_ids(message) if c.startswith(f"lb:{action}:") and c.split(":")[3] == str(index)]
    return custom_id


async def test_every_result_has_buttons_for_each_image(env: Env) -> None:
    _, job, message = await imagine_done(env.fake, env.runtime.store, {"prompt": "three owls", "count": 3})
    names = labels(message)
    assert {"🔁 Reroll", "🎛️ Remix", "🗑️ Delete"} <= set(names)
    assert [n for n in names if n.startswith("🎲")] == ["🎲 V1 Subtle", "🎲 V2 Subtle", "🎲 V3 Subtle"]
    assert [n for n in names if n.startswith("🌀")] == ["🌀 V1 Strong", "🌀 V2 Strong", "🌀 V3 Strong"]
    assert [n for n in names if n.startswith("🔍")] == ["🔍 U1 ≈8", "🔍 U2 ≈8", "🔍 U3 ≈8"]  # with their cost
    assert [n for n in names if n.startswith("🎨")] == ["🎨 R1", "🎨 R2", "🎨 R3"]
    assert all(c.endswith(f":{env.fake.user_id}") and f":{job.id}:" in c for c in custom_ids(message))


async def test_reroll_posts_a_new_message_with_a_new_job_crediting_the_original(env: Env) -> None:
    _inter, parent, message = await imagine_done(env.fake, env.runtime.store, {"prompt": "a red fox"})
    click = await env.fake.click(int(message["id"]), button(message, "reroll"))
    assert (await ack(env.fake, click)).json["type"] == 5  # a new "thinking" message, not an edit of the result
    result = await result_of(env.fake, click)
    child = await job_for_token(env.runtime.store, click.token)
    assert child.kind is JobKind.REROLL and child.parent_job_id == parent.id
    assert child.request == parent.request.with_(seed=None)
    origin = embed_fields(result)["From"]
    assert f"Reroll of [job `{parent.id}`]" in origin and message["id"] in origin
    assert env.fake.original_message(click)["id"] != message["id"]
    assert env.fake.messages[int(message["id"])]["attachments"]  # the original result is untouched
    assert env.sim.counters.submits == 2
    assert f"lb:reroll:{child.id}:0:" in str(custom_ids(env.fake.original_message(click)))


async def test_vary_starts_image_to_image_from_the_chosen_image(env: Env) -> None:
    _, _parent, message = await imagine_done(
        env.fake, env.runtime.store, {"prompt": "two lighthouses", "count": 2, "mode": "dreamtech-xl"}
    )
    click = await env.fake.click(int(message["id"]), button(message, "vary", 1))
    await result_of(env.fake, click)
    child = await job_for_token(env.runtime.store, click.token)
    assert child.kind is JobKind.VARY and child.request.is_img2img and child.request.count == 2
    task = env.sim.tasks()[-1]
    assert task.params["denoisingStrength"] == 0.35  # Vary (Subtle): [actions] vary_strength
    assert task.params["sourceImage"] == child.request.source_images[0]
    # The source is a copy of image 2 in LiblibAI's storage (upload transport), fetched by the simulator.
    assert env.sim.counters.source_fetches[-1] == task.params["sourceImage"]
    assert env.sim.counters.uploads == 1


def subtle_and_strong_differ(mode: str, subtle, strong, strong_source: str) -> None:
    """What each family sends for the two strengths (``bot.generation.variation``)."""
    if mode == "dreamtech-xl":  # a custom checkpoint's img2img denoising: [actions] vary_strength, vary_strong_strength
        assert (subtle.params["denoisingStrength"], strong.params["denoisingStrength"]) == (0.35, 0.75)
        assert subtle.path == strong.path == "/api/generate/webui/img2img"
    elif mode in ("kontext-pro", "seedream", "img1"):  # no strength there: the instruction says how far to go
        assert subtle.params["prompt"].startswith("Make a subtle variation of this image")
        assert strong.params["prompt"].startswith("Make a significantly different variation of this image")
        assert subtle.params["prompt"].endswith("Original prompt: two foxes")
        images = "referenceImages" if mode == "seedream" else "image_list"
        assert strong.params[images] == [strong_source]
    else:  # Star-3's img2img takes no strength: strong draws anew with the image as an IPAdapter reference
        assert subtle.path == "/api/generate/webui/img2img/ultra" and "controlnet" not in subtle.params
        assert strong.path == "/api/generate/webui/text2img/ultra" and "sourceImage" not in strong.params
        assert strong.params["controlnet"]["controlType"] == "IPAdapter"
        assert strong.params["controlnet"]["controlImage"] == strong_source  # the result image, as published


@pytest.mark.parametrize("mode", ["dreamtech-xl", "kontext-pro", "star3", "seedream", "img1"])
async def test_vary_subtle_and_strong_send_different_strengths_and_both_deliver(env: Env, mode: str) -> None:
    _, parent, message = await imagine_done(env.fake, env.runtime.store, {"prompt": "two foxes", "mode": mode})
    assert {"🎲 Vary (Subtle)", "🌀 Vary (Strong)"} <= set(labels(message))
    children = {}
    for action in ("vary", "varystrong"):
        click = await env.fake.click(int(message["id"]), button(message, action))
        result = await result_of(env.fake, click)  # delivered
        child = await job_for_token(env.runtime.store, click.token)
        assert child.kind is JobKind.VARY and child.parent_job_id == parent.id and child.request.is_img2img
        children[action] = (child, env.sim.tasks()[-1], embed_fields(result)["From"])
    (subtle, subtle_task, subtle_from), (strong, strong_task, strong_from) = children["vary"], children["varystrong"]
    assert (subtle.request.variation, strong.request.variation) == ("subtle", "strong")
    subtle_and_strong_differ(mode, subtle_task, strong_task, strong.request.source_images[0])
    # The credit line names the parent job and the strength.
    assert f"🎲 Subtle variation of [job `{parent.id}`]" in subtle_from and message["id"] in subtle_from
    assert f"🌀 Strong variation of [job `{parent.id}`]" in strong_from
    assert env.sim.counters.submits == 3


async def expire_result_urls(env: Env, job: Job) -> None:
    """LiblibAI's result URLs expire: point the stored ones at images the simulator no longer has."""
    assert job.result is not None
    gone = tuple(replace(i, url=f"{env.sim.base_url}/images/{n:064d}.png") for n, i in enumerate(job.result.images))
    await env.runtime.store.update_job(job.id, result=replace(job.result, images=gone))


async def source_bytes(url: str) -> bytes:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200, url
        return await response.read()


async def test_vary_and_upscale_use_the_posted_images_once_the_liblib_urls_expired(env: Env) -> None:
    _, parent, message = await imagine_done(
        env.fake, env.runtime.store, {"prompt": "two fading lighthouses", "count": 2, "mode": "dreamtech-xl"}
    )
    await expire_result_urls(env, parent)
    vary = await env.fake.click(int(message["id"]), button(message, "vary", 1))
    await result_of(env.fake, vary)
    child = await job_for_token(env.runtime.store, vary.token)
    assert child.kind is JobKind.VARY and child.parent_job_id == parent.id
    posted = message["attachments"][1]
    assert await source_bytes(env.sim.tasks()[-1].params["sourceImage"]) == env.fake.attachment_bytes(posted)
    # The Vary is image-to-image on a custom model, so its Upscale needs a source image too.
    await expire_result_urls(env, child)
    varied = env.fake.original_message(vary)
    upscale = await env.fake.click(int(varied["id"]), button(varied, "upscale", 0))
    await result_of(env.fake, upscale)
    grandchild = await job_for_token(env.runtime.store, upscale.token)
    assert grandchild.kind is JobKind.UPSCALE and grandchild.parent_job_id == child.id
    posted = varied["attachments"][0]
    assert await source_bytes(env.sim.tasks()[-1].params["sourceImage"]) == env.fake.attachment_bytes(posted)
    assert env.sim.counters.submits == 3


async def test_upscale_renders_the_image_larger(env: Env) -> None:
    """(tests/e2e/test_upscale.py: what each mode sends; the source is that very image.)"""
    _, _parent, message = await imagine_done(env.fake, env.runtime.store, {"prompt": "a castle", "aspect": "1:1"})
    click = await env.fake.click(int(message["id"]), button(message, "upscale"))
    result = await result_of(env.fake, click)
    assert png_size(result.files[0].content) == (2048, 2048)  # 2x, Star-3's largest
    child = await job_for_token(env.runtime.store, click.token)
    assert child.kind is JobKind.UPSCALE and child.request.hires and child.request.count == 1
    assert "Upscale of" in embed_fields(result)["From"]
    # An upscale cannot be upscaled again.
    assert not [c for c in custom_ids(env.fake.original_message(click)) if c.startswith("lb:upscale")]


async def test_remix_edits_the_prompt_then_rerolls_or_varies(env: Env) -> None:
    _, parent, message = await imagine_done(env.fake, env.runtime.store, {"prompt": "a red fox", "count": 2})
    click = await env.fake.click(int(message["id"]), button(message, "remix"))
    assert (await ack(env.fake, click)).json["type"] == 9  # a modal
    modal_id = f"lb-remix:{parent.id}"
    submit = await env.fake.submit_modal(modal_id, {"prompt": "a blue fox", "action": ["reroll"]})
    result = await result_of(env.fake, submit)
    assert "a blue fox" in result.json["embeds"][0]["description"]
    child = await job_for_token(env.runtime.store, submit.token)
    assert child.kind is JobKind.REROLL and child.request.prompt == "a blue fox"
    assert child.parent_job_id == parent.id and child.parent_message_id == int(message["id"])

    click = await env.fake.click(int(message["id"]), button(message, "remix"))
    assert (await ack(env.fake, click)).json["type"] == 9  # the modal is open
    submit = await env.fake.submit_modal(modal_id, {"prompt": "a green fox", "action": ["vary:1"]})
    await result_of(env.fake, submit)
    varied = await job_for_token(env.runtime.store, submit.token)
    assert varied.kind is JobKind.VARY and varied.request.is_img2img and varied.request.prompt == "a green fox"
    assert varied.request.variation == "subtle"

    click = await env.fake.click(int(message["id"]), button(message, "remix"))
    modal = (await ack(env.fake, click)).json["data"]
    offered = [o["value"] for o in str_options(modal)]
    assert offered == ["reroll", "vary:0", "varystrong:0", "vary:1", "varystrong:1"]
    submit = await env.fake.submit_modal(modal_id, {"prompt": "a wild fox", "action": ["varystrong:0"]})
    await result_of(env.fake, submit)
    strong = await job_for_token(env.runtime.store, submit.token)
    assert (strong.kind, strong.request.variation, strong.request.prompt) == (JobKind.VARY, "strong", "a wild fox")


async def test_remix_with_an_invalid_prompt_is_refused_privately(env: Env) -> None:
    _, parent, message = await imagine_done(env.fake, env.runtime.store, {"prompt": "a red fox"})
    click = await env.fake.click(int(message["id"]), button(message, "remix"))
    assert (await ack(env.fake, click)).json["type"] == 9  # the modal is open
    submit = await env.fake.submit_modal(f"lb-remix:{parent.id}", {"prompt": "一只狐狸", "action": ["reroll"]})
    call = await ack(env.fake, submit)
    assert call.json["type"] == 4 and call.json["data"]["flags"] & 64 and "English" in call.json["data"]["content"]
    assert env.sim.counters.submits == 1


async def test_a_strangers_click_is_refused_privately_without_an_api_call(env: Env) -> None:
    env.fake.add_member(STRANGER, name="stranger")
    _, _, message = await imagine_done(env.fake, env.runtime.store, {"prompt": "mine"})
    submits = env.sim.counters.submit_requests
    for action in ("reroll", "vary", "varystrong", "upscale", "remix", "delete"):
        click = await env.fake.click(int(message["id"]), button(message, action), user_id=STRANGER)
        call = await ack(env.fake, click)
        assert call.json["type"] == 4 and call.json["data"]["flags"] & 64
        assert "Only the member" in call.json["data"]["content"]
    # Every click was answered with its refusal, which is where the bot's handling of it ends.
    assert env.sim.counters.submit_requests == submits
    assert int(message["id"]) in env.fake.messages  # not deleted


async def test_an_admin_can_act_on_anyones_result(env: Env) -> None:
    _, _parent, message = await imagine_done(env.fake, env.runtime.store, {"prompt": "for the admin"})
    click = await env.fake.click(int(message["id"]), button(message, "reroll"), user_id=env.fake.admin_id)
    await result_of(env.fake, click)
    child = await job_for_token(env.runtime.store, click.token)
    assert child.user_id == env.fake.admin_id  # the clicker's job (and quota)
    delete = await env.fake.click(int(message["id"]), button(message, "delete"), user_id=env.fake.admin_id)
    await ack(env.fake, delete)
    await env.fake.wait_for_call(lambda c: c.method == "DELETE" and delete.token in c.path)
    assert int(message["id"]) in env.fake.deleted_message_ids


async def test_delete_removes_the_result_message_for_its_requester(env: Env) -> None:
    _, _, message = await imagine_done(env.fake, env.runtime.store, {"prompt": "delete me"})
    click = await env.fake.click(int(message["id"]), button(message, "delete"))
    assert (await ack(env.fake, click)).json["type"] == 6
    await env.fake.wait_for_call(lambda c: c.method == "DELETE" and click.token in c.path)
    assert int(message["id"]) in env.fake.deleted_message_ids


async def test_open_to_everyone_lets_anyone_reroll_but_not_delete(fake: FakeDiscord, sim, tmp_path: Path) -> None:
    settings = make_settings(fake, sim, tmp_path / "bot.db", actions={"open_to_everyone": True})
    fake.add_member(STRANGER, name="stranger")
    async with running_bot(settings, fake) as runtime:
        _, _, message = await imagine_done(fake, runtime.store, {"prompt": "shared"})
        click = await fake.click(int(message["id"]), button(message, "reroll"), user_id=STRANGER)
        await result_of(fake, click)
        assert (await job_for_token(runtime.store, click.token)).user_id == STRANGER
        delete = await fake.click(int(message["id"]), button(message, "delete"), user_id=STRANGER)
        assert (await ack(fake, delete)).json["data"]["flags"] & 64
    assert int(message["id"]) in fake.messages
    assert_no_pings(fake)


async def test_the_server_setting_opens_the_buttons_to_everyone(env: Env) -> None:
    fake = env.fake
    fake.add_member(STRANGER, name="stranger")
    _, _, message = await imagine_done(fake, env.runtime.store, {"prompt": "shared"})
    refused = await fake.click(int(message["id"]), button(message, "reroll"), user_id=STRANGER)
    assert (await ack(fake, refused)).json["data"]["flags"] & 64
    admin = await fake.slash("settings", {"everyone": True}, subcommand="buttons", user_id=fake.admin_id)
    assert "Any member" in (await ack(fake, admin)).json["data"]["content"]
    click = await fake.click(int(message["id"]), button(message, "reroll"), user_id=STRANGER)
    await result_of(fake, click)
    assert (await job_for_token(env.runtime.store, click.token)).user_id == STRANGER
    strong = await fake.click(int(message["id"]), button(message, "varystrong"), user_id=STRANGER)
    await result_of(fake, strong)
    varied = await job_for_token(env.runtime.store, strong.token)
    assert (varied.user_id, varied.kind, varied.request.variation) == (STRANGER, JobKind.VARY, "strong")
    delete = await fake.click(int(message["id"]), button(message, "delete"), user_id=STRANGER)
    assert (await ack(fake, delete)).json["data"]["flags"] & 64  # Delete stays with the requester


async def test_buttons_on_a_result_from_before_a_restart_still_work(fake: FakeDiscord, sim, tmp_path: Path) -> None:
    settings = make_settings(fake, sim, tmp_path / "bot.db")
    async with running_bot(settings, fake) as runtime:
        _, parent, message = await imagine_done(fake, runtime.store, {"prompt": "before", "count": 2})
    async with running_bot(settings, fake) as runtime:
        reroll = await fake.click(int(message["id"]), button(message, "reroll"))
        vary = await fake.click(int(message["id"]), button(message, "vary", 1))
        upscale = await fake.click(int(message["id"]), button(message, "upscale", 0))
        clicks = [(reroll, JobKind.REROLL, None), (vary, JobKind.VARY, "subtle"), (upscale, JobKind.UPSCALE, None)]
        for click, kind, variation in clicks:
            await result_of(fake, click)
            child = await job_for_token(runtime.store, click.token)
            assert child.kind is kind and child.parent_job_id == parent.id
            assert child.request.variation == variation
        strong = await fake.click(int(message["id"]), button(message, "varystrong", 0))  # 3 jobs at once at most
        await result_of(fake, strong)
        child = await job_for_token(runtime.store, strong.token)
        assert (child.kind, child.parent_job_id, child.request.variation) == (JobKind.VARY, parent.id, "strong")
        click = await fake.click(int(message["id"]), button(message, "remix"))
        assert (await ack(fake, click)).json["type"] == 9  # the modal is open
        submit = await fake.submit_modal(f"lb-remix:{parent.id}", {"prompt": "after", "action": ["reroll"]})
        await result_of(fake, submit)
        delete = await fake.click(int(message["id"]), button(message, "delete"))
        await fake.wait_for_call(lambda c: c.method == "DELETE" and delete.token in c.path)
    assert int(message["id"]) in fake.deleted_message_ids
    assert sim.counters.submits == 6
    assert_no_pings(fake)


class ChargingAdmission(OpenAdmission):
    """A hand-written admission that reserves one image per job on a daily counter (like the quotas)."""

    async def admit(self, requester: Requester, job: Job) -> Job:
        debit = UsageDebit("user", requester.user_id, "day:test", images=job.request.count, points=8)
        return replace(job, debits=(debit,))

    async def enqueued(self, requester: Requester, job: Job) -> None:
        return None


async def test_cancel_while_queued_refunds_and_never_submits(fake: FakeDiscord, sim, tmp_path: Path) -> None:
    sim.set_durations(queued=0.02, running=1.5, auditing=0.02)
    settings = make_settings(fake, sim, tmp_path / "bot.db", liblib={"max_concurrent_tasks": 1})
    async with running_bot(settings, fake, admission=ChargingAdmission()) as runtime:
        await fake.slash("imagine", {"prompt": "first, slow"})
        waiting = await fake.slash("imagine", {"prompt": "second, waits"})
        queued = await original_edit_with(fake, waiting, "Queued")
        assert "about" in queued.json["content"]  # position and estimated wait
        job = await job_for_token(runtime.store, waiting.token, JobState.QUEUED)
        assert await runtime.store.get_usage("user", fake.user_id, "day:test") == (2, 16)
        progress = fake.original_message(waiting)
        assert custom_ids(progress) == [f"lb:cancel:{job.id}:0:{fake.user_id}"]
        click = await fake.click(int(progress["id"]), custom_ids(progress)[0])
        call = await ack(fake, click)
        assert call.json["type"] == 7 and "Cancelled" in call.json["data"]["content"], call.json
        assert call.json["data"]["components"] == []
        cancelled = await runtime.store.get_job(job.id)
        assert cancelled.state is JobState.CANCELLED and cancelled.refunded
        assert await runtime.store.get_usage("user", fake.user_id, "day:test") == (1, 8)
        # One slot, first come first served: a job queued after the cancelled one is rendered only once
        # the queue has moved past the cancelled job's place.
        later = await fake.slash("imagine", {"prompt": "third, after the cancel"})
        await result_of(fake, later)
        assert sim.counters.submits == 2
        assert "second, waits" not in [task.params["prompt"] for task in sim.tasks()]
        assert "Cancelled" in fake.original_message(waiting)["content"]
    assert_no_pings(fake)


async def test_cancel_while_running_hides_the_result_and_still_charges_what_liblib_billed(
    fake: FakeDiscord, sim, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.jobs")
    sim.set_durations(queued=0.02, running=1.0, auditing=0.02)
    settings = make_settings(fake, sim, tmp_path / "bot.db")
    fake.add_member(STRANGER, name="stranger")
    async with running_bot(settings, fake, admission=ChargingAdmission()) as runtime:
        inter = await fake.slash("imagine", {"prompt": "stop me"})
        job = await job_for_token(runtime.store, inter.token, JobState.RUNNING)
        progress = fake.original_message(inter)
        refused = await fake.click(int(progress["id"]), custom_ids(progress)[0], user_id=STRANGER)
        assert (await ack(fake, refused)).json["data"]["flags"] & 64
        click = await fake.click(int(progress["id"]), custom_ids(progress)[0])
        answer = (await ack(fake, click)).json["data"]["content"]
        assert "Cancelled" in answer and "still charges this job" in answer, answer
        # LiblibAI has no cancel call: the task finishes there, is billed, and the job is settled at that.
        await logged(caplog, f"job {job.id} cancelled")
        final = await runtime.store.get_job(job.id)
        assert final.state is JobState.CANCELLED and not final.refunded and final.points_cost == 8
        assert await runtime.store.get_usage("user", fake.user_id, "day:test") == (1, 8)
        assert not [c for c in fake.calls if c.files and inter.token in c.path]  # the result stays hidden
        assert "Cancelled" in fake.original_message(inter)["content"]


async def test_a_cancelled_job_leaves_nothing_behind_in_the_progress_throttle(
    fake: FakeDiscord, sim, tmp_path: Path
) -> None:
    sim.set_durations(queued=0.02, running=1.0, auditing=0.02)
    settings = make_settings(fake, sim, tmp_path / "bot.db")
    async with running_bot(settings, fake) as runtime:
        sink = runtime.runner._deliverer._sink  # the DiscordResultSink
        inter = await fake.slash("imagine", {"prompt": "cancel me while generating"})
        await original_edit_with(fake, inter, "Generating")  # the sink has edited it: it is throttled for a while
        job = await job_for_token(runtime.store, inter.token, JobState.RUNNING)
        assert job.id in sink._last_edit
        progress = fake.original_message(inter)
        await ack(fake, await fake.click(int(progress["id"]), custom_ids(progress)[0]))
        # A cancelled job reaches neither deliver nor notify_failure, which drop a finished job's entry.
        later = await fake.slash("imagine", {"prompt": "after the cancel"})
        await result_of(fake, later)
        assert (await runtime.store.get_job(job.id)).state is JobState.CANCELLED
        assert sink._last_edit == {}
    assert_no_pings(fake)
