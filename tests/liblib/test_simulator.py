"""The LiblibAI simulator, driven with raw signed aiohttp requests (no LiblibClient)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
import types
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import BaseTestServer, TestServer
from PIL import Image

import bot.liblib.simulator.auth as auth_module
from bot.liblib import endpoints as ep
from bot.liblib.signing import signed_query
from bot.liblib.simulator import DEV_ACCESS_KEY, DEV_SECRET_KEY, Simulator, run_forever
from bot.settings import SimulatorSettings

FAST = {"port": 0, "queued_seconds": 0.02, "running_seconds": 0.05, "auditing_seconds": 0.02}

STAR3_T2I = (ep.STAR3_TEXT2IMG, ep.TEMPLATE_STAR3_TEXT2IMG)
STAR3_I2I = (ep.STAR3_IMG2IMG, ep.TEMPLATE_STAR3_IMG2IMG)
CUSTOM_T2I = (ep.WEBUI_TEXT2IMG, ep.TEMPLATE_CUSTOM_TEXT2IMG)
CUSTOM_I2I = (ep.WEBUI_IMG2IMG, ep.TEMPLATE_CUSTOM_IMG2IMG)
KONTEXT_T2I = (ep.KONTEXT_TEXT2IMG, ep.TEMPLATE_KONTEXT_TEXT2IMG)
KONTEXT_I2I = (ep.KONTEXT_IMG2IMG, ep.TEMPLATE_KONTEXT_IMG2IMG)

STAR3_PARAMS = {"prompt": "a red fox in snow", "aspectRatio": "square", "imgCount": 1}
CUSTOM_PARAMS = {
    "checkPointId": "0ea388c7eb854be3ba3c6f65aac6bfd3",
    "prompt": "a lighthouse at dusk",
    "width": 512,
    "height": 384,
    "steps": 20,
    "cfgScale": 7,
    "sampler": 15,
    "seed": 42,
    "imgCount": 1,
}
KONTEXT_PARAMS = {"prompt": "a watercolour cat", "model": "pro", "aspectRatio": "1:1", "imgCount": 1}


def _png(width: int = 300, height: int = 200) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(SimulatorSettings(**FAST), submit_per_second=1000) as simulator:
        yield simulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def images() -> AsyncIterator[BaseTestServer]:
    """A third-party image host: a PNG, bytes that are no image, a 404 and an 11 MB body."""

    async def ok(request: web.Request) -> web.Response:
        return web.Response(body=_png(), content_type="image/png")

    async def junk(request: web.Request) -> web.Response:
        return web.Response(body=b"definitely not a picture" * 10, content_type="image/png")

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"\0" * (11 * 1024 * 1024), content_type="image/png")

    app = web.Application()
    app.router.add_get("/ok.png", ok)
    app.router.add_get("/junk.png", junk)
    app.router.add_get("/big.png", big)
    async with TestServer(app) as server:
        yield server


async def call(
    http: aiohttp.ClientSession,
    sim: Simulator,
    path: str,
    body: object,
    *,
    key: str = DEV_ACCESS_KEY,
    secret: str = DEV_SECRET_KEY,
    query: dict[str, str] | None = None,
    method: str = "POST",
) -> tuple[int, dict[str, Any]]:
    params = signed_query(path, key, secret) if query is None else query
    async with http.request(method, sim.base_url + path, params=params, json=body) as resp:
        return resp.status, await resp.json(content_type=None)


async def submit(
    http: aiohttp.ClientSession, sim: Simulator, route: tuple[str, str], params: dict[str, Any]
) -> dict[str, Any]:
    _, body = await call(http, sim, route[0], {"templateUuid": route[1], "generateParams": params})
    return body


async def poll(
    http: aiohttp.ClientSession, sim: Simulator, generate_uuid: str, status_path: str
) -> list[dict[str, Any]]:
    """Every status answer until a terminal one, polling fast."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        _, body = await call(http, sim, status_path, {"generateUuid": generate_uuid})
        assert body["code"] == 0, body
        seen.append(body["data"])
        if body["data"]["generateStatus"] in (5, 6, 7):
            return seen
        await asyncio.sleep(0.004)
    raise AssertionError(f"task never finished: {seen[-1]}")


# ---------------------------------------------------------------------------------------------- auth


async def test_signature_test_vector_is_accepted(http, monkeypatch):
    """liblib-api.md §2.5 vectors 1 and 2, sent verbatim with the clock pinned to their timestamps."""
    accounts = {"KIQMFXjHaobx7wqo9XvYKA": "KppKsn7ezZxhi6lIDjbo7YyVYzanSu2d", "probe": "test-secret"}
    async with Simulator(SimulatorSettings(**FAST), accounts=accounts) as sim:
        clock = types.SimpleNamespace(time=lambda: 1725458584.0, monotonic=time.monotonic)
        monkeypatch.setattr(auth_module, "time", clock)
        query = {
            "AccessKey": "KIQMFXjHaobx7wqo9XvYKA",
            "Signature": "NijkrxUUT49wN_UYRDG4Re8bZbY",
            "Timestamp": "1725458584000",
            "SignatureNonce": "random1232",
        }
        body = {"templateUuid": ep.TEMPLATE_CUSTOM_TEXT2IMG, "generateParams": CUSTOM_PARAMS}
        status, answer = await call(http, sim, ep.WEBUI_TEXT2IMG, body, query=query)
        assert (status, answer["code"]) == (200, 0)
        assert len(answer["data"]["generateUuid"]) == 32

        clock.time = lambda: 1700000000.0
        query = {"AccessKey": "probe", "Signature": "R400d3CVcsL4qLNl7LDrVCaUF94"}
        query |= {"Timestamp": "1700000000000", "SignatureNonce": "abcdef1234"}
        _, answer = await call(http, sim, ep.WEBUI_STATUS, {"generateUuid": "0" * 32}, query=query)
        assert answer["code"] == 100051  # signature accepted; the task just does not exist
        assert sim.counters.auth_failures == 0


