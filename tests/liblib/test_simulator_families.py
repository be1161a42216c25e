"""The simulator's newer families (liblib-api.md §3, §5.8, §6): Seedream 4.0/4.5, libDream, Smart IMG1 generate and
inpaint. Routes and templates, the documented ranges (100000 naming the field), the status route, prices, timings,
reference fetches and IMG1's status without progress or seeds. Driven with raw signed requests."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import BaseTestServer, TestServer
from PIL import Image

from bot.liblib import endpoints as ep
from bot.liblib.simulator import Simulator
from bot.liblib.simulator.tasks import running_factor
from bot.liblib.simulator.validate import SubmitKind
from bot.settings import SimulatorSettings
from tests.liblib.test_simulator import FAST, _download, _size, call, http, poll, submit

__all__ = ["http"]  # a fixture

SEEDREAM = (ep.SEEDREAM, ep.TEMPLATE_SEEDREAM)
LIBDREAM = (ep.LIBDREAM, ep.TEMPLATE_LIBDREAM)
IMG1 = (ep.IMG1_GENERATE, ep.TEMPLATE_IMG1_GENERATE)
INPAINT = (ep.IMG1_INPAINT, ep.TEMPLATE_IMG1_INPAINT)
V45 = ep.SEEDREAM_45_MODEL

SEEDREAM_PARAMS: dict[str, Any] = {"prompt": "一只在雪地里的红狐狸", "width": 1024, "height": 768, "imgCount": 1}
LIBDREAM_PARAMS: dict[str, Any] = {"prompt": "a lighthouse", "width": 768, "height": 512, "seed": 42}
IMG1_PARAMS: dict[str, Any] = {"prompt": "a cat", "aspectRatio": "portrait", "quality": "turbo"}


def _png(width: int = 300, height: int = 200, pad: int = 0) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (20, 90, 30)).save(out, format="PNG")
    return out.getvalue() + b"\0" * pad  # trailing bytes after IEND still read as the picture


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(SimulatorSettings(**FAST), submit_per_second=1000) as simulator:
        yield simulator


@pytest.fixture
async def host() -> AsyncIterator[BaseTestServer]:
    """An image host: a small PNG, and a 5 MB one (over IMG1 inpaint's 4 MB, under the usual 10 MB)."""

    async def ok(request: web.Request) -> web.Response:
        return web.Response(body=_png(), content_type="image/png")

    async def five_mb(request: web.Request) -> web.Response:
        return web.Response(body=_png(pad=5 * 1024 * 1024), content_type="image/png")

    app = web.Application()
    app.router.add_get("/ok.png", ok)
    app.router.add_get("/5mb.png", five_mb)
    async with TestServer(app) as server:
        yield server


@pytest.mark.parametrize(
    ("route", "params", "size", "count", "points"),
    [
        pytest.param(SEEDREAM, {**SEEDREAM_PARAMS, "imgCount": 3, "sequentialImageGeneration": "auto"}, (1024, 768),
                     3, 3 * 20, id="seedream-4.0"),
        pytest.param(SEEDREAM, {**SEEDREAM_PARAMS, "model": V45, "width": 2560, "height": 1440}, (2560, 1440), 1, 25,
                     id="seedream-4.5"),
        pytest.param(SEEDREAM, {"prompt": "x"}, (2048, 2048), 1, 20, id="seedream-default-size"),
        pytest.param(LIBDREAM, {**LIBDREAM_PARAMS, "imgCount": 2, "usePreLlm": True}, (768, 512), 2, 2 * 20,
                     id="libdream"),
        pytest.param(LIBDREAM, {"prompt": "x"}, (1328, 1328), 1, 20, id="libdream-default-size"),
        pytest.param(IMG1, {**IMG1_PARAMS, "imgCount": 2}, (1024, 1536), 2, 2 * 10, id="img1-turbo"),
        pytest.param(IMG1, {"prompt": "x", "quality": "masterpiece", "aspectRatio": "landscape"}, (1536, 1024), 1, 60,
                     id="img1-masterpiece"),
        pytest.param(IMG1, {"prompt": "x"}, (1024, 1024), 1, 30, id="img1-defaults"),
    ],
)  # fmt: skip
async def test_each_family_renders_on_its_route_and_is_charged_its_price(sim, http, route, params, size, count, points):
    answer = await submit(http, sim, route, params)
    assert answer["code"] == 0, answer
    final = (await poll(http, sim, answer["data"]["generateUuid"], ep.GENERIC_STATUS))[-1]
    assert final["generateStatus"] == 5
    assert len(final["images"]) == count
    assert final["pointsCost"] == points
    assert _size(await _download(http, final["images"][0]["imageUrl"])) == size
    assert sim.counters.submits_by_path == {route[0]: 1}


async def test_newer_families_are_polled_on_the_generic_status_route_only(sim, http):
    for route, params in ((SEEDREAM, SEEDREAM_PARAMS), (LIBDREAM, LIBDREAM_PARAMS), (IMG1, IMG1_PARAMS)):
        generate_uuid = (await submit(http, sim, route, params))["data"]["generateUuid"]
        for wrong in (ep.WEBUI_STATUS, ep.COMFY_STATUS):
            _, body = await call(http, sim, wrong, {"generateUuid": generate_uuid})
            assert body["code"] == 100051, (route, wrong)
        _, body = await call(http, sim, ep.GENERIC_STATUS, {"generateUuid": generate_uuid})
        assert body["code"] == 0


async def test_img1_status_has_no_progress_and_no_seeds(sim, http):
    sim.set_durations(0.05, 0.1, 0.03)
    generate_uuid = (await submit(http, sim, IMG1, IMG1_PARAMS))["data"]["generateUuid"]
    seen = await poll(http, sim, generate_uuid, ep.GENERIC_STATUS)
    assert {1, 5} <= {s["generateStatus"] for s in seen}
    assert all("percentCompleted" not in s for s in seen)
    assert seen[-1]["images"] and all("seed" not in image for image in seen[-1]["images"])
    # the others keep both
    generate_uuid = (await submit(http, sim, LIBDREAM, LIBDREAM_PARAMS))["data"]["generateUuid"]
    final = (await poll(http, sim, generate_uuid, ep.GENERIC_STATUS))[-1]
    assert final["percentCompleted"] == 1.0 and final["images"][0]["seed"] == 42  # libDream honours the seed


@pytest.mark.parametrize(
    ("route", "params", "field"),
    [
        # Seedream 4.0: sides 512-4096, width * height <= 2048²
        (SEEDREAM, {**SEEDREAM_PARAMS, "width": 511}, "width"),
        (SEEDREAM, {**SEEDREAM_PARAMS, "height": 4097}, "height"),
        (SEEDREAM, {**SEEDREAM_PARAMS, "width": 2048, "height": 2064}, "width*height"),
        (SEEDREAM, {"prompt": "x", "width": 1024}, "height"),
        # Seedream 4.5: 3,686,400-16,777,216 pixels in all
        (SEEDREAM, {**SEEDREAM_PARAMS, "model": V45, "width": 2048, "height": 1792}, "width*height"),
        (SEEDREAM, {**SEEDREAM_PARAMS, "model": V45, "width": 4096, "height": 4112}, "width*height"),
        (SEEDREAM, {**SEEDREAM_PARAMS, "model": "doubao-seedream-3-0"}, "model"),
        (SEEDREAM, {**SEEDREAM_PARAMS, "imgCount": 16}, "imgCount"),
        (SEEDREAM, {**SEEDREAM_PARAMS, "imgCount": 0}, "imgCount"),
        (SEEDREAM, {**SEEDREAM_PARAMS, "referenceImages": ["u"] * 11}, "referenceImages"),
        (SEEDREAM, {**SEEDREAM_PARAMS, "model": V45, "width": 2560, "height": 1440, "referenceImages": ["u"] * 15},
         "referenceImages"),
        (SEEDREAM, {**SEEDREAM_PARAMS, "referenceImages": []}, "referenceImages"),
        (SEEDREAM, {**SEEDREAM_PARAMS, "referenceImages": ["u"] * 4, "imgCount": 12}, "imgCount"),
        (SEEDREAM, {**SEEDREAM_PARAMS, "promptMagic": 2}, "promptMagic"),
        (SEEDREAM, {**SEEDREAM_PARAMS, "sequentialImageGeneration": "on"}, "sequentialImageGeneration"),
        # libDream: sides 512-3072, width * height <= 2048²; scale 1-10; 1-4 images
        (LIBDREAM, {**LIBDREAM_PARAMS, "width": 3073}, "width"),
        (LIBDREAM, {**LIBDREAM_PARAMS, "width": 3072, "height": 1408}, "width*height"),
        (LIBDREAM, {**LIBDREAM_PARAMS, "scale": 10.5}, "scale"),
        (LIBDREAM, {**LIBDREAM_PARAMS, "imgCount": 5}, "imgCount"),
        (LIBDREAM, {**LIBDREAM_PARAMS, "usePreLlm": "yes"}, "usePreLlm"),
        (LIBDREAM, {**LIBDREAM_PARAMS, "seed": -2}, "seed"),
        # Smart IMG1
        (IMG1, {**IMG1_PARAMS, "aspectRatio": "16:9"}, "aspectRatio"),
        (IMG1, {**IMG1_PARAMS, "quality": "ultra"}, "quality"),
        (IMG1, {**IMG1_PARAMS, "imgCount": 5}, "imgCount"),
        (IMG1, {**IMG1_PARAMS, "image_list": ["u"] * 9}, "image_list"),
        (INPAINT, {**IMG1_PARAMS, "mask": "u"}, "image"),
        (INPAINT, {**IMG1_PARAMS, "image": "u"}, "mask"),
        (SEEDREAM, {"width": 1024, "height": 1024}, "prompt"),
    ],
)  # fmt: skip
async def test_out_of_range_values_are_refused_naming_the_field(sim, http, route, params, field):
    assert await submit(http, sim, route, params) == {"code": 100000, "msg": f"参数无效: {field}", "data": None}
    assert sim.counters.submits == 0 and sim.counters.source_fetches == []


@pytest.mark.parametrize(
    ("route", "params"),
    [
        (SEEDREAM, {**SEEDREAM_PARAMS, "width": 4096, "height": 1024}),  # 4096 x 1024 = 2048²: the edge
        (SEEDREAM, {**SEEDREAM_PARAMS, "model": V45, "width": 4096, "height": 4096, "imgCount": 15}),
        (LIBDREAM, {**LIBDREAM_PARAMS, "width": 3072, "height": 1360, "scale": 1, "imgCount": 4}),
        (IMG1, {**IMG1_PARAMS, "aspectRatio": "auto", "imgCount": 4}),
    ],
)
async def test_values_at_the_edges_are_accepted(sim, http, route, params):
    assert (await submit(http, sim, route, params))["code"] == 0


@pytest.mark.parametrize(
    ("path", "template"),
    [
        (ep.SEEDREAM, ep.TEMPLATE_LIBDREAM),
        (ep.LIBDREAM, ep.TEMPLATE_SEEDREAM),
        (ep.IMG1_GENERATE, ep.TEMPLATE_IMG1_INPAINT),
        (ep.IMG1_INPAINT, ep.TEMPLATE_IMG1_GENERATE),
        (ep.KONTEXT_TEXT2IMG, ep.TEMPLATE_SEEDREAM),
    ],
)
async def test_a_wrong_template_uuid_is_refused(sim, http, path, template):
    answer = await submit(http, sim, (path, template), {"prompt": "x"})
    assert answer == {"code": 100000, "msg": f"参数无效: template not found, templateUuid: {template}", "data": None}


async def test_reference_images_are_fetched_in_order(sim, http, host):
    ok = str(host.make_url("/ok.png"))
    refs = [f"{ok}?ref={n}" for n in range(3)]
    assert (await submit(http, sim, SEEDREAM, {**SEEDREAM_PARAMS, "referenceImages": refs}))["code"] == 0
    assert (await submit(http, sim, IMG1, {**IMG1_PARAMS, "image_list": refs[:2]}))["code"] == 0
    inpaint = {**IMG1_PARAMS, "image": f"{ok}?img", "mask": f"{ok}?mask", "image_list": refs[:1]}
    answer = await submit(http, sim, INPAINT, {**inpaint, "aspectRatio": "auto"})
    assert answer["code"] == 0
    assert sim.counters.source_fetches == [*refs, *refs[:2], f"{ok}?img", f"{ok}?mask", refs[0]]
    task = sim.task(answer["data"]["generateUuid"])
    assert task is not None and (task.images[0].width, task.images[0].height) == (300, 200)  # the repainted size


async def test_img1_inpaint_takes_images_of_at_most_4_mb(sim, http, host):
    ok, big = str(host.make_url("/ok.png")), str(host.make_url("/5mb.png"))
    unreachable = {"code": 100030, "msg": "图片地址无法访问，或大小超出限制", "data": None}
    assert await submit(http, sim, INPAINT, {**IMG1_PARAMS, "image": big, "mask": ok}) == unreachable
    assert await submit(http, sim, INPAINT, {**IMG1_PARAMS, "image": ok, "mask": big}) == unreachable
    # the usual 10 MB elsewhere, IMG1's references included
    assert (await submit(http, sim, IMG1, {**IMG1_PARAMS, "image_list": [big]}))["code"] == 0
    assert (await submit(http, sim, SEEDREAM, {**SEEDREAM_PARAMS, "referenceImages": [big]}))["code"] == 0


def test_running_time_follows_the_family() -> None:
    assert running_factor(SubmitKind.STAR3_T2I, {}) == 1.0
    assert running_factor(SubmitKind.SEEDREAM, {"imgCount": 11}) == pytest.approx(2.0)
    assert running_factor(SubmitKind.IMG1_GENERATE, {"quality": "turbo"}) == 0.5
    assert running_factor(SubmitKind.IMG1_INPAINT, {"quality": "masterpiece"}) == 2.0
    assert running_factor(SubmitKind.IMG1_GENERATE, {}) == 1.0


async def test_a_seedream_group_runs_longer_than_one_image(sim, http):
    sim.set_durations(0.0, 1.0, 0.0)
    one = (await submit(http, sim, SEEDREAM, SEEDREAM_PARAMS))["data"]["generateUuid"]
    group = (await submit(http, sim, SEEDREAM, {**SEEDREAM_PARAMS, "imgCount": 11}))["data"]["generateUuid"]
    tasks = [sim.task(one), sim.task(group)]
    assert [t.end_offset for t in tasks if t is not None] == [pytest.approx(1.0), pytest.approx(2.0)]
