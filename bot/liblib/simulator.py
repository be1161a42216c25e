"""A local aiohttp server that behaves like the LiblibAI open API (liblib-api.md §12).

Used by the bot's offline mode and by every test and benchmark. It verifies signatures (§2.4), enforces
the per-AccessKey submit QPS and concurrent-task cap (§9), validates parameters (§5), runs each task
through statuses 1→2→3→4→5 in real time, renders real PNGs, fetches input images like the real service,
and stands in for the OSS upload (§7). Faults and task outcomes can be injected from tests or over HTTP
(``/_sim/*``, unauthenticated, simulator only).

Choices where the real service is unknown, kept deliberately:
* Each family is only served by its own status route (webui tasks on ``/webui/status``, Kontext on
  ``/api/generate/status``); any other status route answers 100051, so a client polling the wrong
  route fails loudly here.
* The submit QPS token is spent by every submit that passes the rate gate, even one later refused for
  its parameters: the gateway counts requests, not tasks.
* Injected "timeout" and "truncated" faults on a submit still create the task (the request was
  processed, the answer was lost or cut); "malformed", "429", "5xx" and the code faults do not.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import aiohttp
from aiohttp import web

from bot.liblib import endpoints as ep
from bot.liblib._sim_images import probe_image, render_png
from bot.liblib._sim_oss import EXTENSIONS, OssStore
from bot.liblib._sim_tasks import SimCounters, SimImage, SimTask, TaskBook
from bot.liblib._sim_validate import MSG_INCOMPLETE, Rejection, SubmitKind, classify, invalid, source_urls
from bot.liblib._sim_validate import validate as validate_params
from bot.liblib.signing import sign
from bot.settings import SimulatorSettings

__all__ = [
    "DEV_ACCESS_KEY",
    "DEV_SECRET_KEY",
    "FAULTS",
    "OUTCOMES",
    "SENSITIVE_WORD",
    "SimCounters",
    "SimImage",
    "SimTask",
    "Simulator",
    "run_forever",
]

log = logging.getLogger(__name__)

DEV_ACCESS_KEY = "sim-access-key"
DEV_SECRET_KEY = "sim-secret-key"  # noqa: S105 - a published dev key, only valid here

FAULTS = frozenset(
    {"429", "500", "502", "timeout", "slow", "malformed", "truncated", "100054", "100021", "100052", "401", "403"}
)
FAULT_ROUTES = frozenset({"submit", "status", "image", "any"})  # "any": every API route, not result images
OUTCOMES = frozenset({"failed", "audit_reject", "timeout", "partial_audit", "sensitive_prompt"})

MSG_AUTH = "签名验证失败"
MSG_FORBIDDEN = "访问拒绝"
MSG_RATE = "请求过多，请稍后重试"
MSG_CONCURRENCY = "当前进行中任务数量已达到并发任务上限"
MSG_POINTS = "用户积分不足"
MSG_SENSITIVE = "提示词中包含敏感内容"
MSG_UNREACHABLE = "图片地址无法访问，或大小超出限制"
MSG_BAD_IMAGE = "图片包含违规内容"
SENSITIVE_WORD = "forbidden-word"  # deterministic hook: any prompt containing it answers 100052

_TIMESTAMP_WINDOW_MS = 300_000
_NONCE_TTL = 300.0
_RATE_JITTER = 0.03  # timer jitter a client's 1/s limiter may show
_FETCH_TIMEOUT = 10.0
_DEFAULT_FAULT_SLEEP = 30.0
_DEFAULT_POINTS = {"star3": 8, "custom": 8, "kontext-pro": 29, "kontext-max": 58}
_HTML_ERRORS = {500: "500 Internal Server Error", 502: "502 Bad Gateway"}
# A few real checkpoints (liblib-api.md §5.6): versionUuid -> (modelName, versionName, baseAlgo).
_MODELS: dict[str, tuple[str, str, str]] = {
    "412b427ddb674b4dbab9e5abd5ae6057": ("F.1-dev-fp8", "F.1-dev-fp8", "基础算法 F.1"),
    "0ea388c7eb854be3ba3c6f65aac6bfd3": ("Dream Tech XL | 筑梦工业XL", "v6", "基础算法 XL"),
    "21df5d84cca74f7a885ba672b5a80d19": ("AWPortrait XL", "1.1", "基础算法 XL"),
    "75e0be0c93b34dd8baeec9c968013e0c": ("Qwen-Image", "v1", "基础算法 Qwen"),
}


@dataclass(slots=True)
class _Fault:
    name: str
    route: str
    remaining: int
    value: float | None


@dataclass(frozen=True, slots=True)
class _Reply:
    code: int
    msg: str = ""
    data: object = None
    headers: dict[str, str] | None = None


class _RateGate:
    """Per-key token bucket of capacity 1: a request sooner than 1/rate after the last admitted one is refused."""

    def __init__(self, per_second: float) -> None:
        if per_second <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / per_second
        self._last: dict[str, float] = {}

    def admit(self, key: str, now: float) -> bool:
        last = self._last.get(key)
        if last is not None and now - last < self.interval - _RATE_JITTER:
            return False
        self._last[key] = now
        return True


class Simulator:
    """The simulated LiblibAI API. Use ``async with Simulator(...) as sim`` or ``start()``/``stop()``."""

    def __init__(
        self,
        settings: SimulatorSettings | None = None,
        *,
        accounts: dict[str, str] | None = None,
        submit_per_second: float = 1.0,
        max_concurrent: int = 5,
        points_per_image: dict[str, int] | None = None,
        initial_balance: int = 100_000,
    ) -> None:
        self.settings = settings or SimulatorSettings()
        self._accounts = dict(accounts) if accounts is not None else {DEV_ACCESS_KEY: DEV_SECRET_KEY}
        self.max_concurrent = max_concurrent
        self.points_per_image = {**_DEFAULT_POINTS, **(points_per_image or {})}
        self.initial_balance = initial_balance
        self.counters = SimCounters()
        self._submit_gate = _RateGate(submit_per_second)
        self._status_gate = _RateGate(self.settings.status_qps) if self.settings.status_qps else None
        durations = (self.settings.queued_seconds, self.settings.running_seconds, self.settings.auditing_seconds)
        self._book = TaskBook(self.counters, initial_balance, durations)
        self._nonces: dict[str, OrderedDict[str, float]] = {}
        self._faults: list[_Fault] = []
        self._outcomes: deque[str] = deque()
        self._oss = OssStore(on_upload=self._count_upload)
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self._stopping = asyncio.Event()
        self._base_url = ""
        self.app = self._build_app()

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running server (no trailing slash)."""
        if not self._base_url:
            raise RuntimeError("the simulator is not started")
        return self._base_url

    async def start(self, host: str | None = None, port: int | None = None) -> None:
        """Listen on ``host:port`` (defaults from settings; port 0 picks a free one)."""
        if self._runner is not None:
            raise RuntimeError("the simulator is already started")
        host = host or self.settings.host
        port = self.settings.port if port is None else port
        self._stopping = asyncio.Event()
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=_FETCH_TIMEOUT))
        # No access log: it would write the signed query string.
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:
            await runner.cleanup()
            await self._http.close()
            self._http = None
            raise
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        if bound_host in ("0.0.0.0", "::"):  # noqa: S104 - mapping a wildcard bind to a usable URL
            bound_host = "127.0.0.1"
        elif ":" in bound_host:
            bound_host = f"[{bound_host}]"
        self._base_url = f"http://{bound_host}:{bound_port}"
        log.info("LiblibAI simulator listening on %s", self._base_url)

    async def stop(self) -> None:
        """Stop serving; requests held by "timeout"/"slow" faults are answered at once."""
        self._stopping.set()
        self._book.cancel_timers()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._http is not None:
            await self._http.close()
            self._http = None
        self._base_url = ""

    async def __aenter__(self) -> Self:
        await self.start("127.0.0.1", self.settings.port)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # ------------------------------------------------------------------ test controls

    def inject(self, fault: str, *, count: int = 1, route: str = "submit", value: float | None = None) -> None:
        """Answer the next ``count`` matching authenticated requests with ``fault`` (see FAULTS).

        ``route="image"`` targets result-image downloads (unauthenticated GETs) instead of API calls.
        """
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {sorted(FAULTS)}")
        if route not in FAULT_ROUTES:
            raise ValueError(f"unknown route {route!r}; expected one of {sorted(FAULT_ROUTES)}")
        if count < 1:
            raise ValueError("count must be at least 1")
        self._faults.append(_Fault(fault, route, count, value))

    def fail_next_tasks(self, outcome: str, count: int = 1) -> None:
        """Give the next ``count`` created tasks ``outcome`` (``sensitive_prompt`` refuses the submit itself)."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {sorted(OUTCOMES)}")
        if count < 1:
            raise ValueError("count must be at least 1")
        self._outcomes.extend([outcome] * count)

    def set_durations(self, queued: float, running: float, auditing: float) -> None:
        """Seconds spent in status 1, 2 and 3+4 by tasks created from now on."""
        if min(queued, running, auditing) < 0:
            raise ValueError("durations must not be negative")
        self._book.durations = (queued, running, auditing)

    def task(self, generate_uuid: str) -> SimTask | None:
        """The task with this uuid, its status brought up to date."""
        return self._book.get(generate_uuid)

    def tasks(self) -> list[SimTask]:
        """Every task created so far, oldest first, statuses brought up to date."""
        return [task for task_uuid in list(self._book.tasks) if (task := self._book.get(task_uuid)) is not None]

    def balance(self, access_key: str = DEV_ACCESS_KEY) -> int:
        """The account's remaining points."""
        return self._book.balance(access_key)

    def _count_upload(self) -> None:
        self.counters.uploads += 1

    def reset_counters(self) -> None:
        self.counters.reset()

    def clear_injections(self) -> None:
        """Drop pending faults and outcomes."""
        self._faults.clear()
        self._outcomes.clear()

    # ------------------------------------------------------------------ app and dispatch

    def _build_app(self) -> web.Application:
        app = web.Application(client_max_size=12 * 1024 * 1024)
        app.router.add_get("/images/{name:[0-9a-f]+}.png", self._handle_image)
        app.router.add_post("/oss", self._oss.handle_post)
        app.router.add_get("/oss/{key:.+}", self._oss.handle_get)
        app.router.add_get("/_sim/counters", self._admin_counters)
        app.router.add_post("/_sim/faults", self._admin_faults)
        app.router.add_post("/_sim/outcomes", self._admin_outcomes)
        app.router.add_post("/_sim/reset", self._admin_reset)
        app.router.add_route("*", "/{tail:.*}", self._handle_api)
        return app

    @staticmethod
    def _route_kind(path: str) -> str | None:
        if path in ep.SUBMIT_PATHS:
            return "submit"
        if path in ep.STATUS_PATHS:
            return "status"
        if path == ep.UPLOAD_SIGNATURE:
            return "upload"
        if path == ep.MODEL_VERSION:
            return "model"
        return None

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        kind = self._route_kind(path)
        if kind is None:
            return self._respond(_Reply(100000, f"No static resource {path.lstrip('/')}."))
        if request.method != "POST":
            return self._respond(_Reply(100000, f"Request method '{request.method}' is not supported"))
        auth_error = self._auth_error(request)
        if auth_error is not None:
            self.counters.auth_failures += 1
            log.warning("auth failed on %s: %s", path, auth_error)
            return self._respond(_Reply(401, MSG_AUTH))
        access_key = request.query["AccessKey"]
        if kind == "submit":
            self.counters.submit_requests += 1
        elif kind == "status":
            self.counters.status_queries += 1
        fault = self._take_fault(kind)
        if fault is not None:
            early = self._fault_response(fault)
            if early is not None:
                return early
            if fault.name == "slow":
                await self._sleep(fault.value if fault.value is not None else _DEFAULT_FAULT_SLEEP)
        reply = await self._dispatch(kind, request, access_key)
        if fault is not None and fault.name == "timeout":
            # The work is done (a submit created its task); only the answer is late.
            await self._sleep(fault.value if fault.value is not None else _DEFAULT_FAULT_SLEEP)
        if fault is not None and fault.name == "truncated":
            text = self._dumps(reply)
            return web.Response(text=text[: len(text) // 2], content_type="application/json")
        return self._respond(reply)

    async def _dispatch(self, kind: str, request: web.Request, access_key: str) -> _Reply:
        try:
            body = json.loads(await request.read() or b"null")
        except ValueError:
            return _invalid_reply("JSON parse error")
        if kind == "submit":
            return await self._submit(request.path, body, access_key)
        if not isinstance(body, dict):
            return _invalid_reply("body")
        if kind == "status":
            return self._status(request.path, body, access_key)
        if kind == "upload":
            return self._upload(body)
        return self._model_version(body)

    def _respond(self, reply: _Reply) -> web.Response:
        status = 200
        if self.settings.http_error_statuses and reply.code in (401, 403, 429):
            status = reply.code
        return web.Response(
            text=self._dumps(reply), status=status, headers=reply.headers, content_type="application/json"
        )

    @staticmethod
    def _dumps(reply: _Reply) -> str:
        return json.dumps({"code": reply.code, "msg": reply.msg, "data": reply.data}, ensure_ascii=False)

    # ------------------------------------------------------------------ auth (§2.4)

    def _auth_error(self, request: web.Request) -> str | None:
        """Why the request's signature does not check out, or None when it does (§2.4)."""
        query = request.query
        access_key, signature = query.get("AccessKey"), query.get("Signature")
        timestamp, nonce = query.get("Timestamp"), query.get("SignatureNonce")
        if not access_key or not signature or not timestamp or not nonce:
            return "missing auth parameter"
        secret = self._accounts.get(access_key)
        if secret is None:
            return "unknown AccessKey"
        if not timestamp.isdigit():
            return "non-integer Timestamp"
        if abs(time.time() * 1000 - int(timestamp)) > _TIMESTAMP_WINDOW_MS:
            return "Timestamp outside the 5 minute window"
        expected = sign(request.path, secret, timestamp, nonce)
        if not hmac.compare_digest(expected.encode(), signature.rstrip("=").encode()):
            return "signature mismatch"
        if self.settings.check_nonce_reuse and not self._remember_nonce(access_key, nonce):
            return "SignatureNonce reused"
        return None

    def _remember_nonce(self, access_key: str, nonce: str) -> bool:
        seen = self._nonces.setdefault(access_key, OrderedDict())
        now = time.monotonic()
        while seen and next(iter(seen.values())) < now:  # insertion order is expiry order
            seen.popitem(last=False)
        if nonce in seen:
            return False
        seen[nonce] = now + _NONCE_TTL
        return True

    # ------------------------------------------------------------------ faults

    def _take_fault(self, kind: str) -> _Fault | None:
        for fault in self._faults:
            if fault.route == kind or (fault.route == "any" and kind != "image"):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                self.counters.faults_served += 1
                log.info("injecting fault %s on %s", fault.name, kind)
                return fault
        return None

    def _fault_response(self, fault: _Fault) -> web.Response | None:
        """The response replacing the real one, or None when the fault only delays or cuts it."""
        if fault.name in ("500", "502"):
            title = _HTML_ERRORS[int(fault.name)]
            html = f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center></body></html>"
            return web.Response(status=int(fault.name), text=html, content_type="text/html")
        if fault.name == "malformed":
            return web.Response(text="<html>upstream returned garbage</html> {", content_type="application/json")
        codes = {"429": MSG_RATE, "401": MSG_AUTH, "403": MSG_FORBIDDEN, "100054": MSG_CONCURRENCY}
        codes |= {"100021": MSG_POINTS, "100052": MSG_SENSITIVE}
        if fault.name in codes:
            headers = {"Retry-After": f"{fault.value:g}"} if fault.name == "429" and fault.value is not None else None
            return self._respond(_Reply(int(fault.name), codes[fault.name], headers=headers))
        return None

    async def _sleep(self, seconds: float) -> None:
        # Wakes early on stop() so shutdown never waits on a held request.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    # ------------------------------------------------------------------ submit

    async def _submit(self, path: str, body: object, access_key: str) -> _Reply:
        if not self._submit_gate.admit(access_key, time.monotonic()):
            self.counters.rate_limit_violations += 1
            log.info("submit QPS exceeded on %s", path)
            retry = {"Retry-After": "1"} if self.settings.http_error_statuses else None
            return _Reply(429, MSG_RATE, headers=retry)
        if not isinstance(body, dict):
            return _invalid_reply("body")
        kind = classify(path, body.get("templateUuid"))
        if isinstance(kind, Rejection):
            return _Reply(kind.code, kind.msg)
        params = body.get("generateParams")
        if not isinstance(params, dict) or not params:
            return _Reply(100050, MSG_INCOMPLETE)
        rejection = validate_params(kind, params, body["templateUuid"])
        if rejection is not None:
            return _Reply(rejection.code, rejection.msg)
        if any(SENSITIVE_WORD in str(params.get(name, "")) for name in ("prompt", "negativePrompt")):
            return _Reply(100052, MSG_SENSITIVE)
        if self._book.active_count(access_key) >= self.max_concurrent:
            self.counters.concurrency_violations += 1
            return _Reply(100054, MSG_CONCURRENCY)
        points_key = self._points_key(kind, params)
        cost = self.points_per_image[points_key] * int(params.get("imgCount", 1))
        if self.balance(access_key) < cost:
            return _Reply(100021, MSG_POINTS)
        if self._outcomes and self._outcomes[0] == "sensitive_prompt":
            self._outcomes.popleft()
            return _Reply(100052, MSG_SENSITIVE)
        # Hold a slot while fetching so concurrent submits cannot overshoot the cap.
        self._book.hold(access_key, +1)
        try:
            sizes: list[tuple[int, int]] = []
            for url in source_urls(kind, params):
                fetched = await self._fetch_source(url)
                if isinstance(fetched, _Reply):
                    return fetched
                sizes.append(fetched)
        finally:
            self._book.hold(access_key, -1)
        task = self._book.create(
            path=path,
            kind=kind,
            params=params,
            access_key=access_key,
            points_key=points_key,
            cost=cost,
            sources=sizes,
            outcome=self._outcomes.popleft() if self._outcomes else None,
            base_url=self.base_url,
        )
        return _Reply(0, "", {"generateUuid": task.uuid})

    def _points_key(self, kind: SubmitKind, params: dict[str, Any]) -> str:
        if kind.family is ep.Family.KONTEXT:
            return f"kontext-{params.get('model', 'max')}"
        return kind.family.value

    async def _fetch_source(self, url: str) -> tuple[int, int] | _Reply:
        """Download an input image like the real service: (width, height), or the 100030/100031 reply."""
        self.counters.source_fetches.append(url)
        if self._http is None:
            raise RuntimeError("the simulator is not started")
        limit = ep.MAX_INPUT_IMAGE_BYTES
        try:
            async with self._http.get(url) as resp:
                if not 200 <= resp.status < 300 or (resp.content_length or 0) > limit:
                    log.info("source fetch refused: HTTP %d, %s bytes", resp.status, resp.content_length)
                    return _Reply(100030, MSG_UNREACHABLE)
                data = bytearray()
                async for chunk in resp.content.iter_chunked(65536):
                    data += chunk
                    if len(data) > limit:
                        return _Reply(100030, MSG_UNREACHABLE)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.info("source fetch failed: %s", type(exc).__name__)
            return _Reply(100030, MSG_UNREACHABLE)
        self.counters.source_digests.append(hashlib.sha256(data).hexdigest())
        size = probe_image(bytes(data))
        if size is None:
            return _Reply(100031, MSG_BAD_IMAGE)
        return size

    # ------------------------------------------------------------------ status, upload, model

    def _status(self, path: str, body: dict[str, Any], access_key: str) -> _Reply:
        if self._status_gate is not None and not self._status_gate.admit(access_key, time.monotonic()):
            self.counters.status_rate_limit_violations += 1
            return _Reply(429, MSG_RATE)
        generate_uuid = body.get("generateUuid")
        if not isinstance(generate_uuid, str) or not generate_uuid:
            return _invalid_reply("generateUuid")
        task = self._book.get(generate_uuid)
        if task is None or task.access_key != access_key or task.status_path != path:
            return _Reply(100051, f"生图任务不存在: {generate_uuid}")
        task.status_queries += 1
        if task.terminal:
            if task.terminal_reported:
                self.counters.duplicate_uuid_queries_after_terminal += 1
            task.terminal_reported = True
        passed = [img for img in task.images if img.audit_status == ep.AuditStatus.PASSED]
        images = passed if task.status == ep.GenerateStatus.SUCCEEDED else []
        data = {
            "generateUuid": task.uuid,
            "generateStatus": task.status,
            "percentCompleted": task.percent,
            "generateMsg": task.generate_msg,
            "pointsCost": task.points,
            "accountBalance": self.balance(access_key),
            "images": [{"imageUrl": img.url, "seed": img.seed, "auditStatus": img.audit_status} for img in images],
        }
        return _Reply(0, "", data)

    def _upload(self, body: dict[str, Any]) -> _Reply:
        name, extension = body.get("name"), body.get("extension")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            return _invalid_reply("name")
        if not isinstance(extension, str) or extension.lower().lstrip(".") not in EXTENSIONS:
            return _invalid_reply("extension")
        return _Reply(0, "", self._oss.issue(extension.lower().lstrip("."), self.base_url))

    def _model_version(self, body: dict[str, Any]) -> _Reply:
        version_uuid = body.get("versionUuid")
        if not isinstance(version_uuid, str) or not version_uuid:
            return _invalid_reply("versionUuid")
        model = _MODELS.get(version_uuid)
        if model is None:
            return _Reply(200001, "model.notExist")
        model_name, version_name, base_algo = model
        model_uuid = hashlib.md5(model_name.encode(), usedforsecurity=False).hexdigest()
        data = {
            "versionUuid": version_uuid,
            "modelName": model_name,
            "versionName": version_name,
            "baseAlgo": base_algo,
            "showType": "1",
            "commercialUse": 1,
            "modelUrl": f"https://www.liblib.art/modelinfo/{model_uuid}?versionUuid={version_uuid}",
        }
        return _Reply(0, "", data)

    # ------------------------------------------------------------------ images and admin

    async def _handle_image(self, request: web.Request) -> web.Response:
        args = self._book.images.get(request.match_info["name"])
        if args is None:
            raise web.HTTPNotFound()
        # Result-image faults (route "image"): a failing or slow CDN, or a body that is not the PNG.
        fault = self._take_fault("image")
        if fault is not None:
            early = self._fault_response(fault)
            if early is not None:
                return early
            if fault.name in ("slow", "timeout"):
                await self._sleep(fault.value if fault.value is not None else _DEFAULT_FAULT_SLEEP)
        # CPU work off the loop; cached by args
        png = await asyncio.to_thread(render_png, *args, self.settings.noisy_images)
        if fault is not None and fault.name == "truncated":
            png = png[: len(png) // 2]
        return web.Response(body=png, content_type="image/png")

    async def _admin_counters(self, request: web.Request) -> web.Response:
        return web.json_response(self.counters.snapshot())

    async def _admin_faults(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            value = body.get("value")
            self.inject(
                str(body["fault"]),
                count=int(body.get("count", 1)),
                route=str(body.get("route", "submit")),
                value=None if value is None else float(value),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        return web.json_response({"ok": True})

    async def _admin_outcomes(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            self.fail_next_tasks(str(body["outcome"]), int(body.get("count", 1)))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        return web.json_response({"ok": True})

    async def _admin_reset(self, request: web.Request) -> web.Response:
        """Zero the counters and drop pending faults and outcomes; tasks and limits are untouched."""
        self.reset_counters()
        self.clear_injections()
        return web.json_response({"ok": True})


def _invalid_reply(field_name: str) -> _Reply:
    rejection = invalid(field_name)
    return _Reply(rejection.code, rejection.msg)


async def run_forever(
    settings: SimulatorSettings,
    accounts: dict[str, str] | None = None,
    *,
    submit_per_second: float = 1.0,
    max_concurrent: int = 5,
    points_per_image: dict[str, int] | None = None,
    initial_balance: int = 100_000,
) -> None:
    """Serve on ``settings.host:settings.port`` until cancelled (the ``liblib-bot simulate`` command)."""
    sim = Simulator(
        settings,
        accounts=accounts,
        submit_per_second=submit_per_second,
        max_concurrent=max_concurrent,
        points_per_image=points_per_image,
        initial_balance=initial_balance,
    )
    await sim.start(settings.host, settings.port)
    if accounts is None:
        log.info("simulator accepts the built-in dev AccessKey %r", DEV_ACCESS_KEY)
    try:
        await asyncio.Event().wait()
    finally:
        await sim.stop()