def _tampered(path: str) -> dict[str, str]:
    query = signed_query(path, DEV_ACCESS_KEY, DEV_SECRET_KEY)
    query["Signature"] = ("A" if query["Signature"][0] != "A" else "B") + query["Signature"][1:]
    return query


@pytest.mark.parametrize(
    "make_query",
    [
        pytest.param(_tampered, id="bad-signature"),
        pytest.param(
            lambda p: signed_query(p, DEV_ACCESS_KEY, DEV_SECRET_KEY, timestamp_ms=int((time.time() - 360) * 1000)),
            id="stale-timestamp",
        ),
        pytest.param(
            lambda p: signed_query(p, DEV_ACCESS_KEY, DEV_SECRET_KEY, timestamp_ms=int((time.time() + 360) * 1000)),
            id="future-timestamp",
        ),
        pytest.param(lambda p: signed_query(p, "nobody", DEV_SECRET_KEY), id="unknown-key"),
        pytest.param(lambda p: signed_query(p, DEV_ACCESS_KEY, "wrong-secret"), id="wrong-secret"),
        pytest.param(lambda p: {"AccessKey": DEV_ACCESS_KEY}, id="missing-params"),
    ],
)
async def test_auth_failures_answer_401_envelope(sim, http, make_query):
    status, body = await call(http, sim, ep.WEBUI_STATUS, {"generateUuid": "x"}, query=make_query(ep.WEBUI_STATUS))
    assert status == 200
    assert body == {"code": 401, "msg": "签名验证失败", "data": None}
    assert sim.counters.auth_failures == 1
    assert sim.counters.status_queries == 0


async def test_reused_nonce_is_refused(sim, http):
    query = signed_query(ep.WEBUI_STATUS, DEV_ACCESS_KEY, DEV_SECRET_KEY, nonce="same-nonce")
    _, first = await call(http, sim, ep.WEBUI_STATUS, {"generateUuid": "x"}, query=query)
    _, second = await call(http, sim, ep.WEBUI_STATUS, {"generateUuid": "x"}, query=query)
    assert first["code"] == 100051
    assert second["code"] == 401
    assert sim.counters.auth_failures == 1


async def test_nonce_reuse_allowed_when_check_is_off(http):
    async with Simulator(SimulatorSettings(**FAST, check_nonce_reuse=False)) as sim:
        query = signed_query(ep.WEBUI_STATUS, DEV_ACCESS_KEY, DEV_SECRET_KEY, nonce="same-nonce")
        for _ in range(2):
            _, body = await call(http, sim, ep.WEBUI_STATUS, {"generateUuid": "x"}, query=query)
            assert body["code"] == 100051


async def test_http_error_status_switch(http):
    async with Simulator(SimulatorSettings(**FAST, http_error_statuses=True)) as sim:
        status, body = await call(http, sim, ep.WEBUI_STATUS, {}, query=_tampered(ep.WEBUI_STATUS))
        assert (status, body["code"]) == (401, 401)
        await submit(http, sim, STAR3_T2I, STAR3_PARAMS)
        async with http.post(
            sim.base_url + ep.STAR3_TEXT2IMG,
            params=signed_query(ep.STAR3_TEXT2IMG, DEV_ACCESS_KEY, DEV_SECRET_KEY),
            json={"templateUuid": ep.TEMPLATE_STAR3_TEXT2IMG, "generateParams": STAR3_PARAMS},
        ) as resp:
            assert resp.status == 429
            assert resp.headers["Retry-After"] == "1"
            assert (await resp.json())["msg"] == "请求过多，请稍后重试"
        # Business errors stay HTTP 200 even with the switch on.
        status, body = await call(http, sim, ep.WEBUI_STATUS, {"generateUuid": "nope"})
        assert (status, body["code"]) == (200, 100051)


async def test_get_and_unknown_routes(sim, http):
    status, body = await call(http, sim, ep.WEBUI_STATUS, None, method="GET")
    assert (status, body) == (200, {"code": 100000, "msg": "Request method 'GET' is not supported", "data": None})
    _, body = await call(http, sim, "/api/generate/comfy/app", {})
    assert body["code"] == 100000
    assert body["msg"] == "No static resource api/generate/comfy/app."


# ---------------------------------------------------------------------------------------------- families


async def _download(http: aiohttp.ClientSession, url: str) -> bytes:
    async with http.get(url) as resp:
        assert resp.status == 200
        assert resp.content_type == "image/png"
        return await resp.read()


def _size(png: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(png)) as img:
        return img.size


