"""LiblibClient against a small scripted loopback stub that checks every signature (liblib-api.md §2)."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import socket
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from bot.liblib import (
    AuditRejectedError,
    Family,
    GenerationFailedError,
    GenerationTimedOutError,
    GenerationWaitTimeoutError,
    LiblibAccessDeniedError,
    LiblibAuthError,
    LiblibClient,
    LiblibConcurrencyError,
    LiblibConnectionError,
    LiblibImageUnreachableError,
    LiblibInsufficientPointsError,
    LiblibInvalidParameterError,
    LiblibModelNotFoundError,
    LiblibPayloadTooLargeError,
    LiblibRateLimitError,
    LiblibResponseValidationError,
    LiblibSensitivePromptError,
    LiblibServerError,
    LiblibStatusError,
    LiblibTaskNotFoundError,
    LiblibTimeoutError,
    TaskStatus,
    endpoints,
    kontext_img2img,
    signing,
    star3_text2img,
)
from bot.settings import LiblibSettings

AK = "KIQMFXjHaobx7wqo9XvYKA-test_key"
SK = "KppKsn7ezZxhi6lIDjbo7YyVYzanSu2d"
AUTH_PARAMS = {"AccessKey", "Signature", "Timestamp", "SignatureNonce"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# --------------------------------------------------------------------------------------------------
# The stub
# --------------------------------------------------------------------------------------------------


@dataclass
class Recorded:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    at: float


def envelope(data: Any = None, *, code: int = 0, msg: str = "", status: int = 200, headers: Any = None) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response({"code": code, "msg": msg, "data": data}, status=status, headers=headers)

    return handler


def raw(body: bytes, *, status: int = 200, content_type: str = "application/json", headers: Any = None) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=body, status=status, content_type=content_type, headers=headers)

    return handler


def slow(seconds: float, then: Handler) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(seconds)  # a slow server is what the timeout tests are about
        return await then(request)

    return handler


def disconnect() -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.close()
        await asyncio.sleep(0.01)  # let the close reach the client before aiohttp could answer on this request
        return web.Response(status=200)

    return handler


def status_data(uuid: str, code: int, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "generateUuid": uuid,
        "generateStatus": code,
        "percentCompleted": extra.pop("percent", 0.0),
        "generateMsg": "",
        "pointsCost": 0,
        "accountBalance": 1000,
        "images": [],
    }
    data.update(extra)
    return data


@dataclass
class Stub:
    base_url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    scripts: dict[str, deque[Handler]] = field(default_factory=lambda: defaultdict(deque))
    statuses: dict[str, deque[dict[str, Any]]] = field(default_factory=lambda: defaultdict(deque))
    uploads: list[list[tuple[str, str | None, str | None, bytes]]] = field(default_factory=list)
    oss_script: deque[int] = field(default_factory=deque)
    files: dict[str, bytes] = field(default_factory=dict)
    file_script: deque[int] = field(default_factory=deque)
    chunked: set[str] = field(default_factory=set)
    uuid_counter: int = 0

    def script(self, path: str, *handlers: Handler) -> None:
        self.scripts[path].extend(handlers)

    def calls(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    def app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024 * 1024)  # uploads of up to 10 MB
        app.router.add_route("*", "/api/{tail:.*}", self.api)
        app.router.add_post("/oss", self.oss)
        app.router.add_get("/img/{name}", self.image)
        return app

    async def api(self, request: web.Request) -> web.StreamResponse:
        raw_body = await request.read()
        query = dict(request.query)
        if not query.keys() >= AUTH_PARAMS or query["AccessKey"] != AK:
            return web.json_response({"code": 401, "msg": "签名验证失败", "data": None})
        expected = signing.sign(request.path, SK, query["Timestamp"], query["SignatureNonce"])
        if query["Signature"] != expected:
            return web.json_response({"code": 401, "msg": "签名验证失败", "data": None})
        if request.method != "POST":
            return web.json_response({"code": 100000, "msg": f"Request method '{request.method}' is not supported"})
        body = json.loads(raw_body) if raw_body else None
        self.requests.append(Recorded(request.path, query, dict(request.headers), body, time.monotonic()))
        queue = self.scripts[request.path]
        if queue:
            return await queue.popleft()(request)
        return await self.default(request, body)

    async def default(self, request: web.Request, body: Any) -> web.StreamResponse:
        path = request.path
        if path in endpoints.SUBMIT_PATHS:
            self.uuid_counter += 1
            return web.json_response({"code": 0, "msg": "", "data": {"generateUuid": f"{self.uuid_counter:032x}"}})
        if path in endpoints.STATUS_PATHS:
            uuid = body["generateUuid"]
            script = self.statuses.get(uuid)
            if not script:
                return web.json_response({"code": 100051, "msg": f"生图任务不存在: {uuid}", "data": None})
            data = script.popleft() if len(script) > 1 else script[0]
            return web.json_response({"code": 0, "msg": "", "data": data})
        return web.json_response({"code": 100000, "msg": f"No static resource {path.lstrip('/')}.", "data": None})

    async def oss(self, request: web.Request) -> web.StreamResponse:
        parts: list[tuple[str, str | None, str | None, bytes]] = []
        reader = await request.multipart()
        async for part in reader:
            assert isinstance(part, aiohttp.BodyPartReader)
            parts.append((part.name or "", part.filename, part.headers.get("Content-Type"), await part.read()))
        self.uploads.append(parts)
        status = self.oss_script.popleft() if self.oss_script else 204
        if status == 204:
            key = next(value.decode() for name, _, _, value in parts if name == "key")
            self.files[key] = parts[-1][3]
            return web.Response(status=204)
        return web.Response(status=status, text="<Error><Code>AccessDenied</Code></Error>", content_type="text/xml")

    async def image(self, request: web.Request) -> web.StreamResponse:
        status = self.file_script.popleft() if self.file_script else 200
        name = request.match_info["name"]
        if status != 200 or name not in self.files:
            return web.Response(status=status if status != 200 else 404)
        data = self.files[name]
        if name in self.chunked:
            response = web.StreamResponse()
            response.enable_chunked_encoding()
            response.content_type = "image/png"
            await response.prepare(request)
            for i in range(0, len(data), 100):
                await response.write(data[i : i + 100])
            await response.write_eof()
            return response
        return web.Response(body=data, content_type="image/png")


class FakeSleep:
    """Records requested delays; returns at once (optionally advancing a fake clock)."""

    def __init__(self, clock: list[float] | None = None) -> None:
        self.delays: list[float] = []
        self.clock = clock
        self.hook: Callable[[], Awaitable[None]] | None = None

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        if self.clock is not None:
            self.clock[0] += delay
        if self.hook is not None:
            hook, self.hook = self.hook, None
            await hook()
        await asyncio.sleep(0)


def make_settings(base_url: str, **overrides: Any) -> LiblibSettings:
    values: dict[str, Any] = {
        "base_url": base_url,
        "access_key": SecretStr(AK),
        "secret_key": SecretStr(SK),
        "submit_per_second": 1000.0,
        "max_concurrent_tasks": 5,
        "connect_timeout": 2.0,
        "request_timeout": 5.0,
        "max_retries": 3,
        "retry_backoff_cap": 20.0,
        "poll_interval_min": 0.0,
        "poll_interval_max": 0.0,
    }
    values.update(overrides)
    return LiblibSettings(**values)


@pytest.fixture
async def stub() -> AsyncIterator[Stub]:
    stub = Stub()
    server = TestServer(stub.app(), host="127.0.0.1", port=0)
    await server.start_server()
    stub.base_url = str(server.make_url("")).rstrip("/")
    yield stub
    await server.close()


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


ClientFactory = Callable[..., Awaitable[LiblibClient]]


@pytest.fixture
async def make_client(stub: Stub, sleep: FakeSleep) -> AsyncIterator[ClientFactory]:
    clients: list[LiblibClient] = []

    async def factory(**overrides: Any) -> LiblibClient:
        client_sleep = overrides.pop("sleep", sleep)
        clock = overrides.pop("clock", time.monotonic)
        base_url = overrides.pop("base_url", stub.base_url)
        client = LiblibClient(make_settings(base_url, **overrides), sleep=client_sleep, clock=clock)
        await client.__aenter__()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.__aexit__(None, None, None)


def request() -> Any:
    return star3_text2img("a red fox in snow", img_count=2)


# --------------------------------------------------------------------------------------------------
# Auth and the envelope
# --------------------------------------------------------------------------------------------------


async def test_auth_rides_in_the_query_string_not_headers(stub: Stub, make_client: ClientFactory) -> None:
    client = await make_client()
    uuid = await client.submit(request())
    stub.statuses[uuid] = deque([status_data(uuid, 2)])
    await client.get_status(Family.STAR3, uuid)

    submit, status = stub.requests
    assert uuid == f"{1:032x}"
    assert submit.path == endpoints.STAR3_TEXT2IMG
    assert submit.body == request().to_body()
    assert status.path == endpoints.WEBUI_STATUS
    assert status.body == {"generateUuid": uuid}
    for recorded in (submit, status):
        assert set(recorded.query) == AUTH_PARAMS
        assert recorded.query["AccessKey"] == AK
        assert len(recorded.query["Timestamp"]) == 13
        lowered = {h.lower() for h in recorded.headers}
        assert not {"accesskey", "signature", "timestamp", "signaturenonce", "authorization"} & lowered
        assert recorded.headers["Content-Type"].startswith("application/json")
    assert submit.query["SignatureNonce"] != status.query["SignatureNonce"]


async def test_missing_keys_fail_before_any_request(stub: Stub, make_client: ClientFactory) -> None:
    client = await make_client(access_key=None)
    with pytest.raises(LiblibAuthError, match="not configured"):
        await client.get_status(Family.STAR3, "x")
    assert stub.requests == []


ENVELOPE_ERRORS = [
    (401, "签名验证失败", LiblibAuthError),
    (403, "访问拒绝", LiblibAccessDeniedError),
    (429, "请求过多，请稍后重试", LiblibRateLimitError),
    (100000, "参数无效: templateUuid", LiblibInvalidParameterError),
    (100021, "用户积分不足", LiblibInsufficientPointsError),
    (100030, "图片地址无法访问，或大小超出限制", LiblibImageUnreachableError),
    (100051, "生图任务不存在", LiblibTaskNotFoundError),
    (100052, "提示词中包含敏感内容", LiblibSensitivePromptError),
    (100054, "当前进行中任务数量已达到并发任务上限", LiblibConcurrencyError),
    (200000, "内部服务错误", LiblibServerError),
    (210000, "调用外部服务失败，请重试", LiblibServerError),
]


@pytest.mark.parametrize(("code", "msg", "error_type"), ENVELOPE_ERRORS, ids=[str(c[0]) for c in ENVELOPE_ERRORS])
async def test_envelope_codes_map_to_typed_errors(
    stub: Stub, make_client: ClientFactory, code: int, msg: str, error_type: type[LiblibStatusError]
) -> None:
    client = await make_client(max_retries=0)
    stub.script(endpoints.STAR3_TEXT2IMG, envelope(code=code, msg=msg))
    with pytest.raises(error_type) as info:
        await client.submit(request())
    error = info.value
    assert type(error) is error_type
    assert error.code == code
    assert error.status == 200
    assert error.path == endpoints.STAR3_TEXT2IMG
    assert msg in str(error)
    assert error.human
    assert error.human != LiblibStatusError.human
    assert len(stub.calls(endpoints.STAR3_TEXT2IMG)) == 1
    assert client.free_slots == 5
    assert client.active_tasks == 0


async def test_concurrency_code_on_submit_is_not_retried(
    stub: Stub, make_client: ClientFactory, sleep: FakeSleep
) -> None:
    client = await make_client(max_retries=4)
    stub.script(endpoints.STAR3_TEXT2IMG, envelope(code=100054, msg="当前进行中任务数量已达到并发任务上限"))
    with pytest.raises(LiblibConcurrencyError):
        await client.submit(request())
    assert len(stub.requests) == 1
    assert sleep.delays == []


async def test_http_error_status_with_envelope(stub: Stub, make_client: ClientFactory) -> None:
    client = await make_client(max_retries=0)
    stub.script(endpoints.WEBUI_STATUS, envelope(code=401, msg="签名验证失败", status=401))
    with pytest.raises(LiblibAuthError) as info:
        await client.get_status(Family.STAR3, "u")
    assert info.value.status == 401


# --------------------------------------------------------------------------------------------------
# Retries
# --------------------------------------------------------------------------------------------------


async def test_status_query_retries_then_succeeds(
    stub: Stub, make_client: ClientFactory, sleep: FakeSleep, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = await make_client(max_retries=6)
    uuid = "8dcbfa2997444899b71357ccb7db378b"
    stub.statuses[uuid] = deque([status_data(uuid, 2, percent=0.4)])
    stub.script(
        endpoints.WEBUI_STATUS,
        raw(b"<html>Bad Gateway</html>", status=500, content_type="text/html"),
        envelope(code=429, msg="请求过多，请稍后重试", status=429, headers={"Retry-After": "2"}),
        raw(b"this is not json"),
        raw(b'{"code":0,"msg":"","data":{"generateUuid":"8dcb'),
        envelope(code=429, msg="请求过多，请稍后重试"),
        envelope(code=210000, msg="调用外部服务失败，请重试"),
    )
    status = await client.get_status(Family.STAR3, uuid)
    assert status.generate_status == 2
    assert status.percent_completed == 0.4
    assert len(stub.calls(endpoints.WEBUI_STATUS)) == 7
    assert len(sleep.delays) == 6
    assert sleep.delays[1] == 2.0  # Retry-After honoured
    # every attempt was signed afresh
    assert len({r.query["SignatureNonce"] for r in stub.requests}) == 7
    # the client's logs never carry the signature, the key or the query (the stub's access log does)
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("bot."))
    assert "Signature" not in ours
    assert AK not in ours
    assert "?" not in ours
    assert endpoints.WEBUI_STATUS in ours


async def test_status_query_gives_up_after_max_retries(
    stub: Stub, make_client: ClientFactory, sleep: FakeSleep
) -> None:
    client = await make_client(max_retries=2)
    stub.script(endpoints.GENERIC_STATUS, *[raw(b"oops", status=503, content_type="text/plain")] * 3)
    with pytest.raises(LiblibServerError) as info:
        await client.get_status(Family.KONTEXT, "u")
    assert info.value.status == 503
    assert len(stub.requests) == 3
    assert len(sleep.delays) == 2


async def test_retry_after_is_capped(stub: Stub, make_client: ClientFactory, sleep: FakeSleep) -> None:
    client = await make_client(retry_backoff_cap=3.0)
    stub.statuses["u"] = deque([status_data("u", 1)])
    stub.script(endpoints.WEBUI_STATUS, envelope(code=429, msg="busy", status=429, headers={"Retry-After": "3600"}))
    await client.get_status(Family.STAR3, "u")
    assert sleep.delays == [3.0]


async def test_submit_timeout_after_reaching_server_is_not_resubmitted(
    stub: Stub, make_client: ClientFactory, sleep: FakeSleep
) -> None:
    client = await make_client(request_timeout=0.2, max_retries=3)
    stub.script(endpoints.STAR3_TEXT2IMG, slow(0.6, envelope({"generateUuid": "late"})))
    with pytest.raises(LiblibTimeoutError) as info:
        await client.submit(request())
    assert info.value.reached_server is True
    # submit() has returned and the client runs nothing in the background: a resubmit would have been sent
    # (and answered or timed out) within it.
    assert len(stub.calls(endpoints.STAR3_TEXT2IMG)) == 1
    assert sleep.delays == []
    assert client.active_tasks == 0


@pytest.mark.parametrize(
    ("handler", "error_type"),
    [
        pytest.param(raw(b"upstream died", status=502, content_type="text/plain"), LiblibServerError, id="5xx"),
        pytest.param(raw(b'{"code":0,"msg":"","da'), LiblibResponseValidationError, id="truncated"),
        pytest.param(envelope({"nothing": 1}), LiblibResponseValidationError, id="no-uuid"),
        pytest.param(envelope(code=200000, msg="内部服务错误"), LiblibServerError, id="200000"),
        pytest.param(disconnect(), LiblibConnectionError, id="disconnect"),
    ],
)
async def test_submit_not_retried_when_it_may_have_been_created(
    stub: Stub, make_client: ClientFactory, sleep: FakeSleep, handler: Handler, error_type: type[Exception]
) -> None:
    client = await make_client(max_retries=3)
    stub.script(endpoints.STAR3_TEXT2IMG, handler)
    with pytest.raises(error_type) as info:
        await client.submit(request())
    if isinstance(info.value, LiblibConnectionError):
        assert info.value.reached_server is True
    assert len(stub.calls(endpoints.STAR3_TEXT2IMG)) == 1
    assert sleep.delays == []
    assert client.free_slots == 5


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_submit_to_closed_port_is_retried(stub: Stub, make_client: ClientFactory, sleep: FakeSleep) -> None:
    port = _free_port()
    runner = web.AppRunner(stub.app())
    await runner.setup()

    async def start_server() -> None:  # the server comes up during the first backoff
        await web.TCPSite(runner, "127.0.0.1", port).start()

    sleep.hook = start_server
    client = await make_client(base_url=f"http://127.0.0.1:{port}")
    try:
        uuid = await client.submit(request())
    finally:
        await runner.cleanup()
    assert uuid == f"{1:032x}"
    assert len(sleep.delays) == 1
    assert len(stub.calls(endpoints.STAR3_TEXT2IMG)) == 1


async def test_submit_connect_errors_exhaust_attempts(make_client: ClientFactory, sleep: FakeSleep) -> None:
    client = await make_client(base_url=f"http://127.0.0.1:{_free_port()}", max_retries=2)
    with pytest.raises(LiblibConnectionError) as info:
        await client.submit(request())
    assert info.value.reached_server is False
    assert len(sleep.delays) == 2
    assert client.free_slots == 5


async def test_submit_429_is_retried(stub: Stub, make_client: ClientFactory, sleep: FakeSleep) -> None:
    client = await make_client()
    stub.script(
        endpoints.STAR3_TEXT2IMG,
        envelope(code=429, msg="请求太多，请稍后重试"),
        envelope(code=429, msg="Too Many Requests", status=429, headers={"Retry-After": "1"}),
    )
    uuid = await client.submit(request())
    assert uuid == f"{1:032x}"
    assert len(stub.calls(endpoints.STAR3_TEXT2IMG)) == 3
    assert len(sleep.delays) == 2
    assert sleep.delays[1] == 1.0


# --------------------------------------------------------------------------------------------------
# Rate limit and concurrency
# --------------------------------------------------------------------------------------------------


async def test_limiter_spaces_submits(stub: Stub, make_client: ClientFactory) -> None:
    client = await make_client(submit_per_second=20.0, max_concurrent_tasks=10)
    await asyncio.gather(*(client.submit(request()) for _ in range(5)))
    times = sorted(r.at for r in stub.calls(endpoints.STAR3_TEXT2IMG))
    assert len(times) == 5
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.035, gaps
    assert times[-1] - times[0] >= 4 * 0.05 * 0.9


async def test_status_queries_do_not_pass_the_limiter(stub: Stub, make_client: ClientFactory) -> None:
    client = await make_client(submit_per_second=1.0)
    uuid = await client.submit(request())
    stub.statuses[uuid] = deque([status_data(uuid, 2)])
    started = time.monotonic()
    await asyncio.gather(*(client.get_status(Family.STAR3, uuid) for _ in range(5)))
    assert time.monotonic() - started < 0.5


async def run_ready_tasks() -> None:
    """Let every task that could run (a waiter woken by a freed slot) run until it waits again or ends."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_third_submit_waits_for_a_terminal_status(stub: Stub, make_client: ClientFactory) -> None:
    client = await make_client(max_concurrent_tasks=2)
    first = await client.submit(request())
    second = await client.submit(request())
    assert client.active_tasks == 2
    assert client.free_slots == 0
    stub.statuses[first] = deque([status_data(first, 2), status_data(first, 5, images=[{"imageUrl": "u"}])])

    third = asyncio.create_task(client.submit(request()))
    capacity = asyncio.create_task(client.wait_for_capacity())
    await run_ready_tasks()
    assert not third.done()
    assert not capacity.done()
    assert client.active_tasks == 2  # the third submit never got past the slot wait: no request in flight
    assert len(stub.calls(endpoints.STAR3_TEXT2IMG)) == 2

    assert (await client.get_status(Family.STAR3, first)).generate_status == 2  # still running: no slot
    assert client.free_slots == 0
    await run_ready_tasks()
    assert not third.done()

    assert (await client.get_status(Family.STAR3, first)).is_terminal  # frees the slot
    assert await asyncio.wait_for(third, 2) == f"{3:032x}"
    assert client.active_tasks == 2
    assert len(stub.calls(endpoints.STAR3_TEXT2IMG)) == 3
    await run_ready_tasks()
    assert not capacity.done()  # the third submit took the freed slot

    client.release(second)
    client.release(second)  # idempotent
    await asyncio.wait_for(capacity, 2)
    assert client.active_tasks == 1
    assert client.free_slots == 1
    client.adopt("a")
    client.adopt("b")  # may exceed the cap, never blocks
    assert client.active_tasks == 3
    assert client.free_slots == 0


