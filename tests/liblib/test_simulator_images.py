"""What the simulator paints (bot/liblib/simulator/images.py): a visible SIMULATED mark on every result, the
"index/count" badge in the order results are reported, image-to-image results that follow their input, and
Chinese prompts drawn as Chinese (no tofu boxes).

Results are fetched through the running simulator (signed submit, status, image download) where the point is
what a client receives; the pure renderer is called directly only for the font check.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import BaseTestServer, TestServer
from PIL import Image, ImageChops, ImageDraw, ImageStat

from bot.liblib import endpoints as ep
from bot.liblib.simulator import Simulator
from bot.liblib.simulator.images import MARK_TEXT, RenderSpec, badge_image, cjk_font_path, font, layout, render_png
from bot.settings import SimulatorSettings
from tests.liblib.test_simulator import FAST, STAR3_I2I, STAR3_PARAMS, STAR3_T2I, poll, submit

WHITE = (255, 255, 255)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(SimulatorSettings(**FAST), submit_per_second=1000) as simulator:
        yield simulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def _png(colour: tuple[int, int, int], size: tuple[int, int] = (640, 480)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
async def sources() -> AsyncIterator[BaseTestServer]:
    """A third-party image host with a red and a blue picture."""

    def serve(colour: tuple[int, int, int]) -> Any:
        async def handler(request: web.Request) -> web.Response:
            return web.Response(body=_png(colour), content_type="image/png")

        return handler

    app = web.Application()
    app.router.add_get("/red.png", serve((220, 20, 20)))
    app.router.add_get("/blue.png", serve((20, 20, 220)))
    async with TestServer(app) as server:
        yield server


async def results(
    http: aiohttp.ClientSession, sim: Simulator, route: tuple[str, str], params: dict[str, Any]
) -> list[Image.Image]:
    """The images of one task, in the order the status answer lists them."""
    answer = await submit(http, sim, route, params)
    assert answer["code"] == 0, answer
    final = (await poll(http, sim, answer["data"]["generateUuid"], ep.WEBUI_STATUS))[-1]
    images = []
    for entry in final["images"]:
        async with http.get(entry["imageUrl"]) as resp:
            images.append(Image.open(io.BytesIO(await resp.read())).convert("RGB"))
    return images


def glyphs(size: tuple[int, int], text: str, count: int = 1) -> np.ndarray:
    """Where ``text`` would be painted solid in the mark's place: its glyphs' fully covered pixels, drawn alone."""
    where = layout(*size, count)
    alone = Image.new("L", size, 0)
    ImageDraw.Draw(alone).text(where.mark_origin, text, fill=255, font=font(where.mark_size))
    return np.asarray(alone) == 255


def white(img: Image.Image) -> np.ndarray:
    return np.all(np.asarray(img) == 255, axis=2)


async def test_every_result_carries_the_simulated_mark(sim, http, sources) -> None:
    t2i = await results(http, sim, STAR3_T2I, {**STAR3_PARAMS, "imgCount": 2})
    [i2i] = await results(http, sim, STAR3_I2I, {"prompt": "x", "sourceImage": str(sources.make_url("/red.png"))})
    for img in [*t2i, i2i]:
        mark = glyphs(img.size, MARK_TEXT)
        assert mark.sum() > img.width * img.height // 400  # a mark one can read, not a speck
        assert white(img)[mark].all(), img.size
        # And it says SIMULATED: the solid glyphs of another word in its place are not all there.
        assert white(img)[glyphs(img.size, "GENERATED")].mean() < 0.9


async def test_the_painted_index_is_the_position_in_the_answer(sim, http) -> None:
    """Result 2 of 4 is painted "2/4": the bot and the CLI name it ``..._2``; a batch that lost its last image to
    the audit keeps the others' numbers."""
    batch = await results(http, sim, STAR3_T2I, {**STAR3_PARAMS, "imgCount": 4})
    sim.fail_next_tasks("partial_audit")
    partial = await results(http, sim, STAR3_T2I, {**STAR3_PARAMS, "imgCount": 3})
    for images, count in ((batch, 4), (partial, 3)):
        for position, img in enumerate(images, start=1):
            where = layout(*img.size, count)
            painted = img.crop(where.badge)
            matches = [
                k
                for k in range(1, count + 1)
                if not ImageChops.difference(painted, badge_image(k, count, where)).getbbox()
            ]
            assert matches == [position], (count, position, matches)
    assert len(partial) == 2


async def test_image_to_image_results_follow_the_input(sim, http, sources) -> None:
    means = {}
    for colour in ("red", "blue"):
        [img] = await results(
            http, sim, STAR3_I2I, {"prompt": "x", "sourceImage": str(sources.make_url(f"/{colour}.png"))}
        )
        assert img.size == (683, 512)  # the source's 4:3, scaled up to Star-3's smallest side
        means[colour] = ImageStat.Stat(img).mean
    red, blue = means["red"], means["blue"]
    assert red[0] > red[2] + 60 and blue[2] > blue[0] + 60, means


def test_a_chinese_prompt_is_drawn_in_chinese() -> None:
    """The prompt strip's glyphs differ between 猫 and 狗 (tofu would draw the same box for both)."""
    assert cjk_font_path() is not None  # mplfonts ships Noto Sans CJK SC

    def ink(prompt: str) -> np.ndarray:
        img = Image.open(io.BytesIO(render_png(RenderSpec(prompt, 7, 1, 1, 512, 512)))).convert("RGB")
        return white(img.crop(layout(512, 512, 1).caption))

    cat, dog = ink("一只猫"), ink("一只狗")
    assert cat.any() and dog.any()
    assert (cat != dog).sum() > 20  # whole strokes differ, not an edge pixel