@pytest.mark.parametrize(
    ("route", "params", "status_path", "size", "count"),
    [
        pytest.param(STAR3_T2I, {**STAR3_PARAMS, "aspectRatio": "portrait", "imgCount": 2}, ep.WEBUI_STATUS,
                     (768, 1024), 2, id="star3-text2img"),
        pytest.param(STAR3_T2I, {"prompt": "x", "imageSize": {"width": 640, "height": 512}}, ep.WEBUI_STATUS,
                     (640, 512), 1, id="star3-imagesize"),
        pytest.param(CUSTOM_T2I, {**CUSTOM_PARAMS, "imgCount": 3}, ep.WEBUI_STATUS, (512, 384), 3, id="custom"),
        pytest.param(KONTEXT_T2I, {**KONTEXT_PARAMS, "aspectRatio": "16:9"}, ep.GENERIC_STATUS, (1360, 768), 1,
                     id="kontext-text2img"),
        pytest.param(STAR3_I2I, {"prompt": "x", "sourceImage": "SRC"}, ep.WEBUI_STATUS, (768, 512), 1,
                     id="star3-img2img"),
        pytest.param(CUSTOM_I2I, {**CUSTOM_PARAMS, "sourceImage": "SRC", "mode": 0, "denoisingStrength": 0.6,
                                  "resizedWidth": 256, "resizedHeight": 320}, ep.WEBUI_STATUS, (256, 320), 1,
                     id="custom-img2img"),
        pytest.param(KONTEXT_I2I, {"prompt": "x", "image_list": ["SRC"], "imgCount": 2}, ep.GENERIC_STATUS,
                     (1248, 832), 2, id="kontext-img2img"),
    ],
)  # fmt: skip
async def test_family_submit_progress_and_png(sim, http, images, route, params, status_path, size, count):
    sim.set_durations(0.06, 0.12, 0.04)  # wide enough that a slow CI box still sees statuses 1 and 2
    source = str(images.make_url("/ok.png"))
    params = {k: (source if v == "SRC" else [source] if v == ["SRC"] else v) for k, v in params.items()}
    answer = await submit(http, sim, route, params)
    assert answer["code"] == 0, answer
    generate_uuid = answer["data"]["generateUuid"]

    seen = await poll(http, sim, generate_uuid, status_path)
    statuses = [s["generateStatus"] for s in seen]
    assert statuses == sorted(statuses)
    assert {1, 2, 5} <= set(statuses)
    assert set(statuses) <= {1, 2, 3, 4, 5}
    percents = [s["percentCompleted"] for s in seen]
    if status_path == ep.WEBUI_STATUS:  # "not implemented" there: LiblibAI answers 0 throughout, even when done
        assert set(percents) == {0}
    else:
        assert percents == sorted(percents)
        assert percents[0] < 1.0
        assert percents[-1] == 1.0
    assert all(s["images"] == [] for s in seen[:-1])

    final = seen[-1]
    assert len(final["images"]) == count
    for image in final["images"]:
        assert image["auditStatus"] == 3
        assert 0 <= image["seed"] <= 9_999_999_999
        assert image["imageUrl"].startswith(sim.base_url + "/images/")
        assert _size(await _download(http, image["imageUrl"])) == size
    assert sim.counters.submits == 1
    assert sim.counters.submits_by_path == {route[0]: 1}
    if route in (STAR3_I2I, CUSTOM_I2I, KONTEXT_I2I):
        assert sim.counters.source_fetches == [source]


async def test_same_prompt_and_seed_give_same_bytes(sim, http):
    urls: list[list[str]] = []
    for seed in (42, 42, 7):
        answer = await submit(http, sim, CUSTOM_T2I, {**CUSTOM_PARAMS, "seed": seed, "imgCount": 2})
        final = (await poll(http, sim, answer["data"]["generateUuid"], ep.WEBUI_STATUS))[-1]
        assert [img["seed"] for img in final["images"]] == [seed, seed + 1]
        urls.append([img["imageUrl"] for img in final["images"]])
    first = [await _download(http, url) for url in urls[0]]
    again = [await _download(http, url) for url in urls[1]]
    other = [await _download(http, url) for url in urls[2]]
    assert first == again
    assert first[0] != first[1]
    assert first[0] != other[0]


async def test_status_errors_and_duplicate_terminal_queries(sim, http):
    _, body = await call(http, sim, ep.GENERIC_STATUS, {"generateUuid": "f" * 32})
    assert body == {"code": 100051, "msg": f"生图任务不存在: {'f' * 32}", "data": None}
    _, body = await call(http, sim, ep.GENERIC_STATUS, {})
    assert body["code"] == 100000
    answer = await submit(http, sim, KONTEXT_T2I, KONTEXT_PARAMS)
    generate_uuid = answer["data"]["generateUuid"]
    _, body = await call(http, sim, ep.WEBUI_STATUS, {"generateUuid": generate_uuid})
    assert body["code"] == 100051  # Kontext tasks are polled on /api/generate/status
    await poll(http, sim, generate_uuid, ep.GENERIC_STATUS)
    assert sim.counters.duplicate_uuid_queries_after_terminal == 0
    await call(http, sim, ep.GENERIC_STATUS, {"generateUuid": generate_uuid})
    assert sim.counters.duplicate_uuid_queries_after_terminal == 1
    task = sim.task(generate_uuid)
    assert task is not None
    assert (task.status, task.path, task.access_key) == (5, ep.KONTEXT_TEXT2IMG, DEV_ACCESS_KEY)


