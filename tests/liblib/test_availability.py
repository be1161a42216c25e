"""bot/liblib/availability.py and the simulator's "not served" switch: unserved routes are told apart from
served ones without spending points, and a mode found unserved is refused for a cool-off."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.liblib import LiblibClient
from bot.liblib import endpoints as ep
from bot.liblib import models as lm
from bot.liblib.availability import ModeAvailability, probe_routes
from bot.liblib.envelope import decode_envelope
from bot.liblib.errors import (
    LiblibAuthError,
    LiblibInvalidParameterError,
    LiblibRouteNotServedError,
    LiblibStatusError,
    error_for_code,
)
from bot.liblib.signing import signed_query
from bot.liblib.simulator import DEV_ACCESS_KEY, DEV_SECRET_KEY, Simulator
from bot.settings import LiblibSettings, SimulatorSettings

FAST = SimulatorSettings(port=0, queued_seconds=0.02, running_seconds=0.05, auditing_seconds=0.02)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(FAST, submit_per_second=50.0) as simulator:
        yield simulator


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[LiblibClient]:
    settings = LiblibSettings(
        base_url=sim.base_url, access_key=DEV_ACCESS_KEY, secret_key=DEV_SECRET_KEY, submit_per_second=50.0
    )
    async with LiblibClient(settings) as c:
        yield c


# -- the answers and their errors ----------------------------------------------------------------------


def test_the_not_served_envelope_and_a_bare_404_are_route_not_served() -> None:
    envelope = error_for_code(100000, "No static resource api/generate/webui/text2img/ultra.")
    assert isinstance(envelope, LiblibRouteNotServedError)
    assert type(error_for_code(100000, "参数无效: templateUuid")) is LiblibInvalidParameterError
    with pytest.raises(LiblibRouteNotServedError):
        decode_envelope("/api/x", 404, b'{"status":404,"error":"Not Found"}', None, allow_bare=False)
    with pytest.raises(LiblibRouteNotServedError):
        decode_envelope("/api/x", 404, b"", None, allow_bare=False)
    with pytest.raises(LiblibRouteNotServedError):  # the envelope under an HTTP 404
        decode_envelope("/api/x", 404, b'{"code":100000,"msg":"No static resource api/x."}', None, allow_bare=False)
    # The model route's bare 404 with a message means "unknown model", not "no route".
    with pytest.raises(LiblibStatusError) as caught:
        decode_envelope("/api/model/version/get", 404, b'{"message":"not found"}', None, allow_bare=True)
    assert type(caught.value) is LiblibStatusError


# -- the simulator's switch ----------------------------------------------------------------------------


async def post(sim: Simulator, path: str, body: object, *, signed: bool = True) -> tuple[int, dict]:
    query = signed_query(path, DEV_ACCESS_KEY, DEV_SECRET_KEY) if signed else {}
    async with aiohttp.ClientSession() as http, http.post(sim.base_url + path, params=query, json=body) as resp:
        return resp.status, await resp.json(content_type=None)


async def test_a_switched_off_route_answers_like_an_unknown_one_before_anything_runs(sim: Simulator) -> None:
    body = {"templateUuid": ep.TEMPLATE_STAR3_TEXT2IMG, "generateParams": {"prompt": "a fox", "aspectRatio": "square"}}
    sim.stop_serving(ep.STAR3_TEXT2IMG)
    not_served = {"code": 100000, "msg": "No static resource api/generate/webui/text2img/ultra.", "data": None}
    assert await post(sim, ep.STAR3_TEXT2IMG, body) == (200, not_served)
    assert await post(sim, ep.STAR3_TEXT2IMG, body, signed=False) == (200, not_served)  # before the signature
    sim.stop_serving(ep.STAR3_TEXT2IMG, http_404=True)
    status, answer = await post(sim, ep.STAR3_TEXT2IMG, body)
    assert status == 404 and "code" not in answer
    assert (sim.counters.submits, sim.balance()) == (0, sim.initial_balance)
    sim.serve(ep.STAR3_TEXT2IMG)
    status, answer = await post(sim, ep.STAR3_TEXT2IMG, body)
    assert status == 200 and answer["code"] == 0 and sim.counters.submits == 1


async def test_the_switch_over_http(sim: Simulator) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{sim.base_url}/_sim/routes", json={"path": ep.KONTEXT_TEXT2IMG}) as resp:
            assert (await resp.json())["ok"]
        assert (await post(sim, ep.KONTEXT_TEXT2IMG, {}))[1]["msg"].startswith("No static resource")
        async with http.post(f"{sim.base_url}/_sim/routes", json={"path": ep.KONTEXT_TEXT2IMG, "served": True}):
            pass
    assert (await post(sim, ep.KONTEXT_TEXT2IMG, {}))[1]["code"] == 100050


@pytest.mark.parametrize("path", sorted(ep.SUBMIT_PATHS))
async def test_an_empty_body_on_a_served_route_is_refused_by_validation_before_any_charge(
    sim: Simulator, path: str
) -> None:
    status, answer = await post(sim, path, {})
    assert (status, answer["code"]) == (200, 100050)
    assert (sim.counters.submits, sim.balance()) == (0, sim.initial_balance)


# -- probing ---------------------------------------------------------------------------------------------


async def test_probe_tells_served_from_not_served_at_no_cost(sim: Simulator, client: LiblibClient) -> None:
    sim.stop_serving(ep.STAR3_TEXT2IMG)
    sim.stop_serving(ep.STAR3_IMG2IMG, http_404=True)
    paths = [ep.STAR3_TEXT2IMG, ep.STAR3_IMG2IMG, ep.KONTEXT_TEXT2IMG, ep.WEBUI_TEXT2IMG, "/api/generate/nowhere"]
    served = await probe_routes(client, [*paths, ep.KONTEXT_TEXT2IMG])  # a repeat is asked once
    assert served == {
        ep.STAR3_TEXT2IMG: False,
        ep.STAR3_IMG2IMG: False,
        ep.KONTEXT_TEXT2IMG: True,
        ep.WEBUI_TEXT2IMG: True,
        "/api/generate/nowhere": False,
    }
    assert sim.counters.submit_requests == 2  # the two served routes; unserved ones count nothing
    assert (sim.counters.submits, sim.balance()) == (0, sim.initial_balance)


async def test_probe_raises_what_says_nothing_about_the_route(sim: Simulator) -> None:
    settings = LiblibSettings(base_url=sim.base_url, access_key=DEV_ACCESS_KEY, secret_key="wrong")
    async with LiblibClient(settings) as client:
        with pytest.raises(LiblibAuthError):
            await client.probe_route(ep.KONTEXT_TEXT2IMG)


async def test_a_submit_to_an_unserved_route_raises_route_not_served(sim: Simulator, client: LiblibClient) -> None:
    sim.stop_serving(ep.STAR3_TEXT2IMG)
    with pytest.raises(LiblibRouteNotServedError) as caught:
        await client.submit(lm.star3_text2img("a fox", aspect_ratio="square"))
    assert caught.value.path == ep.STAR3_TEXT2IMG
    assert client.active_tasks == 0  # the slot came back


# -- the cool-off ---------------------------------------------------------------------------------------


def test_a_marked_mode_is_unavailable_for_the_cool_off_then_tried_again(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    modes = ModeAvailability(60.0, clock=lambda: now[0])
    assert modes.is_available("star3") and modes.states() == {}
    with caplog.at_level(logging.WARNING, logger="bot.liblib.availability"):
        assert modes.mark_unavailable("star3", route=ep.STAR3_TEXT2IMG)
        assert not modes.mark_unavailable("star3")  # already marked: no second warning, no extension
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "star3" in caplog.records[0].getMessage() and ep.STAR3_TEXT2IMG in caplog.records[0].getMessage()
    assert not modes.is_available("star3") and modes.is_available("kontext-pro")
    assert modes.states() == {"star3": True} and modes.retry_in("star3") == 60.0
    now[0] += 59.0
    assert not modes.is_available("star3")
    now[0] += 1.0
    assert modes.is_available("star3") and modes.states() == {"star3": False} and modes.retry_in("star3") is None
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bot.liblib.availability"):
        assert modes.mark_unavailable("star3")  # a new marking after the cool-off: warned again
    assert len(caplog.records) == 1
