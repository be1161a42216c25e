"""U1–U4 end to end (issue 20 item 1): the Upscale of a result is that very image, larger — its pixels are what the
simulator fetches (``counters.source_digests``), at twice its size through what its mode's family allows — and is
delivered, credited to its parent, at the price its button shows."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from PIL import Image, ImageChops, ImageStat

from bot.generation.instructions import UPSCALE
from bot.liblib import endpoints as ep
from bot.media.canvas import enlarge
from bot.models import JobKind
from tests.comfy_workflows import image_workflow
from tests.e2e.conftest import Env, assert_no_pings, make_settings, running_bot
from tests.e2e.helpers import custom_ids, embed_fields, imagine_done, job_for_token, labels, result_of
from tests.e2e.test_actions import button, expire_result_urls, source_bytes
from tests.e2e.test_imagine import png_size
from tests.fake_discord import FakeDiscord


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pixels(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as img:
        return img.convert("RGB")


async def test_u2_on_star3_sends_that_very_image_enlarged_to_star3_img2img(env: Env) -> None:
    _, parent, message = await imagine_done(env.fake, env.runtime.store, {"prompt": "a castle", "count": 2})
    assert [n for n in labels(message) if n.startswith("🔍")] == ["🔍 U1 ≈8", "🔍 U2 ≈8"]  # the cost, before the click
    stored = await source_bytes(parent.result.images[1].url)  # image 2 as LiblibAI stored it
    click = await env.fake.click(int(message["id"]), button(message, "upscale", 1))
    result = await result_of(env.fake, click)
    task = env.sim.tasks()[-1]
    assert task.path == ep.STAR3_IMG2IMG and env.sim.counters.submits == 2  # never a new seed of the prompt
    # The source is image 2's pixels, enlarged to 2x (Star-3 img2img draws at its source's size).
    fetched = await source_bytes(task.params["sourceImage"])
    assert (
        env.sim.counters.source_digests[-1] == sha(fetched) == sha(enlarge(stored, (2048, 2048), max_bytes=10**7).data)
    )
    shrunk = pixels(fetched).resize((1024, 1024), Image.Resampling.BOX)
    assert max(ImageStat.Stat(ImageChops.difference(shrunk, pixels(stored))).mean) < 3  # the same picture
    assert png_size(result.files[0].content) == (2048, 2048)
    child = await job_for_token(env.runtime.store, click.token)
    assert child.kind is JobKind.UPSCALE and child.parent_job_id == parent.id and child.request.hires
    assert (child.request.count, child.points_reserved, child.points_cost) == (1, 8, 8)
    assert "Upscale of" in embed_fields(result)["From"]
    assert not [c for c in custom_ids(env.fake.original_message(click)) if c.startswith("lb:upscale")]


async def test_u2_on_a_custom_model_is_its_img2img_from_exactly_that_image_on_its_seed(env: Env) -> None:
    _, parent, message = await imagine_done(
        env.fake, env.runtime.store, {"prompt": "a cabin", "mode": "dreamtech-xl", "count": 2}
    )
    stored = await source_bytes(parent.result.images[1].url)
    click = await env.fake.click(int(message["id"]), button(message, "upscale", 1))
    result = await result_of(env.fake, click)
    task = env.sim.tasks()[-1]
    assert task.path == ep.WEBUI_IMG2IMG
    assert env.sim.counters.source_digests[-1] == sha(stored)  # exactly the result image, byte for byte
    assert pixels(await source_bytes(task.params["sourceImage"])).tobytes() == pixels(stored).tobytes()
    assert task.params["seed"] == parent.result.images[1].seed and task.params["denoisingStrength"] == 0.3
    assert (task.params["resizedWidth"], task.params["resizedHeight"]) == (2048, 2048)
    assert png_size(result.files[0].content) == (2048, 2048)


async def test_u1_on_kontext_goes_to_seedream_4_5_with_the_image_as_its_reference(env: Env) -> None:
    _, parent, message = await imagine_done(env.fake, env.runtime.store, {"prompt": "一只狐狸", "mode": "kontext-pro"})
    assert "🔍 Upscale (≈ 25 points)" in labels(message)  # [liblib.prices] seedream-4.5
    stored = await source_bytes(parent.result.images[0].url)
    click = await env.fake.click(int(message["id"]), button(message, "upscale"))
    result = await result_of(env.fake, click)
    task = env.sim.tasks()[-1]
    assert task.path == ep.SEEDREAM and task.params["model"] == ep.SEEDREAM_45_MODEL
    assert env.sim.counters.source_digests[-1] == sha(stored)
    assert task.params["referenceImages"] == [env.sim.counters.source_fetches[-1]]
    assert (task.params["width"], task.params["height"]) == (2048, 2048)  # Kontext's 1024² at 2x
    assert task.params["prompt"].startswith(UPSCALE) and task.params["prompt"].endswith("一只狐狸")
    child = await job_for_token(env.runtime.store, click.token)
    assert child.request.prompt == "一只狐狸" and child.points_reserved == 25
    assert result.json["embeds"][0]["description"] == "一只狐狸"  # the member's prompt, not the instruction


async def test_the_posted_image_is_the_source_once_the_liblib_url_expired(env: Env) -> None:
    _, parent, message = await imagine_done(env.fake, env.runtime.store, {"prompt": "a fading castle"})
    await expire_result_urls(env, parent)
    click = await env.fake.click(int(message["id"]), button(message, "upscale"))
    await result_of(env.fake, click)
    posted = env.fake.attachment_bytes(message["attachments"][0])
    assert env.sim.counters.source_digests[-1] == sha(enlarge(posted, (2048, 2048), max_bytes=10**7).data)


async def test_an_owners_upscale_workflow_takes_the_upscale_of_every_mode(
    fake: FakeDiscord, sim, tmp_path: Path
) -> None:
    workflow = image_workflow(name="esrgan", description="4x-UltraSharp")
    prices = {"esrgan": 6}
    settings = make_settings(
        fake,
        sim,
        tmp_path / "bot.db",
        models={"comfyui": [workflow], "upscale_workflow": "esrgan"},
        liblib={"prices": prices},
    )
    async with running_bot(settings, fake) as runtime:
        _, parent, message = await imagine_done(fake, runtime.store, {"prompt": "a lighthouse", "mode": "kontext-max"})
        stored = await source_bytes(parent.result.images[0].url)
        assert f"🔍 Upscale (≈ {prices['esrgan']} points)" in labels(message)
        click = await fake.click(int(message["id"]), button(message, "upscale"))
        await result_of(fake, click)
        task = sim.tasks()[-1]
        assert task.path == ep.COMFY_APP
        assert sim.counters.source_digests[-1] == sha(stored)
        assert sim.counters.source_fetches[-1] in str(task.params)  # on the workflow's image input
    assert_no_pings(fake)