# ---------------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("route", "params", "code", "msg"),
    [
        (STAR3_T2I, {"aspectRatio": "square"}, 100000, "参数无效: prompt"),
        (STAR3_T2I, {**STAR3_PARAMS, "prompt": "x" * 2001}, 100000, "参数无效: prompt"),
        (STAR3_T2I, {**STAR3_PARAMS, "imgCount": 5}, 100000, "参数无效: imgCount"),
        (STAR3_T2I, {**STAR3_PARAMS, "imgCount": 0}, 100000, "参数无效: imgCount"),
        (STAR3_T2I, {**STAR3_PARAMS, "aspectRatio": "wide"}, 100000, "参数无效: aspectRatio"),
        (STAR3_T2I, {"prompt": "x"}, 100000, "参数无效: aspectRatio"),
        (STAR3_T2I, {"prompt": "x", "imageSize": {"width": 256, "height": 512}}, 100000, "参数无效: imageSize.width"),
        (STAR3_T2I, {**STAR3_PARAMS, "controlnet": {"controlType": "blur", "controlImage": "u"}}, 100000,
         "参数无效: controlnet.controlType"),
        (STAR3_I2I, {"prompt": "x"}, 100000, "参数无效: sourceImage"),
        (CUSTOM_T2I, {**CUSTOM_PARAMS, "width": 2000}, 100000, "参数无效: width"),
        (CUSTOM_T2I, {**CUSTOM_PARAMS, "height": 64}, 100000, "参数无效: height"),
        (CUSTOM_T2I, {**CUSTOM_PARAMS, "steps": 61}, 100000, "参数无效: steps"),
        (CUSTOM_T2I, {**CUSTOM_PARAMS, "cfgScale": 15.5}, 100000, "参数无效: cfgScale"),
        (CUSTOM_T2I, {**CUSTOM_PARAMS, "sampler": 22}, 100000, "参数无效: sampler"),
        (CUSTOM_T2I, {**CUSTOM_PARAMS, "sampler": 26}, 100000, "参数无效: sampler"),
        (CUSTOM_T2I, {**CUSTOM_PARAMS, "seed": 10_000_000_000}, 100000, "参数无效: seed"),
        (CUSTOM_T2I, {**CUSTOM_PARAMS, "seed": -2}, 100000, "参数无效: seed"),
        (CUSTOM_T2I, {**CUSTOM_PARAMS, "additionalNetwork": [{"modelId": "a", "weight": 0.8}] * 6}, 100000,
         "参数无效: additionalNetwork"),
        (CUSTOM_T2I, {**CUSTOM_PARAMS, "additionalNetwork": [{"modelId": "a", "weight": 5}]}, 100000,
         "参数无效: additionalNetwork.weight"),
        (CUSTOM_T2I, {**CUSTOM_PARAMS, "controlNet": [{"sourceImage": "u"}] * 5}, 100000, "参数无效: controlNet"),
        (CUSTOM_I2I, {**CUSTOM_PARAMS}, 100000, "参数无效: sourceImage"),
        (CUSTOM_I2I, {**CUSTOM_PARAMS, "sourceImage": "u", "denoisingStrength": 1.5}, 100000,
         "参数无效: denoisingStrength"),
        (CUSTOM_I2I, {**CUSTOM_PARAMS, "sourceImage": "u", "mode": 2}, 100000, "参数无效: mode"),
        (CUSTOM_I2I, {**CUSTOM_PARAMS, "sourceImage": "u", "mode": 4}, 100000, "参数无效: inpaintParam"),
        (KONTEXT_T2I, {**KONTEXT_PARAMS, "model": "ultra"}, 100000, "参数无效: model"),
        (KONTEXT_T2I, {**KONTEXT_PARAMS, "aspectRatio": "5:4"}, 100000, "参数无效: aspectRatio"),
        (KONTEXT_T2I, {**KONTEXT_PARAMS, "guidance_scale": 25}, 100000, "参数无效: guidance_scale"),
        (KONTEXT_I2I, {**KONTEXT_PARAMS}, 100000, "参数无效: image_list"),
        (KONTEXT_I2I, {**KONTEXT_PARAMS, "image_list": []}, 100000, "参数无效: image_list"),
        (KONTEXT_I2I, {**KONTEXT_PARAMS, "model": "max", "image_list": ["u"] * 5}, 100000, "参数无效: image_list"),
        ((ep.STAR3_TEXT2IMG, ep.TEMPLATE_KONTEXT_TEXT2IMG), STAR3_PARAMS, 100000,
         f"参数无效: template not found, templateUuid: {ep.TEMPLATE_KONTEXT_TEXT2IMG}"),
        ((ep.STAR3_TEXT2IMG, ""), STAR3_PARAMS, 100000, "参数无效: templateUuid"),
        (STAR3_T2I, {}, 100050, "生图参数未通过参数完整度校验，请检查参数配置"),
    ],
)  # fmt: skip
async def test_parameter_validation(sim, http, route, params, code, msg):
    assert await submit(http, sim, route, params) == {"code": code, "msg": msg, "data": None}
    assert sim.counters.submits == 0
    assert sim.counters.source_fetches == []


async def test_missing_generate_params_and_non_english_prompt(sim, http):
    _, body = await call(http, sim, ep.STAR3_TEXT2IMG, {"templateUuid": ep.TEMPLATE_STAR3_TEXT2IMG})
    assert body["code"] == 100050
    _, body = await call(http, sim, ep.STAR3_TEXT2IMG, "not an object")
    assert body["code"] == 100000
    # English-only is documented but not enforced by the simulator.
    assert (await submit(http, sim, STAR3_T2I, {**STAR3_PARAMS, "prompt": "雪中的红狐狸"}))["code"] == 0
    # Star-3 uuids are also accepted on the plain webui routes (liblib-api.md §11.2).
    assert (await submit(http, sim, (ep.WEBUI_TEXT2IMG, ep.TEMPLATE_STAR3_TEXT2IMG), STAR3_PARAMS))["code"] == 0


async def test_sensitive_prompt(sim, http):
    body = await submit(http, sim, STAR3_T2I, {**STAR3_PARAMS, "prompt": "a forbidden-word here"})
    assert body == {"code": 100052, "msg": "提示词中包含敏感内容", "data": None}
    sim.fail_next_tasks("sensitive_prompt")
    assert (await submit(http, sim, STAR3_T2I, STAR3_PARAMS))["code"] == 100052
    assert (await submit(http, sim, STAR3_T2I, STAR3_PARAMS))["code"] == 0
    assert sim.counters.submits == 1


# ---------------------------------------------------------------------------------------------- limits


async def test_submit_qps_violation_is_counted(http):
    async with Simulator(SimulatorSettings(**FAST), submit_per_second=20) as sim:
        assert (await submit(http, sim, STAR3_T2I, STAR3_PARAMS))["code"] == 0
        second = await submit(http, sim, STAR3_T2I, STAR3_PARAMS)
        assert second == {"code": 429, "msg": "请求过多，请稍后重试", "data": None}
        await asyncio.sleep(0.06)  # the rate's 50 ms interval must pass: that is the rule under test
        assert (await submit(http, sim, STAR3_T2I, STAR3_PARAMS))["code"] == 0
        counters = sim.counters
        assert (counters.submits, counters.submit_requests, counters.rate_limit_violations) == (2, 3, 1)