async def test_unknown_task_frees_its_slot(stub: Stub, make_client: ClientFactory) -> None:
    client = await make_client(max_retries=0)
    client.adopt("gone")
    with pytest.raises(LiblibTaskNotFoundError):
        await client.get_status(Family.STAR3, "gone")
    assert client.active_tasks == 0


# --------------------------------------------------------------------------------------------------
# wait_for
# --------------------------------------------------------------------------------------------------


async def test_wait_for_reports_progress_and_returns_audited_images(
    stub: Stub, make_client: ClientFactory, sleep: FakeSleep
) -> None:
    client = await make_client()
    uuid = await client.submit(kontext_img2img("watercolor", ["https://example.com/a.png"], img_count=3))
    images = [
        {"imageUrl": "https://cdn/a.png", "seed": 2228967414, "auditStatus": 3},
        {"imageUrl": "https://cdn/b.png", "seed": 5, "auditStatus": 4},
        {"imageUrl": "https://cdn/c.png", "seed": 6},
    ]
    stub.statuses[uuid] = deque(
        [
            status_data(uuid, 1),
            status_data(uuid, 2, percent=0.5),
            status_data(uuid, 3, percent=1.0),
            status_data(uuid, 4, percent=1.0),
            status_data(uuid, 5, percent=1.0, pointsCost=87, accountBalance=913, images=images),
        ]
    )
    seen: list[TaskStatus] = []

    async def on_progress(status: TaskStatus) -> None:
        seen.append(status)
        if len(seen) == 2:
            raise RuntimeError("a broken progress renderer must not stop polling")

    result = await client.wait_for(Family.KONTEXT, uuid, on_progress=on_progress)
    assert [s.generate_status for s in seen] == [1, 2, 3, 4]
    assert seen[1].progress == 0.5
    assert result.generate_uuid == uuid
    assert result.image_urls == ("https://cdn/a.png", "https://cdn/c.png")
    assert result.seeds == (2228967414, 6)
    assert result.points_cost == 87
    assert result.account_balance == 913
    assert result.blocked_count == 1
    assert {r.path for r in stub.requests[1:]} == {endpoints.GENERIC_STATUS}
    assert len(sleep.delays) == 4
    assert client.active_tasks == 0


