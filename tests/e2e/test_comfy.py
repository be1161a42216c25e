"""ComfyUI workflows the owner registered, end to end: the real bot against the fake Discord and the simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.liblib import endpoints as ep
from bot.liblib.simulator import Simulator
from bot.models import JobState
from tests.comfy_workflows import IMAGE_UUID, TEXT_UUID, VIDEO_UUID, image_workflow, text_workflow, video_workflow
from tests.e2e.conftest import Env, assert_no_pings, make_settings, running_bot
from tests.e2e.helpers import ack, custom_ids, embed_fields, job_for_token
from tests.e2e.test_imagine import is_original_edit, png_size, wait_jobs, wait_result
from tests.e2e.test_privacy import answer
from tests.e2e.test_quotas import admin
from tests.e2e.test_restyle import png, sha, slash_restyle
from tests.fake_discord import FakeDiscord

PRICES = {"sd15-flow": 14, "repaint-flow": 20, "clip-flow": 40}


@pytest.fixture
async def cenv(fake: FakeDiscord, sim: Simulator, tmp_path: Path) -> AsyncIterator[Env]:
    for uuid, name in ((TEXT_UUID, "sd15-flow"), (IMAGE_UUID, "repaint-flow"), (VIDEO_UUID, "clip-flow")):
        sim.register_workflow(uuid, points_per_output=PRICES[name])  # the account's own prices
    settings = make_settings(
        fake,
        sim,
        tmp_path / "bot.db",
        models={"comfyui": [text_workflow(), image_workflow(), video_workflow()]},
        liblib={"prices": PRICES},
        fetch={"extra_hosts": [fake.base_url]},
    )
    async with running_bot(settings, fake) as runtime:
        yield Env(fake, sim, runtime, settings, tmp_path / "bot.db")
    assert_no_pings(fake)
    assert fake.spec_errors == [], fake.spec_errors


async def wait_embed_field(fake: FakeDiscord, token: str, name: str, timeout: float = 10.0):
    def match(c) -> bool:
        if not is_original_edit(c, token) or not isinstance(c.json, dict):
            return False
        return any(f.get("name") == name for e in c.json.get("embeds") or [] for f in e.get("fields") or [])

    return await fake.wait_for_call(match, timeout=timeout)


async def test_imagine_through_a_workflow_is_delivered(cenv: Env) -> None:
    fake, sim = cenv.fake, cenv.sim
    inter = await fake.slash(
        "imagine", {"prompt": "a lighthouse at dusk", "mode": "sd15-flow", "aspect": "3:4", "seed": 99, "count": 2}
    )
    result = await wait_result(fake, inter.token)
    assert len(result.files) == 2
    [task] = sim.tasks()
    assert task.path == ep.COMFY_APP and task.status_path == ep.COMFY_STATUS
    assert task.params["workflowUuid"] == TEXT_UUID
    assert task.params["6"]["inputs"]["text"] == "a lighthouse at dusk"
    assert task.params["3"]["inputs"]["seed"] == 99
    assert task.params["5"]["inputs"]["batch_size"] == 2
    assert task.params["4"] == text_workflow()["params"]["4"]  # configured nodes go as configured
    width, height = png_size(result.files[0].content)
    assert (width, height) == (task.params["5"]["inputs"]["width"], task.params["5"]["inputs"]["height"])
    assert width < height  # 3:4
    fields = embed_fields(result)
    assert fields["Mode"].startswith("sd15-flow") and fields["Seeds"] == "99, 100"
    assert fields["Points"] == str(2 * PRICES["sd15-flow"])
    [job] = await wait_jobs(cenv.runtime.store, JobState.SUCCEEDED, 1)
    assert job.request.mode == "comfy:sd15-flow" and job.points_reserved == 2 * PRICES["sd15-flow"]
    ids = custom_ids(fake.original_message(inter) or {})
    assert any(i.startswith("lb:reroll:") for i in ids)
    assert not any(i.startswith(("lb:vary:", "lb:varystrong:")) for i in ids)  # a workflow has no strength to vary
    assert any(i.startswith("lb:upscale:") for i in ids)  # its images upscale through Seedream 4.5, as Kontext's


async def test_a_workflow_that_needs_an_image_is_refused_without_one(cenv: Env) -> None:
    inter = await cenv.fake.slash("imagine", {"prompt": "repaint it", "mode": "repaint-flow"})
    call = await ack(cenv.fake, inter)
    assert call.json["type"] == 4 and call.json["data"]["flags"] & 64
    assert "needs an input image" in call.json["data"]["content"]
    assert cenv.sim.counters.submit_requests == 0


async def test_restyle_through_a_workflow_that_takes_an_image(cenv: Env) -> None:
    fake, sim = cenv.fake, cenv.sim
    source = png(320, 480, (90, 10, 200))
    inter = await slash_restyle(fake, {"prompt": "as an oil painting", "mode": "repaint-flow"}, image=source)
    result = await wait_result(fake, inter.token)
    assert len(result.files) == 1
    [task] = sim.tasks()
    assert task.path == ep.COMFY_APP and task.params["workflowUuid"] == IMAGE_UUID
    assert task.params["6"]["inputs"]["text"] == "as an oil painting"
    image_url = task.params["10"]["inputs"]["image"]
    assert sim.counters.source_fetches == [image_url]  # the simulator fetched the source, as LiblibAI would
    assert sim.counters.source_digests == [sha(source)]  # exactly the member's picture
    job = await job_for_token(cenv.runtime.store, inter.token)
    assert job.kind == "restyle" and job.result is not None and job.result.points_cost == PRICES["repaint-flow"]


async def test_a_video_workflow_says_so_and_attaches_the_video(cenv: Env) -> None:
    fake = cenv.fake
    inter = await fake.slash("imagine", {"prompt": "waves at night", "mode": "clip-flow"})
    result = await wait_result(fake, inter.token)
    [video] = result.files
    assert video.filename.endswith(".mp4") and video.content[4:8] == b"ftyp"
    note = embed_fields(result)["Video"]
    assert "made a video, not a picture" in note and "attached" in note
    [task] = cenv.sim.tasks()
    assert task.images[0].url in note  # its link too (valid for 7 days)
    assert "Seed" not in embed_fields(result)
    [job] = await wait_jobs(cenv.runtime.store, JobState.SUCCEEDED, 1)
    assert job.result is not None and len(job.result.videos) == 1 and not job.result.images
    assert custom_ids(fake.original_message(inter) or {}) == [f"lb:delete:{job.id}:0:{job.user_id}"]


async def test_a_video_too_large_for_discord_is_linked(cenv: Env) -> None:
    fake, sim = cenv.fake, cenv.sim
    sim.register_workflow(VIDEO_UUID, points_per_output=PRICES["clip-flow"], video_bytes=11 * 1024 * 1024)
    inter = await fake.slash("imagine", {"prompt": "a long storm", "mode": "clip-flow"})
    call = await wait_embed_field(fake, inter.token, "Video")
    assert not call.files  # over the 10 MB attachment limit: not sent (no 413)
    note = embed_fields(call)["Video"]
    assert "too large to attach here" in note
    [task] = sim.tasks()
    assert task.images[0].url in note
    [job] = await wait_jobs(cenv.runtime.store, JobState.SUCCEEDED, 1)
    assert job.points_cost == PRICES["clip-flow"]


async def test_models_lists_the_workflows(cenv: Env) -> None:
    inter = await cenv.fake.slash("models")
    text = (await ack(cenv.fake, inter)).json["data"]["embeds"][0]["description"]
    blocks = {name: next(b for b in text.split("\n\n") if f"(`{name}`)" in b) for name in PRICES}
    assert "Plain SD 1.5 through the owner's ComfyUI graph" in blocks["sd15-flow"]
    assert "14 points/image" in blocks["sd15-flow"] and "ComfyUI workflow" in blocks["sd15-flow"]
    assert "up to 4 images" in blocks["sd15-flow"] and "aspect ratio" in blocks["sd15-flow"]
    assert "needs an input image" in blocks["repaint-flow"]
    assert "makes a video" in blocks["clip-flow"]


async def test_the_mode_autocomplete_offers_workflows_and_restyle_only_those_taking_images(cenv: Env) -> None:
    fake = cenv.fake
    imagine = await fake.autocomplete("imagine", {"mode": "flow"}, focused="mode")
    await fake.wait_for_ack(imagine)
    response = fake.interaction_response(imagine)
    assert response is not None
    choices = {c["value"]: c["name"] for c in response["data"]["choices"]}
    assert set(choices) == set(PRICES)
    assert "Repaints a picture" in choices["repaint-flow"]  # the description helps choose
    restyle = await fake.autocomplete("restyle", {"mode": "flow"}, focused="mode")
    await fake.wait_for_ack(restyle)
    restyle_response = fake.interaction_response(restyle)
    assert restyle_response is not None
    assert [c["value"] for c in restyle_response["data"]["choices"]] == ["repaint-flow"]


async def test_a_server_may_allow_only_some_workflows(cenv: Env) -> None:
    fake = cenv.fake
    await admin(fake, "settings", "models", {"allowed": "star3, repaint-flow"})
    kind, text = await answer(fake, await fake.slash("imagine", {"prompt": "a cat", "mode": "sd15-flow"}))
    assert kind == "private" and "`sd15-flow` is not allowed here" in text, (kind, text)
    await admin(fake, "settings", "features", {"custom_models": False})  # workflows are the owner's models too
    kind, text = await answer(
        fake,
        await fake.slash(
            "restyle",
            {"prompt": "x", "mode": "repaint-flow"},
            attachments={"image": fake.host_file("image.png", png())},
        ),
    )
    assert kind == "private" and "Custom models are disabled" in text, (kind, text)
    assert cenv.sim.counters.submit_requests == 0


async def test_the_built_in_simulator_runs_configured_workflows_at_their_price(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    """Without LiblibAI keys the bot's own simulator knows the owner's workflows (their price, their video)."""
    settings = make_settings(
        fake,
        None,
        tmp_path / "bot.db",
        models={"comfyui": [video_workflow(video=True)]},
        liblib={"prices": {"clip-flow": 41}},
    )
    async with running_bot(settings, fake) as runtime:
        inter = await fake.slash("imagine", {"prompt": "rain", "mode": "clip-flow"})
        result = await wait_result(fake, inter.token)
        assert result.files[0].filename.endswith(".mp4")
        assert embed_fields(result)["Points"] == "41"
        assert runtime.simulator is not None
    assert_no_pings(fake)