async def test_default_rate_is_one_per_second(http):
    async with Simulator(SimulatorSettings(**FAST)) as sim:
        assert (await submit(http, sim, STAR3_T2I, STAR3_PARAMS))["code"] == 0
        await asyncio.sleep(0.3)  # well inside the default 1 s interval: that is the rule under test
        assert (await submit(http, sim, STAR3_T2I, STAR3_PARAMS))["code"] == 429
        assert sim.counters.rate_limit_violations == 1


async def test_concurrency_cap(http):
    async with Simulator(SimulatorSettings(**FAST), submit_per_second=1000, max_concurrent=2) as sim:
        sim.set_durations(0.1, 0.1, 0.1)
        for _ in range(2):
            assert (await submit(http, sim, STAR3_T2I, STAR3_PARAMS))["code"] == 0
        third = await submit(http, sim, STAR3_T2I, STAR3_PARAMS)
        assert third == {"code": 100054, "msg": "当前进行中任务数量已达到并发任务上限", "data": None}
        # Both tasks end on their own, without anyone polling them (sim.tasks() is no API call).
        async with asyncio.timeout(5):
            while not all(task.terminal for task in sim.tasks()):
                await asyncio.sleep(0.02)
        assert (await submit(http, sim, STAR3_T2I, STAR3_PARAMS))["code"] == 0
        assert sim.counters.concurrency_violations == 1
        assert sim.counters.max_concurrent_seen == 2
        assert sim.counters.points_spent == 16


async def test_concurrency_is_per_access_key(http):
    accounts = {"a": "secret-a", "b": "secret-b"}
    async with Simulator(SimulatorSettings(**FAST), accounts=accounts, submit_per_second=1000, max_concurrent=1) as sim:
        sim.set_durations(1, 1, 1)
        body = {"templateUuid": ep.TEMPLATE_STAR3_TEXT2IMG, "generateParams": STAR3_PARAMS}
        for key in ("a", "b"):
            _, answer = await call(http, sim, ep.STAR3_TEXT2IMG, body, key=key, secret=accounts[key])
            assert answer["code"] == 0
        _, answer = await call(http, sim, ep.STAR3_TEXT2IMG, body, key="a", secret="secret-a")
        assert answer["code"] == 100054
        generate_uuid = next(task.uuid for task in sim.tasks() if task.access_key == "a")
        _, answer = await call(http, sim, ep.WEBUI_STATUS, {"generateUuid": generate_uuid}, key="b", secret="secret-b")
        assert answer["code"] == 100051  # another account's task is not visible


async def test_status_qps_limit_when_configured(http):
    async with Simulator(SimulatorSettings(**FAST, status_qps=5)) as sim:
        _, first = await call(http, sim, ep.WEBUI_STATUS, {"generateUuid": "x"})
        _, second = await call(http, sim, ep.WEBUI_STATUS, {"generateUuid": "x"})
        assert (first["code"], second["code"]) == (100051, 429)
        assert sim.counters.status_rate_limit_violations == 1
        assert sim.counters.rate_limit_violations == 0


# ---------------------------------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    ("fault", "code", "msg"),
    [
        ("429", 429, "请求过多，请稍后重试"),
        ("100054", 100054, "当前进行中任务数量已达到并发任务上限"),
        ("100021", 100021, "用户积分不足"),
        ("100052", 100052, "提示词中包含敏感内容"),
        ("401", 401, "签名验证失败"),
    ],
)
async def test_code_faults(sim, http, fault, code, msg):
    sim.inject(fault)
    assert await submit(http, sim, STAR3_T2I, STAR3_PARAMS) == {"code": code, "msg": msg, "data": None}
    assert (await submit(http, sim, STAR3_T2I, STAR3_PARAMS))["code"] == 0  # consumed once
    counters = sim.counters
    assert (counters.submits, counters.submit_requests, counters.faults_served) == (1, 2, 1)
    # Injected refusals are not the client's violations.
    assert counters.rate_limit_violations == counters.concurrency_violations == counters.auth_failures == 0


@pytest.mark.parametrize(("fault", "status"), [("500", 500), ("502", 502)])
async def test_http_error_faults(sim, http, fault, status):
    sim.inject(fault, count=2)
    body = {"templateUuid": ep.TEMPLATE_STAR3_TEXT2IMG, "generateParams": STAR3_PARAMS}
    for _ in range(2):
        params = signed_query(ep.STAR3_TEXT2IMG, DEV_ACCESS_KEY, DEV_SECRET_KEY)
        async with http.post(sim.base_url + ep.STAR3_TEXT2IMG, params=params, json=body) as resp:
            assert resp.status == status
            assert resp.content_type == "text/html"
            assert "<html>" in await resp.text()
    assert (await submit(http, sim, STAR3_T2I, STAR3_PARAMS))["code"] == 0
    assert sim.counters.submits == 1


@pytest.mark.parametrize(("fault", "creates_task"), [("malformed", False), ("truncated", True)])
async def test_unparseable_body_faults(sim, http, fault, creates_task):
    sim.inject(fault)
    params = signed_query(ep.STAR3_TEXT2IMG, DEV_ACCESS_KEY, DEV_SECRET_KEY)
    body = {"templateUuid": ep.TEMPLATE_STAR3_TEXT2IMG, "generateParams": STAR3_PARAMS}
    async with http.post(sim.base_url + ep.STAR3_TEXT2IMG, params=params, json=body) as resp:
        assert resp.status == 200
        with pytest.raises(json.JSONDecodeError):
            await resp.json(content_type=None)
    assert sim.counters.submits == int(creates_task)