@pytest.mark.parametrize(
    ("final", "error_type", "message"),
    [
        pytest.param(
            {"generateStatus": 6, "generateMsg": "模型加载失败"}, GenerationFailedError, "模型加载失败", id="6"
        ),
        pytest.param({"generateStatus": 7}, GenerationTimedOutError, "timed out", id="7"),
        pytest.param({"generateStatus": 5, "images": []}, AuditRejectedError, "audit", id="5-empty"),
        pytest.param(
            {"generateStatus": 5, "images": [{"imageUrl": "u", "auditStatus": 4}, {"imageUrl": "v", "auditStatus": 5}]},
            AuditRejectedError,
            "2 image(s) blocked",
            id="5-all-blocked",
        ),
    ],
)
async def test_wait_for_terminal_mapping(
    stub: Stub, make_client: ClientFactory, final: dict[str, Any], error_type: type[Exception], message: str
) -> None:
    client = await make_client()
    uuid = await client.submit(request())
    stub.statuses[uuid] = deque([status_data(uuid, 2), {**status_data(uuid, 0), **final}])
    with pytest.raises(error_type) as info:
        await client.wait_for(Family.STAR3, uuid)
    assert type(info.value) is error_type
    assert isinstance(info.value, GenerationFailedError)
    assert info.value.generate_uuid == uuid
    assert info.value.status == final["generateStatus"]
    assert message in str(info.value)
    assert client.active_tasks == 0


