"""Zoom Out, Make Square and Pan end to end (issue 20 item 2): a bigger canvas with the result placed inside and a
mask over the new area (white on black) go to the inpainting mode (``[models] outpaint_mode``) and the result is
delivered, credited to its parent; the same rules as every button (owners, quotas, quotes, restarts)."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from bot.liblib import endpoints as ep
from bot.models import JobKind, JobState
from tests.e2e.conftest import Env, assert_no_pings, make_settings, running_bot
from tests.e2e.helpers import ack, custom_ids, embed_fields, imagine_done, job_for_token, labels, result_of
from tests.e2e.test_actions import STRANGER, str_options
from tests.e2e.test_actions import source_bytes as fetch
from tests.e2e.test_quotas import admin, private_reply
from tests.e2e.test_quotes import choice, question, spending
from tests.fake_discord import FakeDiscord


def outpaint_button(message: dict, action: str) -> str:
    [custom_id] = [c for c in custom_ids(message) if c.startswith(f"lb:{action}:")]
    return custom_id


def decoded(data: bytes, mode: str = "RGB") -> Image.Image:
    with Image.open(io.BytesIO(data)) as img:
        return img.convert(mode)


async def canvas_and_mask(env: Env) -> tuple[Image.Image, Image.Image]:
    """The image and the mask the last (IMG1 inpaint) task fetched."""
    task = env.sim.tasks()[-1]
    assert task.path == ep.IMG1_INPAINT
    assert env.sim.counters.source_fetches[-2:] == [task.params["image"], task.params["mask"]]
    return decoded(await fetch(task.params["image"])), decoded(await fetch(task.params["mask"]), "L")


async def test_zoom_out_sends_a_bigger_canvas_with_the_result_in_the_middle_and_a_mask(env: Env) -> None:
    _, parent, message = await imagine_done(env.fake, env.runtime.store, {"prompt": "a lighthouse", "aspect": "1:1"})
    shown = labels(message)
    assert {"🔭 Zoom Out 2x", "🔭 Zoom Out 1.5x", "⬅️", "➡️", "⬆️", "⬇️"} <= set(shown)
    assert "🔳 Make Square" not in shown  # the result is square already
    result_pixels = decoded(await fetch(parent.result.images[0].url))
    assert result_pixels.size == (1024, 1024)
    click = await env.fake.click(int(message["id"]), outpaint_button(message, "zoom2"))
    result = await result_of(env.fake, click)
    canvas, mask = await canvas_and_mask(env)
    assert canvas.size == mask.size == (2048, 2048)
    assert canvas.crop((512, 512, 1536, 1536)).tobytes() == result_pixels.tobytes()  # exactly the result, centred
    assert mask.crop((512, 512, 1536, 1536)).getextrema() == (0, 0)  # black on the result
    for band in ((0, 0, 2048, 512), (0, 1536, 2048, 2048), (0, 0, 512, 2048), (1536, 0, 2048, 2048)):
        assert mask.crop(band).getextrema() == (255, 255)  # white exactly on the new area
    task = env.sim.tasks()[-1]
    assert task.params["prompt"] == "a lighthouse" and task.params["aspectRatio"] == "auto"
    child = await job_for_token(env.runtime.store, click.token)
    assert child.kind is JobKind.ZOOM_OUT and child.parent_job_id == parent.id and child.state is JobState.SUCCEEDED
    assert child.points_reserved == 30  # [liblib.prices] img1-normal
    assert "Zoom Out of" in embed_fields(result)["From"] and message["id"] in embed_fields(result)["From"]
    assert result.files  # delivered
    # The outpainted result can be zoomed out again (one image: its buttons are there).
    assert any(c.startswith("lb:zoom2:") for c in custom_ids(env.fake.original_message(click)))


async def test_pan_right_extends_the_right_side_only(env: Env) -> None:
    _, parent, message = await imagine_done(env.fake, env.runtime.store, {"prompt": "a road", "aspect": "1:1"})
    result_pixels = decoded(await fetch(parent.result.images[0].url))
    click = await env.fake.click(int(message["id"]), outpaint_button(message, "panright"))
    await result_of(env.fake, click)
    canvas, mask = await canvas_and_mask(env)
    assert canvas.size == (1536, 1024)
    assert canvas.crop((0, 0, 1024, 1024)).tobytes() == result_pixels.tobytes()  # the image keeps the left edge
    assert mask.crop((0, 0, 1024, 1024)).getextrema() == (0, 0)
    assert mask.crop((1024, 0, 1536, 1024)).getextrema() == (255, 255)
    child = await job_for_token(env.runtime.store, click.token)
    assert child.kind is JobKind.PAN and (child.request.width, child.request.height) == (1536, 1024)


async def test_make_square_on_a_wide_result_fills_above_and_below(env: Env) -> None:
    _, _parent, message = await imagine_done(env.fake, env.runtime.store, {"prompt": "a bridge", "aspect": "16:9"})
    click = await env.fake.click(int(message["id"]), outpaint_button(message, "square"))
    await result_of(env.fake, click)
    canvas, mask = await canvas_and_mask(env)
    assert canvas.size[0] == canvas.size[1] == 1280  # Star-3 16:9 is 1280x720
    assert mask.crop((0, 280, 1280, 1000)).getextrema() == (0, 0)  # the image, centred vertically
    assert mask.crop((0, 0, 1280, 280)).getextrema() == mask.crop((0, 1000, 1280, 1280)).getextrema() == (255, 255)


async def test_a_custom_model_outpaints_through_its_img2img_inpaint(fake: FakeDiscord, sim, tmp_path: Path) -> None:
    settings = make_settings(fake, sim, tmp_path / "bot.db", models={"outpaint_mode": "dreamtech-xl"})
    async with running_bot(settings, fake) as runtime:
        _, _parent, message = await imagine_done(fake, runtime.store, {"prompt": "a harbour", "aspect": "1:1"})
        click = await fake.click(int(message["id"]), outpaint_button(message, "zoom15"))
        await result_of(fake, click)
        task = sim.tasks()[-1]
        assert task.path == ep.WEBUI_IMG2IMG and task.params["mode"] == 4
        mask = task.params["inpaintParam"]["maskImage"]
        assert sim.counters.source_fetches[-2:] == [task.params["sourceImage"], mask]
        assert (task.params["resizedWidth"], task.params["resizedHeight"]) == (1536, 1536)
        assert task.params["denoisingStrength"] == 1.0
        child = await job_for_token(runtime.store, click.token)
        assert child.points_reserved == 8  # [liblib.prices] custom
    assert_no_pings(fake)


async def test_remix_zooms_out_with_the_edited_prompt(env: Env) -> None:
    _, parent, message = await imagine_done(env.fake, env.runtime.store, {"prompt": "a red fox", "aspect": "1:1"})
    click = await env.fake.click(int(message["id"]), outpaint_button(message, "remix"))
    modal = (await ack(env.fake, click)).json["data"]
    assert {"zoom2:0", "zoom15:0", "panleft:0", "pandown:0"} <= {o["value"] for o in str_options(modal)}
    edited = {"prompt": "一只红狐狸在森林里", "action": ["zoom2:0"]}
    submit = await env.fake.submit_modal(f"lb-remix:{parent.id}", edited)
    await result_of(env.fake, submit)
    task = env.sim.tasks()[-1]
    assert task.path == ep.IMG1_INPAINT and task.params["prompt"] == "一只红狐狸在森林里"  # IMG1 takes Chinese
    child = await job_for_token(env.runtime.store, submit.token)
    assert child.kind is JobKind.ZOOM_OUT and child.request.prompt == "一只红狐狸在森林里"


async def test_others_clicks_follow_the_button_rules(env: Env) -> None:
    fake = env.fake
    fake.add_member(STRANGER, name="stranger")
    _, _, message = await imagine_done(fake, env.runtime.store, {"prompt": "mine", "aspect": "1:1"})
    submits, fetched = env.sim.counters.submit_requests, len(env.sim.counters.source_fetches)
    for action in ("zoom2", "panleft"):
        refused = await fake.click(int(message["id"]), outpaint_button(message, action), user_id=STRANGER)
        assert "Only the member" in await private_reply(fake, refused)
    assert env.sim.counters.submit_requests == submits and len(env.sim.counters.source_fetches) == fetched
    assert env.sim.counters.uploads == 0  # nothing was drawn or uploaded for them
    await admin(fake, "settings", "buttons", {"everyone": True})
    click = await fake.click(int(message["id"]), outpaint_button(message, "panup"), user_id=STRANGER)
    await result_of(fake, click)
    child = await job_for_token(env.runtime.store, click.token)
    assert child.user_id == STRANGER and child.kind is JobKind.PAN  # on the clicker's own quota


async def test_a_zoom_above_the_servers_threshold_is_confirmed_before_anything_is_drawn(env: Env) -> None:
    fake = env.fake
    _, _, message = await imagine_done(fake, env.runtime.store, {"prompt": "a castle", "aspect": "1:1"})
    await spending(fake, 10)
    uploads, fetched = env.sim.counters.uploads, len(env.sim.counters.source_fetches)
    click = await fake.click(int(message["id"]), outpaint_button(message, "zoom2"))
    asked = await question(fake, click)
    assert "30 points" in asked["content"] and "img1-inpaint" in asked["content"]
    assert env.sim.counters.uploads == uploads  # no canvas drawn or uploaded before the member confirms
    confirm = await fake.click(int(asked["id"]), choice(asked, "yes"))
    await result_of(fake, confirm)
    assert len(env.sim.counters.source_fetches) == fetched + 2  # the canvas and the mask
    child = await job_for_token(env.runtime.store, confirm.token)
    assert child.kind is JobKind.ZOOM_OUT and child.points_cost == 30


async def test_the_buttons_work_after_a_restart(fake: FakeDiscord, sim, tmp_path: Path) -> None:
    settings = make_settings(fake, sim, tmp_path / "bot.db")
    async with running_bot(settings, fake) as runtime:
        _, parent, message = await imagine_done(fake, runtime.store, {"prompt": "before", "aspect": "1:1"})
    async with running_bot(settings, fake) as runtime:
        for action, kind in (("zoom15", JobKind.ZOOM_OUT), ("pandown", JobKind.PAN), ("upscale", JobKind.UPSCALE)):
            click = await fake.click(int(message["id"]), outpaint_button(message, action))
            await result_of(fake, click)
            child = await job_for_token(runtime.store, click.token)
            assert child.kind is kind and child.parent_job_id == parent.id
    assert sim.counters.submits == 4
    assert_no_pings(fake)