async def test_timeout_fault_still_creates_the_task(sim, http):
    sim.inject("timeout", value=5)
    params = signed_query(ep.STAR3_TEXT2IMG, DEV_ACCESS_KEY, DEV_SECRET_KEY)
    body = {"templateUuid": ep.TEMPLATE_STAR3_TEXT2IMG, "generateParams": STAR3_PARAMS}
    started = time.monotonic()
    with pytest.raises(asyncio.TimeoutError):
        async with http.post(
            sim.base_url + ep.STAR3_TEXT2IMG, params=params, json=body, timeout=aiohttp.ClientTimeout(total=0.2)
        ):
            pass
    assert time.monotonic() - started < 1
    assert sim.counters.submits == 1
    (task,) = sim.tasks()
    assert sim.task(task.uuid) is task
    # stop() (fixture teardown) answers the held request at once instead of waiting 5 s.


async def test_slow_fault_and_route_matching(sim, http):
    sim.inject("slow", route="status", value=0.15)
    sim.inject("429", route="status", count=2)
    assert (await submit(http, sim, STAR3_T2I, STAR3_PARAMS))["code"] == 0  # submit faults untouched
    started = time.monotonic()
    _, body = await call(http, sim, ep.WEBUI_STATUS, {"generateUuid": "x"})
    assert body["code"] == 100051
    assert time.monotonic() - started >= 0.14
    for _ in range(2):
        assert (await call(http, sim, ep.WEBUI_STATUS, {"generateUuid": "x"}))[1]["code"] == 429
    assert (await call(http, sim, ep.WEBUI_STATUS, {"generateUuid": "x"}))[1]["code"] == 100051
    sim.inject("502", route="any")
    async with http.post(
        sim.base_url + ep.MODEL_VERSION,
        params=signed_query(ep.MODEL_VERSION, DEV_ACCESS_KEY, DEV_SECRET_KEY),
        json={"versionUuid": "x"},
    ) as resp:
        assert resp.status == 502


def test_inject_rejects_unknown_names():
    sim = Simulator()
    with pytest.raises(ValueError, match="unknown fault"):
        sim.inject("418")
    with pytest.raises(ValueError, match="unknown route"):
        sim.inject("500", route="upload")
    with pytest.raises(ValueError, match="unknown outcome"):
        sim.fail_next_tasks("exploded")


# ---------------------------------------------------------------------------------------------- outcomes


async def test_failed_and_timeout_outcomes(sim, http):
    sim.fail_next_tasks("failed")
    sim.fail_next_tasks("timeout")
    for expected in (6, 7):
        answer = await submit(http, sim, STAR3_T2I, STAR3_PARAMS)
        final = (await poll(http, sim, answer["data"]["generateUuid"], ep.WEBUI_STATUS))[-1]
        assert final["generateStatus"] == expected
        assert final["generateMsg"]
        assert final["images"] == []
        assert final["pointsCost"] == 0
    assert sim.counters.points_spent == 0


async def test_audit_outcomes_omit_blocked_images(sim, http):
    sim.fail_next_tasks("audit_reject")
    sim.fail_next_tasks("partial_audit")
    answer = await submit(http, sim, STAR3_T2I, {**STAR3_PARAMS, "imgCount": 2})
    final = (await poll(http, sim, answer["data"]["generateUuid"], ep.WEBUI_STATUS))[-1]
    assert (final["generateStatus"], final["images"], final["pointsCost"]) == (5, [], 16)
    answer = await submit(http, sim, STAR3_T2I, {**STAR3_PARAMS, "imgCount": 3})
    final = (await poll(http, sim, answer["data"]["generateUuid"], ep.WEBUI_STATUS))[-1]
    assert final["generateStatus"] == 5
    assert len(final["images"]) == 2
    assert final["pointsCost"] == 24
    task = sim.task(answer["data"]["generateUuid"])
    assert task is not None
    assert [img.audit_status for img in task.images] == [3, 3, 4]


async def test_billing_knobs_charge_whatever_the_outcome_and_can_hide_the_cost(sim, http):
    sim.fail_next_tasks("failed")
    sim.bill_next_tasks(20)  # a failure that LiblibAI bills anyway
    sim.bill_next_tasks(report=False)  # a success whose status omits pointsCost (still charged its price)
    answer = await submit(http, sim, STAR3_T2I, STAR3_PARAMS)
    final = (await poll(http, sim, answer["data"]["generateUuid"], ep.WEBUI_STATUS))[-1]
    assert (final["generateStatus"], final["pointsCost"]) == (6, 20)
    answer = await submit(http, sim, STAR3_T2I, {**STAR3_PARAMS, "imgCount": 2})
    seen = await poll(http, sim, answer["data"]["generateUuid"], ep.WEBUI_STATUS)
    assert seen[-1]["generateStatus"] == 5 and all("pointsCost" not in s for s in seen)
    assert sim.counters.points_spent == 20 + 16
    assert seen[-1]["accountBalance"] == sim.initial_balance - 36
    with pytest.raises(ValueError, match="negative"):
        sim.bill_next_tasks(-1)
    async with http.post(sim.base_url + "/_sim/billing", json={"cost": 5, "count": 1}) as resp:
        assert resp.status == 200
    async with http.post(sim.base_url + "/_sim/billing", json={"count": 0}) as resp:
        assert resp.status == 400


# ---------------------------------------------------------------------------------------------- sources