async def test_wait_for_gives_up_at_its_deadline(stub: Stub, make_client: ClientFactory) -> None:
    now = [1000.0]
    client = await make_client(
        sleep=FakeSleep(clock=now), clock=lambda: now[0], poll_interval_min=1.0, poll_interval_max=4.0
    )
    uuid = await client.submit(request())
    stub.statuses[uuid] = deque([status_data(uuid, 1)])
    with pytest.raises(GenerationWaitTimeoutError) as info:
        await client.wait_for(Family.STAR3, uuid, timeout=30)
    assert isinstance(info.value, GenerationTimedOutError)
    assert now[0] == pytest.approx(1030.0)
    assert client.active_tasks == 0


async def test_wait_for_polls_through_transient_errors_until_its_deadline(
    stub: Stub, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Status queries that keep failing (even after the retry policy) are polled again with backoff, within
    ``poll_interval_min``..``max``; the deadline then ends the wait like any other (GenerationWaitTimeoutError,
    its slot released), with the last error as its cause."""
    now = [1000.0]
    sleep = FakeSleep(clock=now)
    client = await make_client(
        sleep=sleep, clock=lambda: now[0], max_retries=0, poll_interval_min=1.0, poll_interval_max=4.0
    )
    uuid = await client.submit(request())
    stub.script(
        endpoints.WEBUI_STATUS,
        envelope(code=429, msg="请求过多，请稍后重试", status=429, headers={"Retry-After": "3"}),
        *[raw(b"<html>Bad Gateway</html>", status=502, content_type="text/html")] * 100,
    )
    with pytest.raises(GenerationWaitTimeoutError) as waited:
        await client.wait_for(Family.STAR3, uuid, timeout=30)
    assert isinstance(waited.value.__cause__, LiblibServerError)
    calls = len(stub.calls(endpoints.WEBUI_STATUS))
    assert calls == len(sleep.delays) + 1 > 8
    assert sleep.delays[0] == 3.0  # Retry-After honoured
    assert all(0.75 <= delay <= 4.0 for delay in sleep.delays)
    assert 1030.0 - 4.0 <= now[0] < 1030.0  # the next wait would have passed the deadline
    assert client.active_tasks == 0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "status query failed" in r.getMessage()]
    assert len(warnings) == calls - 1


@pytest.mark.parametrize("min_queries", [1, 4])
async def test_a_task_resumed_past_its_deadline_is_asked_min_queries_times_with_backoff(
    stub: Stub, make_client: ClientFactory, min_queries: int
) -> None:
    """Issue 17 #12: a task resumed after a downtime longer than its deadline (a 1 s wait left) that finished
    meanwhile: two failed status queries no longer end the wait when ``min_queries`` asks for more; the
    queries are spaced by the backoff rule and the third finds the result. Without it the first failure ends
    the wait (the 1 s left is shorter than the first backoff)."""
    now = [1000.0]
    sleep = FakeSleep(clock=now)
    client = await make_client(
        sleep=sleep, clock=lambda: now[0], max_retries=0, poll_interval_min=1.0, poll_interval_max=4.0
    )
    uuid = await client.submit(request())
    images = [{"imageUrl": "https://cdn/a.png", "seed": 1, "auditStatus": 3}]
    stub.statuses[uuid] = deque([status_data(uuid, 5, percent=1.0, pointsCost=8, images=images)])
    bad_gateway = raw(b"<html>Bad Gateway</html>", status=502, content_type="text/html")
    stub.script(endpoints.WEBUI_STATUS, bad_gateway, bad_gateway)
    if min_queries == 1:
        with pytest.raises(GenerationWaitTimeoutError):
            await client.wait_for(Family.STAR3, uuid, timeout=1.0, min_queries=min_queries)
        assert len(stub.calls(endpoints.WEBUI_STATUS)) == 1
        return
    result = await client.wait_for(Family.STAR3, uuid, timeout=1.0, min_queries=min_queries)
    assert result.image_urls == ("https://cdn/a.png",)
    assert len(stub.calls(endpoints.WEBUI_STATUS)) == 3
    assert sleep.delays[0] == 1.0  # poll_interval_min, then doubling (less up to 25 % jitter)
    assert 1.5 <= sleep.delays[1] <= 2.0


async def test_a_task_still_running_past_its_deadline_is_given_up_after_min_queries(
    stub: Stub, make_client: ClientFactory
) -> None:
    now = [1000.0]
    sleep = FakeSleep(clock=now)
    client = await make_client(sleep=sleep, clock=lambda: now[0], poll_interval_min=1.0, poll_interval_max=4.0)
    uuid = await client.submit(request())
    stub.statuses[uuid] = deque([status_data(uuid, 2)])
    with pytest.raises(GenerationWaitTimeoutError):
        await client.wait_for(Family.STAR3, uuid, timeout=0.5, min_queries=4)
    assert len(stub.calls(endpoints.WEBUI_STATUS)) == 4
    assert sleep.delays[0] == 0.5  # up to the deadline, then backoff: never a spin
    assert all(delay >= 1.0 for delay in sleep.delays[1:])
    assert client.active_tasks == 0


async def test_a_zero_retry_after_on_the_status_route_does_not_make_polling_spin(
    stub: Stub, make_client: ClientFactory
) -> None:
    """``Retry-After: 0`` (or a date already past) still waits ``poll_interval_min`` between status queries."""
    now = [1000.0]
    sleep = FakeSleep(clock=now)
    client = await make_client(
        sleep=sleep, clock=lambda: now[0], max_retries=0, poll_interval_min=1.0, poll_interval_max=4.0
    )
    uuid = await client.submit(request())
    limited = envelope(code=429, msg="请求过多，请稍后重试", status=429, headers={"Retry-After": "0"})
    stub.script(endpoints.WEBUI_STATUS, *[limited] * 100)
    with pytest.raises(GenerationWaitTimeoutError):
        await client.wait_for(Family.STAR3, uuid, timeout=10)
    assert sleep.delays and min(sleep.delays) >= 1.0
    assert len(stub.calls(endpoints.WEBUI_STATUS)) <= 11


async def test_wait_for_polls_on_after_transient_errors(stub: Stub, make_client: ClientFactory) -> None:
    client = await make_client(max_retries=0)
    uuid = await client.submit(request())
    images = [{"imageUrl": "https://cdn/a.png", "seed": 1, "auditStatus": 3}]
    stub.statuses[uuid] = deque([status_data(uuid, 2), status_data(uuid, 5, percent=1.0, images=images)])
    stub.script(
        endpoints.WEBUI_STATUS,
        raw(b"this is not json"),
        envelope(code=210000, msg="调用外部服务失败，请重试"),
        disconnect(),
    )
    result = await client.wait_for(Family.STAR3, uuid)
    assert result.image_urls == ("https://cdn/a.png",)
    assert len(stub.calls(endpoints.WEBUI_STATUS)) == 5
    assert client.active_tasks == 0


@pytest.mark.parametrize(
    ("handler", "error_type"),
    [
        pytest.param(envelope(code=401, msg="签名验证失败"), LiblibAuthError, id="auth"),
        pytest.param(envelope(code=100000, msg="参数无效"), LiblibInvalidParameterError, id="invalid"),
    ],
)
async def test_wait_for_raises_other_errors_at_once(
    stub: Stub, make_client: ClientFactory, handler: Handler, error_type: type[Exception]
) -> None:
    client = await make_client()
    uuid = await client.submit(request())
    stub.script(endpoints.WEBUI_STATUS, handler)
    with pytest.raises(error_type):
        await client.wait_for(Family.STAR3, uuid, timeout=30)
    assert len(stub.calls(endpoints.WEBUI_STATUS)) == 1


async def test_estimated_duration_and_wait(stub: Stub, make_client: ClientFactory) -> None:
    """30 s per task before any finished, shared by the account's slots; then what finished tasks took."""
    now = [1000.0]
    client = await make_client(
        sleep=FakeSleep(clock=now), clock=lambda: now[0], poll_interval_min=1.0, poll_interval_max=4.0
    )
    assert client.estimated_duration() == 30.0
    assert client.estimated_duration(Family.STAR3) == 30.0
    assert client.estimated_wait(1) == 6.0  # 5 slots
    assert client.estimated_wait(10) == 60.0

    uuid = await client.submit(request())
    images = [{"imageUrl": "https://cdn/a.png", "seed": 1, "auditStatus": 3}]
    stub.statuses[uuid] = deque([status_data(uuid, 2), status_data(uuid, 5, percent=1.0, images=images)])
    await client.wait_for(Family.STAR3, uuid)
    # seen running at 1000, done at 1001 (one poll_interval_min later): it ended in between
    assert client.estimated_duration(Family.STAR3) == 0.5
    assert client.estimated_duration(Family.KONTEXT) == 0.5  # no Kontext task yet: the overall figure
    assert client.estimated_duration() == 0.5
    assert client.estimated_wait(5) == 0.5

    for n in range(7):  # resumed tasks may hold more slots than the cap: positions share them all
        client.adopt(f"resumed-{n}")
    assert client.free_slots == 0
    assert client.estimated_wait(7) == 0.5


# --------------------------------------------------------------------------------------------------
# Upload, model version, download
# --------------------------------------------------------------------------------------------------


def _signature(stub: Stub, *, lower: bool = False) -> dict[str, Any]:
    prefix = "xoss" if lower else "xOss"
    return {
        "key": "aliyun-cn-prod/a0d9244a5ea14465955faf6b178240b8.png",
        "policy": "eyJleHBpcmF0aW9uIjoi",
        "postUrl": f"{stub.base_url}/oss",
        f"{prefix}Date": "20250409T134329Z",
        f"{prefix}Expires": 3600,
        f"{prefix}Signature": "ab" * 32,
        f"{prefix}Credential": "AK/20250409/cn-beijing/oss/aliyun_v4_request",
        f"{prefix}SignatureVersion": "OSS4-HMAC-SHA256",
    }


@pytest.mark.parametrize("lower", [False, True], ids=["xOssDate", "xossDate"])
async def test_upload_flow(stub: Stub, make_client: ClientFactory, lower: bool) -> None:
    client = await make_client()
    stub.script(endpoints.UPLOAD_SIGNATURE, envelope(_signature(stub, lower=lower)))
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    url = await client.upload_image(png, "my cat.PNG", "image/png")

    assert url == f"{stub.base_url}/oss/aliyun-cn-prod/a0d9244a5ea14465955faf6b178240b8.png"
    assert stub.calls(endpoints.UPLOAD_SIGNATURE)[0].body == {"name": "my cat", "extension": "png"}
    (parts,) = stub.uploads
    assert [p[0] for p in parts] == [
        "key",
        "policy",
        "x-oss-date",
        "x-oss-expires",
        "x-oss-signature",
        "x-oss-credential",
        "x-oss-signature-version",
        "file",
    ]
    fields = {name: value.decode() for name, _, _, value in parts[:-1]}
    assert fields["x-oss-date"] == "20250409T134329Z"
    assert fields["x-oss-expires"] == "3600"
    assert parts[-1][1] == "my cat.png"
    assert parts[-1][2] == "image/png"
    assert parts[-1][3] == png
    assert stub.files["aliyun-cn-prod/a0d9244a5ea14465955faf6b178240b8.png"] == png


async def test_upload_retries_storage_5xx_but_not_403(stub: Stub, make_client: ClientFactory, sleep: FakeSleep) -> None:
    client = await make_client()
    stub.script(endpoints.UPLOAD_SIGNATURE, envelope(_signature(stub)), envelope(_signature(stub)))
    stub.oss_script.extend([500, 204])
    await client.upload_image(b"\xff\xd8\xff" + b"0" * 100, "photo", "image/jpeg")
    assert len(stub.uploads) == 2
    assert len(sleep.delays) == 1
    assert stub.calls(endpoints.UPLOAD_SIGNATURE)[0].body == {"name": "photo", "extension": "jpg"}

    stub.oss_script.append(403)
    with pytest.raises(LiblibStatusError) as info:
        await client.upload_image(b"\x89PNG", "x.png", "image/png")
    assert info.value.status == 403
    assert "AccessDenied" in str(info.value)
    assert len(stub.uploads) == 3


async def test_upload_sends_a_file_at_the_limit_whole_on_every_attempt(
    stub: Stub, make_client: ClientFactory, sleep: FakeSleep
) -> None:
    """A 10 MB upload is streamed (aiohttp warns that a bytes body over 1 MB may block the event loop; this
    suite turns warnings into errors, as it did for every upload over 1 MB)."""
    client = await make_client()
    stub.script(endpoints.UPLOAD_SIGNATURE, envelope(_signature(stub)))
    stub.oss_script.extend([500, 204])
    data = b"\xff\xd8\xff" + bytes(range(256)) * (endpoints.MAX_INPUT_IMAGE_BYTES // 256 - 1)
    assert 1024 * 1024 < len(data) <= endpoints.MAX_INPUT_IMAGE_BYTES
    await client.upload_image(data, "holiday", "image/jpeg")
    assert [parts[-1][3] for parts in stub.uploads] == [data, data]


@pytest.mark.parametrize(
    ("data", "filename", "content_type", "message"),
    [
        (b"GIF89a", "anim.gif", "image/gif", "only jpg, jpeg and png"),
        (b"x" * (10 * 1024 * 1024 + 1), "big.png", "image/png", "the limit is 10 MB"),
    ],
)
async def test_upload_refuses_bad_input_before_any_request(
    stub: Stub, make_client: ClientFactory, data: bytes, filename: str, content_type: str, message: str
) -> None:
    client = await make_client()
    with pytest.raises(ValueError, match=message):
        await client.upload_image(data, filename, content_type)
    assert stub.requests == []


async def test_model_version_enveloped_camel_case(stub: Stub, make_client: ClientFactory) -> None:
    client = await make_client()
    stub.script(
        endpoints.MODEL_VERSION,
        envelope(
            {
                "versionUuid": "21df5d84cca74f7a885ba672b5a80d19",
                "modelName": "AWPortrait XL",
                "versionName": "v1.1",
                "baseAlgo": "基础算法 XL",
                "commercialUse": 1,
                "showType": 1,
                "modelUrl": "https://www.liblib.art/modelinfo/x",
            }
        ),
    )
    version = await client.get_model_version("21df5d84cca74f7a885ba672b5a80d19")
    assert stub.requests[0].body == {"versionUuid": "21df5d84cca74f7a885ba672b5a80d19"}
    assert version.model_name == "AWPortrait XL"
    assert version.base_algo == "基础算法 XL"
    assert version.commercial_use is True


async def test_model_version_bare_snake_case(stub: Stub, make_client: ClientFactory) -> None:
    client = await make_client()
    bare = {
        "version_uuid": "v",
        "model_name": "m",
        "version_name": "n",
        "baseAlgo": "基础算法 v1.5",
        "show_type": "1",
        "commercial_use": "0",
        "model_url": "https://www.liblib.art/modelinfo/v",
    }
    stub.script(endpoints.MODEL_VERSION, raw(json.dumps(bare).encode()))
    version = await client.get_model_version("v")
    assert (version.version_uuid, version.model_name, version.base_algo) == ("v", "m", "基础算法 v1.5")
    assert version.commercial_use is False


@pytest.mark.parametrize(
    "handler",
    [
        pytest.param(envelope(code=200001, msg="model.notExist"), id="200001"),
        pytest.param(raw(json.dumps({"message": "未找到与x对应的模型"}).encode(), status=404), id="bare-404"),
        pytest.param(
            raw(json.dumps({"message": "x不在API目前支持的baseAlgo范围内"}).encode(), status=400), id="bare-400"
        ),
        pytest.param(raw(json.dumps({"message": "未找到与x对应的模型"}).encode()), id="bare-200"),
    ],
)
async def test_model_version_not_found(stub: Stub, make_client: ClientFactory, handler: Handler) -> None:
    client = await make_client()
    stub.script(endpoints.MODEL_VERSION, handler)
    with pytest.raises(LiblibModelNotFoundError) as info:
        await client.get_model_version("x")
    assert isinstance(info.value, LiblibInvalidParameterError)
    assert len(stub.requests) == 1


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_download_size_cap(stub: Stub, make_client: ClientFactory, chunked: bool) -> None:
    client = await make_client()
    stub.files["big.png"] = bytes(1000)
    if chunked:
        stub.chunked.add("big.png")
    url = f"{stub.base_url}/img/big.png"
    assert await client.download(url, max_bytes=1000) == bytes(1000)
    with pytest.raises(LiblibPayloadTooLargeError):
        await client.download(url, max_bytes=999)


async def test_download_retries_transient_errors_only(stub: Stub, make_client: ClientFactory, sleep: FakeSleep) -> None:
    client = await make_client()
    stub.files["a.png"] = b"\x89PNG data"
    stub.file_script.extend([503, 429])
    assert await client.download(f"{stub.base_url}/img/a.png", max_bytes=1 << 20) == b"\x89PNG data"
    assert len(sleep.delays) == 2
    with pytest.raises(LiblibStatusError) as info:
        await client.download(f"{stub.base_url}/img/expired.png", max_bytes=1 << 20)
    assert info.value.status == 404
    assert len(sleep.delays) == 2


# --------------------------------------------------------------------------------------------------
# Session ownership
# --------------------------------------------------------------------------------------------------


async def test_owned_session_is_closed_injected_one_is_not(stub: Stub) -> None:
    settings = make_settings(stub.base_url)
    async with LiblibClient(settings) as client:
        owned = client._session
        assert owned is not None
        assert client.simulated is False
    assert owned.closed
    simulated = LiblibClient(settings, simulated=True)
    assert simulated.simulated
    with pytest.raises(AttributeError):
        simulated.simulated = False  # type: ignore[misc]

    async with aiohttp.ClientSession() as session:
        async with LiblibClient(settings, session=session) as client:
            stub.statuses["u"] = deque([status_data("u", 2)])
            await client.get_status(Family.STAR3, "u")
        assert not session.closed


async def test_client_must_be_opened(stub: Stub) -> None:
    client = LiblibClient(make_settings(stub.base_url))
    with pytest.raises(RuntimeError, match="async with"):
        await client.get_status(Family.STAR3, "u")


async def test_the_simulator_tag_on_an_answer_makes_the_client_simulated(stub: Stub) -> None:
    """The real API never sends ``X-Liblib-Simulator``; a client that sees it on any answer is simulated."""
    async with LiblibClient(make_settings(stub.base_url)) as client:
        stub.statuses["u"] = deque([status_data("u", 2)])
        await client.get_status(Family.STAR3, "u")
        assert client.simulated is False  # an untagged answer changes nothing
        stub.script(endpoints.WEBUI_STATUS, envelope(status_data("u", 2), headers={endpoints.SIMULATOR_HEADER: "1"}))
        await client.get_status(Family.STAR3, "u")
        assert client.simulated is True
        await client.get_status(Family.STAR3, "u")  # untagged again: once seen, it stays
        assert client.simulated is True


async def test_a_tagged_error_answer_also_counts(stub: Stub) -> None:
    async with LiblibClient(make_settings(stub.base_url)) as client:
        stub.script(endpoints.WEBUI_STATUS, envelope(code=100051, msg="x", headers={endpoints.SIMULATOR_HEADER: "1"}))
        with pytest.raises(LiblibTaskNotFoundError):
            await client.get_status(Family.STAR3, "u")
        assert client.simulated is True


async def test_detect_simulator_asks_base_url_without_signing(stub: Stub) -> None:
    async with LiblibClient(make_settings(stub.base_url)) as client:
        assert await client.detect_simulator() is False  # LiblibAI-like: no tag
        assert stub.requests == []
    async with LiblibClient(make_settings(f"http://127.0.0.1:{_free_port()}")) as client:
        assert await client.detect_simulator() is False  # unreachable: unknown, and no error
