"""LiblibAI's newer families end to end (issue 19): Seedream 4.0 / 4.5, libDream and Smart IMG1 through /imagine,
/restyle, /models and the server settings, against the fake Discord and the simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.liblib import endpoints as ep
from bot.models import JobState
from tests.e2e.conftest import Env, assert_no_pings, make_settings, running_bot
from tests.e2e.helpers import ack, embed_fields, job_for_token
from tests.e2e.test_imagine import is_original_edit, png_size, wait_result
from tests.e2e.test_quotas import admin, private_reply
from tests.e2e.test_restyle import ephemeral_refusal, png, sha, slash_restyle
from tests.fake_discord import FakeDiscord


def attachments(fake: FakeDiscord, **images: bytes) -> dict[str, dict[str, Any]]:
    return {name: fake.host_file(f"{name}.png", data, "image/png") for name, data in images.items()}


def is_follow_up(call: Any, token: str) -> bool:
    """A follow-up message of an interaction (a new message through its webhook, not @original)."""
    return call.method == "POST" and "/webhooks/" in call.path and token in call.path and "/messages" not in call.path


async def test_seedream_draws_a_chinese_prompt_at_the_mapped_size(env: Env) -> None:
    prompt = "一只在雪地里的红狐狸，电影感光线"
    inter = await env.fake.slash("imagine", {"prompt": prompt, "mode": "seedream", "aspect": "16:9"})
    result = await wait_result(env.fake, inter.token)
    [task] = env.sim.tasks()
    assert (task.path, task.params["model"], task.params["prompt"]) == (ep.SEEDREAM, ep.SEEDREAM_40_MODEL, prompt)
    assert (task.params["width"], task.params["height"]) == (2720, 1536)  # 16:9 within 4.0's 2048² pixels
    assert png_size(result.files[0].content) == (2720, 1536)
    assert embed_fields(result)["Mode"].startswith("seedream")
    assert prompt in result.json["embeds"][0]["description"]
    job = await job_for_token(env.runtime.store, inter.token)
    assert (job.points_reserved, job.points_cost) == (20, 20)


async def test_a_twelve_image_seedream_result_takes_two_messages_of_one_result(env: Env) -> None:
    inter = await env.fake.slash("imagine", {"prompt": "十二生肖", "mode": "seedream", "count": 12})
    first = await wait_result(env.fake, inter.token, timeout=30)
    more = await env.fake.wait_for_call(lambda c: is_follow_up(c, inter.token) and bool(c.files), timeout=30)
    assert (len(first.files), len(more.files)) == (10, 2)  # Discord shows at most 10 attachments a message
    assert first.json["embeds"] and first.json["components"]  # the result itself: embed and buttons
    job = await job_for_token(env.runtime.store, inter.token)
    assert more.json["content"] == f"🖼️ Images 11–12 of 12 · job `{job.id}`"
    assert more.json["allowed_mentions"]["parse"] == []
    assert len({f.content for f in [*first.files, *more.files]}) == 12
    original = env.fake.original_message(inter)
    assert original is not None and job.result_message_id == int(original["id"])
    assert env.sim.counters.submits == 1 and env.sim.tasks()[0].params["imgCount"] == 12
    assert (job.points_reserved, job.points_cost) == (240, 240)
    assert len([c for c in env.fake.calls if c.files]) == 2  # posted once: no duplicate of either part


async def test_a_large_result_goes_to_the_channel_in_two_replies_once_the_token_is_gone(
    fake: FakeDiscord, sim, tmp_path: Path
) -> None:
    sim.set_durations(queued=0.02, running=0.6, auditing=0.02)
    settings = make_settings(fake, sim, tmp_path / "bot.db", queue={"interaction_token_ttl": 0.3})
    async with running_bot(settings, fake) as runtime:
        inter = await fake.slash("imagine", {"prompt": "eleven kites", "mode": "seedream", "count": 11})
        await fake.wait_for_call(lambda c: is_original_edit(c, inter.token))
        fake.expire_interaction_tokens()

        def channel_post(c: Any) -> bool:
            return c.method == "POST" and f"/channels/{fake.channel_id}/messages" in c.path and bool(c.files)

        first = await fake.wait_for_call(channel_post, timeout=30)
        more = await fake.wait_for_call(lambda c: channel_post(c) and c is not first, timeout=30)
        job = await job_for_token(runtime.store, inter.token)
    assert (len(first.files), len(more.files)) == (10, 1)
    assert first.json["content"] == f"<@{fake.default_user_id}>" and first.json["nonce"] == f"r{job.id}"
    assert more.json["nonce"] == f"r2{job.id}" and more.json["allowed_mentions"]["parse"] == []
    assert "users" not in more.json["allowed_mentions"]  # the follow-on part pings nobody
    assert int(more.json["message_reference"]["message_id"]) == job.result_message_id
    assert_no_pings(fake)


async def test_libdream_with_enhance_and_a_seed(env: Env) -> None:
    inter = await env.fake.slash("imagine", {"prompt": "古镇夜景", "mode": "libdream", "enhance": True, "seed": 42})
    result = await wait_result(env.fake, inter.token)
    [task] = env.sim.tasks()
    assert task.path == ep.LIBDREAM
    assert (task.params["usePreLlm"], task.params["seed"]) == (True, 42)
    assert (task.params["width"], task.params["height"]) == (1328, 1328)
    assert embed_fields(result)["Seed"] == "42"


async def test_enhance_and_quality_are_refused_where_the_mode_has_none(env: Env) -> None:
    cases = [
        ({"prompt": "a fox", "mode": "star3", "enhance": True}, "cannot enhance prompts"),
        ({"prompt": "a fox", "mode": "seedream", "quality": "turbo"}, "has no quality setting"),
        ({"prompt": "a fox", "mode": "star3", "count": 5}, "between 1 and 4"),
        ({"prompt": "a fox", "mode": "img1-inpaint"}, "/restyle"),
    ]
    for options, words in cases:
        inter = await env.fake.slash("imagine", options)
        assert words in await private_reply(env.fake, inter), options
    image = attachments(env.fake, image=png())
    inter = await env.fake.slash("imagine", {"prompt": "a fox", "mode": "libdream"}, attachments=image)
    assert "does not take an input image" in await private_reply(env.fake, inter)
    await env.fake.handled()
    assert env.sim.counters.submit_requests == 0


async def test_img1_masterpiece_with_three_reference_images(env: Env) -> None:
    images = [png(256, 256, (n * 60, 20, 200)) for n in range(3)]
    files = attachments(env.fake, image=images[0], image2=images[1], image3=images[2])
    inter = await env.fake.slash(
        "imagine", {"prompt": "a cat in these styles", "mode": "img1", "quality": "masterpiece"}, attachments=files
    )
    result = await wait_result(env.fake, inter.token)
    [task] = env.sim.tasks()
    assert task.path == ep.IMG1_GENERATE
    assert (task.params["quality"], task.params["aspectRatio"]) == ("masterpiece", "auto")
    assert len(env.sim.counters.source_fetches) == 3  # LiblibAI fetched each reference
    assert env.sim.counters.source_digests == [sha(i) for i in images]  # exactly those, in order
    assert task.params["image_list"] == env.sim.counters.source_fetches
    assert embed_fields(result)["Seed"] == "random"  # IMG1 reports no seeds
    job = await job_for_token(env.runtime.store, inter.token)
    assert (job.points_reserved, job.points_cost) == (60, 60)


async def test_restyle_img1_inpaint_with_a_mask(env: Env) -> None:
    source, mask = png(512, 512, (90, 90, 90)), png(512, 512, (255, 255, 255))
    inter = await slash_restyle(env.fake, {"prompt": "a red scarf", "mode": "img1-inpaint"}, image=source, mask=mask)
    result = await wait_result(env.fake, inter.token)
    [task] = env.sim.tasks()
    assert task.path == ep.IMG1_INPAINT
    assert task.params["image"] != task.params["mask"] and "image_list" not in task.params
    assert task.params["aspectRatio"] == "auto"  # the repainted image keeps its shape
    assert env.sim.counters.source_fetches == [task.params["image"], task.params["mask"]]
    assert env.sim.counters.source_digests[0] == sha(source)
    assert png_size(result.files[0].content) == (512, 512)
    job = await job_for_token(env.runtime.store, inter.token)
    assert job.request.mask_image == task.params["mask"]


async def test_img1_inpaint_uploads_a_larger_image_within_its_4_mb(env: Env) -> None:
    """Smart IMG1 inpaint takes an image and a mask of at most 4 MB each (the simulator refuses more with
    100030): a 5 MB image is re-encoded to fit before it is uploaded, and the mask follows its size."""
    source = png(512, 512, (90, 90, 90)) + b"\0" * (5 << 20)  # a picture with 5 MB of trailing bytes
    inter = await slash_restyle(
        env.fake, {"prompt": "a red scarf", "mode": "img1-inpaint"}, image=source, mask=png(512, 512, (255,) * 3)
    )
    await wait_result(env.fake, inter.token)
    [task] = env.sim.tasks()
    assert task.path == ep.IMG1_INPAINT and len(env.sim.counters.source_fetches) == 2
    assert env.sim.counters.source_digests[0] != sha(source)  # not the 5 MB original


async def test_img1_inpaint_refusals_cost_nothing(env: Env) -> None:
    cases: list[tuple[dict[str, object], dict[str, bytes], str]] = [
        ({"prompt": "x", "mode": "img1-inpaint"}, {"image": png()}, "/restyle"),
        ({"prompt": "x", "mode": "img1"}, {"image": png(), "mask": png()}, "img1-inpaint"),
        ({"prompt": "x", "mode": "libdream"}, {"image": png()}, "does not take an input image"),
    ]
    for options, files, words in cases:
        inter = await slash_restyle(env.fake, options, **files)
        assert words in await ephemeral_refusal(env.fake, inter), options
    await env.fake.handled()
    assert await env.runtime.store.list_jobs(list(JobState)) == []
    assert env.sim.counters.source_fetches == []


async def test_each_family_reserves_its_own_price(env: Env) -> None:
    cases = [
        ({"mode": "seedream", "count": 2}, 2 * 20),
        ({"mode": "seedream-4.5"}, 25),
        ({"mode": "libdream", "count": 3}, 3 * 20),
        ({"mode": "img1", "quality": "turbo"}, 10),
        ({"mode": "img1"}, 30),
    ]
    for options, points in cases:
        inter = await env.fake.slash("imagine", {"prompt": "a paper boat", **options})
        await wait_result(env.fake, inter.token)
        job = await job_for_token(env.runtime.store, inter.token)
        assert (job.points_reserved, job.points_cost) == (points, points), options
    v45 = next(t for t in env.sim.tasks() if t.params.get("model") == ep.SEEDREAM_45_MODEL)
    assert 3_686_400 <= v45.params["width"] * v45.params["height"] <= 16_777_216


async def test_models_lists_the_newer_modes(env: Env) -> None:
    inter = await env.fake.slash("models")
    text = (await ack(env.fake, inter)).json["data"]["embeds"][0]["description"]
    blocks = {name: next(b for b in text.split("\n\n") if f"(`{name}`)" in b) for name in (
        "seedream", "seedream-4.5", "libdream", "img1", "img1-inpaint"
    )}  # fmt: skip
    seedream = blocks["seedream"]
    assert "Chinese or English prompts" in seedream and "10 reference images" in seedream
    assert "prompt enhancement" in seedream and "up to 15 images" in seedream and "20 points/image" in seedream
    assert "Upscale" in seedream and "Vary" in seedream  # Upscale: through Seedream 4.5 (upscale_reference_mode)
    assert "14 reference images" in blocks["seedream-4.5"] and "25 points/image" in blocks["seedream-4.5"]
    assert "prompt only" in blocks["libdream"] and "seed" in blocks["libdream"] and "Vary" not in blocks["libdream"]
    assert "turbo 10 / normal 30 / masterpiece 60 points/image" in blocks["img1"]
    assert "inpainting with a mask" in blocks["img1-inpaint"]


async def test_mode_autocomplete_offers_each_mode_where_it_fits(env: Env) -> None:
    def names(call: Any) -> list[str]:
        return [c["value"] for c in call.json["data"]["choices"]]

    imagine = await ack(env.fake, await env.fake.autocomplete("imagine", {"prompt": "x"}, "mode"))
    assert {"seedream", "seedream-4.5", "libdream", "img1"} <= set(names(imagine))
    assert "img1-inpaint" not in names(imagine)
    restyle = await ack(env.fake, await env.fake.autocomplete("restyle", {"prompt": "x"}, "mode"))
    assert "img1-inpaint" in names(restyle) and "libdream" not in names(restyle)


async def test_servers_can_allow_the_newer_modes_and_cap_their_counts(env: Env) -> None:
    saved = await admin(env.fake, "settings", "models", {"allowed": "Seedream-4.5, img1"})
    assert "img1" in saved and "seedream-4.5" in saved
    inter = await env.fake.slash("imagine", {"prompt": "雨中的灯笼", "mode": "seedream-4.5"})
    await wait_result(env.fake, inter.token)
    refused = await env.fake.slash("imagine", {"prompt": "雨中的灯笼", "mode": "libdream"})
    assert "not allowed here. Allowed: img1, seedream-4.5" in await private_reply(env.fake, refused)
    await admin(env.fake, "settings", "caps", {"max_count": 6})
    capped = await env.fake.slash("imagine", {"prompt": "雨中的灯笼", "mode": "seedream-4.5", "count": 8})
    assert "at most 6 image(s)" in await private_reply(env.fake, capped)
    await admin(env.fake, "settings", "caps", {"max_count": 15})
    assert env.sim.counters.submits == 1


async def test_a_lost_second_part_is_posted_again_once(env: Env) -> None:
    """The follow-up with images 11-12 is lost on the network: delivery is tried again, the first message edited
    again (idempotent), the second part posted once, and the job delivered once."""
    from tests.fake_discord.records import DROPPED

    env.runtime.runner.delivery_retry_delay = 0.05
    inter = await env.fake.slash("imagine", {"prompt": "十二只纸鹤", "mode": "seedream", "count": 12})
    env.fake.drop_next("POST", "/webhooks/", when=lambda c: is_follow_up(c, inter.token) and bool(c.files))
    await env.fake.wait_for_call(lambda c: is_follow_up(c, inter.token) and c.status == 200 and bool(c.files), 30)
    job = await job_for_token(env.runtime.store, inter.token)
    parts = [c for c in env.fake.calls if is_follow_up(c, inter.token) and c.files]
    assert [c.status for c in parts] == [DROPPED, 200]
    firsts = [c for c in env.fake.calls if is_original_edit(c, inter.token) and c.files]
    assert len(firsts) == 2 and all(len(c.files) == 10 for c in firsts)
    assert len(inter.followup_ids) == 1  # one second message, not two
    assert str(job.result_message_id) == env.fake.original_message(inter)["id"]


async def test_a_points_refusal_can_offer_seedream_for_four_images(env: Env) -> None:
    """Kontext max (58 points) over a 30-point budget with four images: Seedream takes them, for 20."""
    from tests.e2e.test_quotes import refusal_with_offer

    await admin(env.fake, "quota", "set", {"points_per_day": 30})
    files = attachments(env.fake, image=png(), image2=png(), image3=png(), image4=png())
    inter = await env.fake.slash("imagine", {"prompt": "blend them", "mode": "kontext-max"}, attachments=files)
    call = await refusal_with_offer(env.fake, inter)
    assert "**seedream**, about 20 points" in call.json["content"]
    assert await env.runtime.store.list_jobs(list(JobState)) == []