async def test_source_fetch_errors(sim, http, images):
    async def star3_i2i(url: str) -> dict[str, Any]:
        return await submit(http, sim, STAR3_I2I, {"prompt": "x", "sourceImage": url})

    unreachable = {"code": 100030, "msg": "图片地址无法访问，或大小超出限制", "data": None}
    assert await star3_i2i(str(images.make_url("/missing.png"))) == unreachable
    assert await star3_i2i(str(images.make_url("/big.png"))) == unreachable
    assert await star3_i2i("http://127.0.0.1:9/nothing.png") == unreachable
    assert await star3_i2i("not a url") == unreachable
    assert (await star3_i2i(str(images.make_url("/junk.png"))))["code"] == 100031
    assert sim.counters.submits == 0
    assert len(sim.counters.source_fetches) == 5


async def test_all_source_images_are_fetched_in_order(sim, http, images):
    ok = str(images.make_url("/ok.png"))
    urls = [ok + "?n=1", ok + "?n=2"]
    answer = await submit(http, sim, KONTEXT_I2I, {"prompt": "x", "model": "max", "image_list": urls})
    assert answer["code"] == 0
    control = [{"sourceImage": ok + "?cn=1", "controlWeight": 1}]
    params = {**CUSTOM_PARAMS, "controlNet": control}
    assert (await submit(http, sim, CUSTOM_T2I, params))["code"] == 0
    assert sim.counters.source_fetches == [*urls, ok + "?cn=1"]


# ---------------------------------------------------------------------------------------------- upload


async def test_upload_flow_end_to_end(sim, http):
    _, answer = await call(http, sim, ep.UPLOAD_SIGNATURE, {"name": "cat", "extension": "png"})
    assert answer["code"] == 0
    data = answer["data"]
    assert data["postUrl"] == sim.base_url + "/oss"
    assert data["key"].startswith("aliyun-cn-prod/")
    assert data["key"].endswith(".png")
    assert len(data["key"].split("/")[1]) == len("0" * 32 + ".png")
    assert data["xOssSignatureVersion"] == "OSS4-HMAC-SHA256"
    assert data["xOssExpires"] == 3600

    def form(fields: list[tuple[str, str]]) -> aiohttp.FormData:
        fd = aiohttp.FormData()
        for name, value in fields:
            fd.add_field(name, value)
        fd.add_field("file", png, filename="cat.png", content_type="image/png")
        return fd

    png = _png(400, 300)
    fields = [
        ("key", data["key"]),
        ("policy", data["policy"]),
        ("x-oss-date", data["xOssDate"]),
        ("x-oss-expires", str(data["xOssExpires"])),
        ("x-oss-signature", data["xOssSignature"]),
        ("x-oss-credential", data["xOssCredential"]),
        ("x-oss-signature-version", data["xOssSignatureVersion"]),
    ]
    async with http.post(data["postUrl"], data=form(fields[1:] + fields[:1])) as resp:
        assert resp.status == 400  # out of order
    bad_key = [("key", "aliyun-cn-prod/" + "0" * 32 + ".png"), *fields[1:]]
    async with http.post(data["postUrl"], data=form(bad_key)) as resp:
        assert resp.status == 403
    async with http.post(data["postUrl"], data=form(fields)) as resp:
        assert resp.status == 204
    url = data["postUrl"] + "/" + data["key"]
    async with http.get(url) as resp:
        assert resp.status == 200
        assert await resp.read() == png
    answer = await submit(http, sim, KONTEXT_I2I, {"prompt": "x", "image_list": [url]})
    assert answer["code"] == 0
    final = (await poll(http, sim, answer["data"]["generateUuid"], ep.GENERIC_STATUS))[-1]
    assert _size(await _download(http, final["images"][0]["imageUrl"])) == (1184, 880)  # ~1 MP at 4:3
    assert sim.counters.source_fetches == [url]
    assert sim.counters.uploads == 1

    _, answer = await call(http, sim, ep.UPLOAD_SIGNATURE, {"name": "cat", "extension": "gif"})
    assert answer == {"code": 100000, "msg": "参数无效: extension", "data": None}


# ---------------------------------------------------------------------------------------------- model, points


async def test_model_version(sim, http):
    _, answer = await call(http, sim, ep.MODEL_VERSION, {"versionUuid": "412b427ddb674b4dbab9e5abd5ae6057"})
    assert answer["code"] == 0
    data = answer["data"]
    assert data["versionUuid"] == "412b427ddb674b4dbab9e5abd5ae6057"
    assert data["modelName"] == "F.1-dev-fp8"
    assert data["commercialUse"] == 1
    assert {"versionName", "baseAlgo", "modelUrl"} <= data.keys()
    _, answer = await call(http, sim, ep.MODEL_VERSION, {"versionUuid": "0" * 32})
    assert answer == {"code": 200001, "msg": "model.notExist", "data": None}


async def test_points_charged_on_success(http):
    settings = SimulatorSettings(**FAST)
    async with Simulator(settings, submit_per_second=1000, points_per_image={"custom": 3}, initial_balance=200) as sim:
        cases = [
            (KONTEXT_T2I, {**KONTEXT_PARAMS, "model": "max", "imgCount": 2}, ep.GENERIC_STATUS, 116),
            (KONTEXT_T2I, KONTEXT_PARAMS, ep.GENERIC_STATUS, 29),
            (STAR3_T2I, STAR3_PARAMS, ep.WEBUI_STATUS, 8),
            (CUSTOM_T2I, {**CUSTOM_PARAMS, "imgCount": 2}, ep.WEBUI_STATUS, 6),
        ]
        balance = 200
        for route, params, status_path, cost in cases:
            answer = await submit(http, sim, route, params)
            seen = await poll(http, sim, answer["data"]["generateUuid"], status_path)
            assert seen[0]["pointsCost"] == 0
            balance -= cost
            assert (seen[-1]["pointsCost"], seen[-1]["accountBalance"]) == (cost, balance)
        assert sim.counters.points_spent == 200 - balance == 159
        # 41 points left: a Kontext max image (58) no longer fits.
        answer = await submit(http, sim, KONTEXT_T2I, {**KONTEXT_PARAMS, "model": "max"})
        assert answer == {"code": 100021, "msg": "用户积分不足", "data": None}


