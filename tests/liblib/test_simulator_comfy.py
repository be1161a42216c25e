"""The simulator's ComfyUI route (``/api/generate/comfyui/app``), driven with raw signed requests."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import BaseTestServer, TestServer

from bot.liblib import endpoints as ep
from bot.liblib.models import TaskResult, TaskStatus
from bot.liblib.simulator import SENSITIVE_WORD, Simulator
from bot.settings import SimulatorSettings
from tests.comfy_workflows import IMAGE_UUID, TEXT_PARAMS, TEXT_UUID, VIDEO_UUID, image_workflow, video_workflow
from tests.liblib.test_simulator import FAST, _png, call, poll

COMFY = (ep.COMFY_APP, ep.TEMPLATE_COMFY)


def workflow_params(uuid: str = TEXT_UUID, nodes: dict[str, Any] | None = None, **inputs: Any) -> dict[str, Any]:
    params = copy.deepcopy(nodes if nodes is not None else TEXT_PARAMS)
    params["6"]["inputs"]["text"] = "a lighthouse at dusk"
    for ref, value in inputs.items():
        node_id, _, name = ref.partition("__")
        params[node_id]["inputs"][name] = value
    return {**params, "workflowUuid": uuid}


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
    async def ok(request: web.Request) -> web.Response:
        return web.Response(body=_png(300, 400), content_type="image/png")

    app = web.Application()
    app.router.add_get("/ok.png", ok)
    async with TestServer(app) as server:
        yield server


async def submit(
    http: aiohttp.ClientSession, sim: Simulator, params: object, template: object = ep.TEMPLATE_COMFY
) -> dict[str, Any]:
    body: dict[str, Any] = {"generateParams": params}
    if template is not None:
        body["templateUuid"] = template
    _, answer = await call(http, sim, ep.COMFY_APP, body)
    return answer


# --------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("params", "template", "code", "msg"),
    [
        pytest.param({}, "nonsense", 100050, "生图参数未通过参数完整度校验，请检查参数配置", id="empty-params-first"),
        pytest.param(None, "nonsense", 100050, "生图参数未通过参数完整度校验，请检查参数配置", id="no-params"),
        pytest.param(TEXT_PARAMS, "nonsense", 100000, "参数无效: workflowUuid", id="no-workflow-before-template"),
        pytest.param(
            {**TEXT_PARAMS, "workflowUuid": "  "}, "nonsense", 100000, "参数无效: workflowUuid", id="blank-workflow"
        ),
        pytest.param(
            {**TEXT_PARAMS, "workflowUuid": TEXT_UUID},
            "x",
            100000,
            "参数无效: template not found, templateUuid: x",
            id="wrong-template",
        ),
        pytest.param(
            {**TEXT_PARAMS, "workflowUuid": TEXT_UUID}, None, 100000, "参数无效: templateUuid", id="no-template"
        ),
        pytest.param({"workflowUuid": TEXT_UUID}, ep.TEMPLATE_COMFY, 100050, None, id="no-nodes"),
        pytest.param(
            {"workflowUuid": TEXT_UUID, "3": {"inputs": {}}},
            ep.TEMPLATE_COMFY,
            100000,
            "参数无效: 3.class_type",
            id="node-without-class",
        ),
        pytest.param(
            {"workflowUuid": TEXT_UUID, "3": {"class_type": "KSampler", "inputs": []}},
            ep.TEMPLATE_COMFY,
            100000,
            "参数无效: 3.inputs",
            id="node-inputs-not-a-map",
        ),
    ],
)
async def test_validation_follows_the_real_services_order(sim, http, params, template, code, msg) -> None:
    answer = await submit(http, sim, params, template)
    assert answer["code"] == code, answer
    if msg is not None:
        assert answer["msg"] == msg
    assert sim.counters.submits == 0


async def test_a_sensitive_word_in_any_node_input_is_refused(sim, http) -> None:
    params = workflow_params(**{"7__text": f"no {SENSITIVE_WORD} here"})
    answer = await submit(http, sim, params)
    assert answer["code"] == 100052


# --------------------------------------------------------------------------------------- outputs


async def test_images_follow_the_node_map_and_poll_only_on_the_comfy_route(sim, http) -> None:
    params = workflow_params(**{"5__batch_size": 2, "5__width": 640, "5__height": 384, "3__seed": 77})
    answer = await submit(http, sim, params)
    assert answer["code"] == 0, answer
    uuid = answer["data"]["generateUuid"]
    for wrong in (ep.GENERIC_STATUS, ep.WEBUI_STATUS):  # the strict route check
        _, other = await call(http, sim, wrong, {"generateUuid": uuid})
        assert other["code"] == 100051
    done = (await poll(http, sim, uuid, ep.COMFY_STATUS))[-1]
    assert done["generateStatus"] == 5
    assert done["videos"] == []
    assert [(i["nodeId"], i["outputName"], i["seed"]) for i in done["images"]] == [
        ("9", "images", 77),
        ("9", "images", 78),
    ]
    [task] = sim.tasks()
    assert (task.images[0].width, task.images[0].height) == (640, 384)
    assert done["pointsCost"] == 2 * 10  # the default price per output
    async with http.get(done["images"][0]["imageUrl"]) as resp:
        assert resp.status == 200 and resp.content_type == "image/png"
    parsed = TaskResult.from_status(TaskStatus.model_validate(done))
    assert len(parsed.images) == 2 and parsed.videos == ()


async def test_a_registered_workflow_has_its_price_and_timing(sim, http) -> None:
    sim.register_workflow(TEXT_UUID, points_per_output=33, durations=(0.0, 0.0, 0.0))
    answer = await submit(http, sim, workflow_params())
    done = (await poll(http, sim, answer["data"]["generateUuid"], ep.COMFY_STATUS))[0]
    assert done["generateStatus"] == 5  # done at the first look: its own timing
    assert done["pointsCost"] == 33
    assert sim.balance() == sim.initial_balance - 33


async def test_a_registered_template_is_accepted(sim, http) -> None:
    sim.register_workflow(TEXT_UUID, template_uuid="a" * 32)
    assert (await submit(http, sim, workflow_params(), "a" * 32))["code"] == 0


async def test_an_image_input_given_as_a_url_is_fetched(sim, http, images) -> None:
    nodes = image_workflow()["params"]
    params = workflow_params(IMAGE_UUID, nodes, **{"10__image": str(images.make_url("/ok.png"))})
    answer = await submit(http, sim, params)
    assert answer["code"] == 0, answer
    assert sim.counters.source_fetches == [str(images.make_url("/ok.png"))]
    [task] = sim.tasks()
    assert (task.images[0].width, task.images[0].height) == (300, 400)  # no size node: the input's size
    unreachable = workflow_params(IMAGE_UUID, nodes, **{"10__image": str(images.make_url("/missing.png"))})
    assert (await submit(http, sim, unreachable))["code"] == 100030


async def test_a_video_node_outputs_a_video(sim, http) -> None:
    answer = await submit(http, sim, workflow_params(VIDEO_UUID, video_workflow()["params"]))
    done = (await poll(http, sim, answer["data"]["generateUuid"], ep.COMFY_STATUS))[-1]
    assert done["images"] == []
    [video] = done["videos"]
    assert video["videoUrl"].endswith(".mp4") and video["nodeId"] == "9" and video["auditStatus"] == 3
    async with http.get(video["videoUrl"]) as resp:
        data = await resp.read()
        assert resp.content_type == "video/mp4" and data[4:8] == b"ftyp"
    async with http.get(video["coverPath"]) as resp:
        assert resp.content_type == "image/png"
    parsed = TaskResult.from_status(TaskStatus.model_validate(done))
    assert parsed.images == () and [v.video_url for v in parsed.videos] == [video["videoUrl"]]


async def test_the_video_knob_makes_any_workflow_output_a_video(sim, http) -> None:
    sim.register_workflow(TEXT_UUID, video=True, video_bytes=300_000)
    answer = await submit(http, sim, workflow_params())
    done = (await poll(http, sim, answer["data"]["generateUuid"], ep.COMFY_STATUS))[-1]
    [video] = done["videos"]
    async with http.get(video["videoUrl"]) as resp:
        assert len(await resp.read()) == 300_000


async def test_a_video_listed_among_the_images_is_read_as_a_video(sim, http) -> None:
    sim.register_workflow(TEXT_UUID, video=True, video_in_images=True)
    answer = await submit(http, sim, workflow_params())
    done = (await poll(http, sim, answer["data"]["generateUuid"], ep.COMFY_STATUS))[-1]
    assert done["videos"] == [] and done["images"][0]["imageUrl"].endswith(".mp4")
    parsed = TaskResult.from_status(TaskStatus.model_validate(done))
    assert parsed.images == () and parsed.videos[0].video_url.endswith(".mp4")


async def test_workflows_can_be_registered_over_http(sim, http) -> None:
    """A simulator in its own process (``liblib-bot simulate``) is configured through ``/_sim/workflows``."""
    async with http.post(sim.base_url + "/_sim/workflows", json={"workflow_uuid": TEXT_UUID, "video": True}) as resp:
        assert resp.status == 200
    async with http.post(sim.base_url + "/_sim/workflows", json={"video": True}) as resp:
        assert resp.status == 400
    answer = await submit(http, sim, workflow_params())
    done = (await poll(http, sim, answer["data"]["generateUuid"], ep.COMFY_STATUS))[-1]
    assert len(done["videos"]) == 1