# ---------------------------------------------------------------------------------------------- admin, lifecycle


async def test_admin_endpoints(sim, http):
    async with http.post(sim.base_url + "/_sim/faults", json={"fault": "429", "route": "submit"}) as resp:
        assert resp.status == 200
    async with http.post(sim.base_url + "/_sim/faults", json={"fault": "nope"}) as resp:
        assert resp.status == 400
    async with http.post(sim.base_url + "/_sim/outcomes", json={"outcome": "failed", "count": 1}) as resp:
        assert resp.status == 200
    assert (await submit(http, sim, STAR3_T2I, STAR3_PARAMS))["code"] == 429
    answer = await submit(http, sim, STAR3_T2I, STAR3_PARAMS)
    final = (await poll(http, sim, answer["data"]["generateUuid"], ep.WEBUI_STATUS))[-1]
    assert final["generateStatus"] == 6
    async with http.get(sim.base_url + "/_sim/counters") as resp:
        snapshot = await resp.json()
    assert snapshot["submits"] == 1
    assert snapshot["submit_requests"] == 2
    assert snapshot["submits_by_path"] == {ep.STAR3_TEXT2IMG: 1}
    sim.inject("500")
    async with http.post(sim.base_url + "/_sim/reset") as resp:
        assert resp.status == 200
    assert sim.counters.snapshot()["submits"] == 0
    assert (await submit(http, sim, STAR3_T2I, STAR3_PARAMS))["code"] == 0  # the pending 500 was dropped


async def test_unknown_image_is_404(sim, http):
    async with http.get(sim.base_url + "/images/" + "0" * 64 + ".png") as resp:
        assert resp.status == 404


async def test_run_forever_serves_until_cancelled(caplog):
    caplog.set_level(logging.INFO, logger="bot.liblib.simulator")
    runner = asyncio.create_task(run_forever(SimulatorSettings(**FAST)))
    async with asyncio.timeout(5):
        while "simulator accepts" not in caplog.text and not runner.done():  # started (or failed to)
            await asyncio.sleep(0.01)
    assert not runner.done()
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner


async def test_run_forever_accepts_the_configured_keys_and_the_dev_pair(http):
    """``liblib-bot simulate`` with LIBLIB_ACCESS_KEY/LIBLIB_SECRET_KEY set: both pairs sign requests it accepts."""
    started: asyncio.Future[Simulator] = asyncio.get_running_loop().create_future()
    runner = asyncio.create_task(
        run_forever(SimulatorSettings(**FAST), accounts={"owner-key": "owner-secret"}, ready=started.set_result)
    )
    try:
        async with asyncio.timeout(5):
            sim = await started
        body = {"generateUuid": "0" * 32}
        for key, secret in (("owner-key", "owner-secret"), (DEV_ACCESS_KEY, DEV_SECRET_KEY)):
            _, answer = await call(http, sim, ep.WEBUI_STATUS, body, key=key, secret=secret)
            assert answer["code"] == 100051, (key, answer)  # signature accepted; the task just does not exist
        _, answer = await call(http, sim, ep.WEBUI_STATUS, body, key="owner-key", secret="wrong")
        assert answer["code"] == 401
        assert sim.counters.status_queries == 2 and sim.counters.auth_failures == 1
    finally:
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner


async def test_every_answer_carries_the_simulator_tag(sim, http):
    """The tag the client goes by: API answers (good or refused), result images, 404s, OSS and controls."""
    answer = await submit(http, sim, STAR3_T2I, STAR3_PARAMS)
    [done] = [s for s in await poll(http, sim, answer["data"]["generateUuid"], ep.WEBUI_STATUS) if s["images"]]
    urls = [
        (sim.base_url + ep.WEBUI_STATUS, "POST"),  # unsigned: refused with 401 in the envelope
        (done["images"][0]["imageUrl"], "GET"),
        (sim.base_url + "/images/" + "0" * 64 + ".png", "GET"),
        (sim.base_url + "/oss/missing.png", "GET"),
        (sim.base_url + "/_sim/counters", "GET"),
    ]
    for url, method in urls:
        async with http.request(method, url) as resp:
            assert resp.headers.get(ep.SIMULATOR_HEADER) == "1", url
    async with http.post(
        sim.base_url + ep.WEBUI_STATUS,
        params=signed_query(ep.WEBUI_STATUS, DEV_ACCESS_KEY, DEV_SECRET_KEY),
        json={"generateUuid": "x"},
    ) as resp:
        assert resp.headers.get(ep.SIMULATOR_HEADER) == "1"


def test_the_rate_gate_forgives_arrival_jitter_but_not_a_client_faster_than_the_rate() -> None:
    from bot.liblib.simulator.routes import RateGate

    gate = RateGate(1.0)  # one per second, 0.1 s tolerance
    # a request that arrived 80 ms late, then one on time (0.92 s later): jitter, not a violation
    assert [gate.admit("k", t) for t in (0.0, 1.08, 2.0, 3.0)] == [True, True, True, True]
    assert not gate.admit("k", 3.5)  # half an interval early: refused
    fast = RateGate(1.0)
    verdicts = [fast.admit("k", n * 0.95) for n in range(6)]  # 5 % too fast: runs out of tolerance
    assert verdicts[:3] == [True, True, True] and False in verdicts
    assert RateGate(1.0).admit("a", 0.0) and RateGate(1.0).admit("b", 0.0)  # per key
