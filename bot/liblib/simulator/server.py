"""The simulator's aiohttp app: lifecycle, test controls, request dispatch, result images and ``/_sim/*``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Self

import aiohttp
from aiohttp import web

from bot.liblib import endpoints as ep
from bot.liblib.simulator.auth import DEV_ACCESS_KEY, DEV_SECRET_KEY, Authenticator
from bot.liblib.simulator.comfy import DEFAULT_VIDEO_BYTES, fake_mp4
from bot.liblib.simulator.faults import FaultQueue, fault_response
from bot.liblib.simulator.images import render_png
from bot.liblib.simulator.oss import OssStore
from bot.liblib.simulator.replies import MSG_AUTH, Reply, dumps, invalid_reply, respond
from bot.liblib.simulator.routes import ApiRoutes, RateGate
from bot.liblib.simulator.tasks import Billing, SimCounters, SimTask, TaskBook
from bot.settings import DEFAULT_PRICES, SimulatorSettings

log = logging.getLogger(__name__)

OUTCOMES = frozenset({"failed", "audit_reject", "timeout", "partial_audit", "sensitive_prompt"})

_FETCH_TIMEOUT = 10.0
# Points per image LiblibAI bills: the bot's documented [liblib.prices] defaults (Kontext from the docs, the rest
# the bot's own figures), and a default for ComfyUI workflows registered without a price.
_DEFAULT_POINTS = {**DEFAULT_PRICES, "comfy": 10}


class Simulator(ApiRoutes):
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
        accounts = accounts if accounts is not None else {DEV_ACCESS_KEY: DEV_SECRET_KEY}
        self._auth = Authenticator(accounts, check_nonce_reuse=self.settings.check_nonce_reuse)
        self.max_concurrent = max_concurrent
        self.points_per_image = {**_DEFAULT_POINTS, **(points_per_image or {})}
        self.initial_balance = initial_balance
        self.counters = SimCounters()
        self._submit_gate = RateGate(submit_per_second)
        self._status_gate = RateGate(self.settings.status_qps) if self.settings.status_qps else None
        durations = (self.settings.queued_seconds, self.settings.running_seconds, self.settings.auditing_seconds)
        self._book = TaskBook(self.counters, initial_balance, durations)
        self._faults = FaultQueue(self.counters)
        self._outcomes: deque[str] = deque()
        self._billings: deque[Billing] = deque()
        self._unserved: dict[str, bool] = {}  # routes answered as not served -> as a bare HTTP 404
        self._oss = OssStore(on_upload=self._count_upload)
        self._workflows = {}
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self._stopping = asyncio.Event()
        self._base_url = ""
        self.app = self._build_app()

    # ------------------------------------------------------------------ lifecycle

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
        self._faults.add(fault, count=count, route=route, value=value)

    def fail_next_tasks(self, outcome: str, count: int = 1) -> None:
        """Give the next ``count`` created tasks ``outcome`` (``sensitive_prompt`` refuses the submit itself)."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {sorted(OUTCOMES)}")
        if count < 1:
            raise ValueError("count must be at least 1")
        self._outcomes.extend([outcome] * count)

    def bill_next_tasks(self, cost: int | None = None, *, report: bool = True, count: int = 1) -> None:
        """Bill the next ``count`` created tasks ``cost`` points whatever their outcome (None: their usual price
        on success, nothing on failure), and with ``report=False`` leave ``pointsCost`` out of their status."""
        if cost is not None and cost < 0:
            raise ValueError("cost must not be negative")
        if count < 1:
            raise ValueError("count must be at least 1")
        self._billings.extend([Billing(cost, report)] * count)

    def stop_serving(self, *paths: str, http_404: bool = False) -> None:
        """Answer ``paths`` as LiblibAI answers a route it does not serve on an account (the Star-3 ``/ultra``
        routes, liblib-api.md §11.2): ``{"code":100000,"msg":"No static resource <path>."}``, or with ``http_404``
        a bare HTTP 404 (Spring's error body, no envelope). Nothing behind it runs: no validation, no task."""
        for path in paths:
            self._unserved[path] = http_404

    def serve(self, *paths: str) -> None:
        """Serve ``paths`` again (undo ``stop_serving``)."""
        for path in paths:
            self._unserved.pop(path, None)

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

    def _count_upload(self) -> None:
        self.counters.uploads += 1

    def reset_counters(self) -> None:
        self.counters.reset()

    def clear_injections(self) -> None:
        """Drop pending faults, outcomes and billings."""
        self._faults.clear()
        self._outcomes.clear()
        self._billings.clear()

    # ------------------------------------------------------------------ app and dispatch

    def _build_app(self) -> web.Application:
        app = web.Application(client_max_size=12 * 1024 * 1024)
        app.on_response_prepare.append(_tag_response)
        app.router.add_get("/images/{name:[0-9a-f]+}.png", self._handle_image)
        app.router.add_get("/videos/{name:[0-9a-f]+}.mp4", self._handle_video)
        app.router.add_post("/oss", self._oss.handle_post)
        app.router.add_get("/oss/{key:.+}", self._oss.handle_get)
        app.router.add_get("/_sim/counters", self._admin_counters)
        app.router.add_post("/_sim/faults", self._admin_faults)
        app.router.add_post("/_sim/outcomes", self._admin_outcomes)
        app.router.add_post("/_sim/billing", self._admin_billing)
        app.router.add_post("/_sim/reset", self._admin_reset)
        app.router.add_post("/_sim/routes", self._admin_routes)
        app.router.add_post("/_sim/workflows", self._admin_workflows)
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
        if kind is None or path in self._unserved:
            return self._not_served(path)
        if request.method != "POST":
            return self._respond(Reply(100000, f"Request method '{request.method}' is not supported"))
        auth_error = self._auth_error(request)
        if auth_error is not None:
            self.counters.auth_failures += 1
            log.warning("auth failed on %s: %s", path, auth_error)
            return self._respond(Reply(401, MSG_AUTH))
        access_key = request.query["AccessKey"]
        if kind == "submit":
            self.counters.submit_requests += 1
        elif kind == "status":
            self.counters.status_queries += 1
        fault = self._faults.take(kind)
        if fault is not None:
            early = fault_response(fault, http_error_statuses=self.settings.http_error_statuses)
            if early is not None:
                return early
            if fault.name == "slow":
                await self._sleep(fault.delay)
        reply = await self._dispatch(kind, request, access_key)
        if fault is not None and fault.name == "timeout":
            # The work is done (a submit created its task); only the answer is late.
            await self._sleep(fault.delay)
        if fault is not None and fault.name == "truncated":
            text = dumps(reply)
            return web.Response(text=text[: len(text) // 2], content_type="application/json")
        return self._respond(reply)

    async def _dispatch(self, kind: str, request: web.Request, access_key: str) -> Reply:
        try:
            body = json.loads(await request.read() or b"null")
        except ValueError:
            return invalid_reply("JSON parse error")
        if kind == "submit":
            return await self._submit(request.path, body, access_key)
        if not isinstance(body, dict):
            return invalid_reply("body")
        if kind == "status":
            return self._status(request.path, body, access_key)
        if kind == "upload":
            return self._upload(body)
        return self._model_version(body)

    def _not_served(self, path: str) -> web.Response:
        """A route the server does not serve (unknown, or switched off by ``stop_serving``), before any auth."""
        if self._unserved.get(path):
            body = {"timestamp": "1970-01-01T00:00:00.000+00:00", "status": 404, "error": "Not Found", "path": path}
            return web.json_response(body, status=404)
        return self._respond(Reply(100000, f"No static resource {path.lstrip('/')}."))

    def _respond(self, reply: Reply) -> web.Response:
        return respond(reply, http_error_statuses=self.settings.http_error_statuses)

    def _auth_error(self, request: web.Request) -> str | None:
        return self._auth.error(request)

    async def _sleep(self, seconds: float) -> None:
        # Wakes early on stop() so shutdown never waits on a held request.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    # ------------------------------------------------------------------ images and admin

    async def _handle_image(self, request: web.Request) -> web.Response:
        spec = self._book.images.get(request.match_info["name"])
        if spec is None:
            raise web.HTTPNotFound()
        self.counters.image_downloads += 1
        # Result-image faults (route "image"): a failing or slow CDN, or a body that is not the PNG.
        fault = self._faults.take("image")
        if fault is not None:
            early = fault_response(fault, http_error_statuses=self.settings.http_error_statuses)
            if early is not None:
                return early
            if fault.name in ("slow", "timeout"):
                await self._sleep(fault.delay)
        # CPU work (tens of milliseconds a megapixel) off the loop; cached by spec
        png = await asyncio.to_thread(render_png, spec, self.settings.noisy_images)
        if fault is not None and fault.name == "truncated":
            png = png[: len(png) // 2]
        return web.Response(body=png, content_type="image/png")

    async def _handle_video(self, request: web.Request) -> web.Response:
        """A ComfyUI workflow's video (simulated: an MP4 container of the configured size, not playable)."""
        entry = self._book.videos.get(request.match_info["name"])
        if entry is None:
            raise web.HTTPNotFound()
        self.counters.image_downloads += 1
        cover, size = entry
        return web.Response(body=fake_mp4(cover, size), content_type="video/mp4")

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

    async def _admin_routes(self, request: web.Request) -> web.Response:
        """``{"path": ..., "served": false, "http_404": false}``: switch a route off (or on again)."""
        try:
            body = await request.json()
            path = str(body["path"])
            if body.get("served", False):
                self.serve(path)
            else:
                self.stop_serving(path, http_404=bool(body.get("http_404", False)))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        return web.json_response({"ok": True})

    async def _admin_workflows(self, request: web.Request) -> web.Response:
        """``register_workflow`` over HTTP: ``{"workflow_uuid": ..., "points_per_output": 20, "video": true, ...}``."""
        try:
            body = await request.json()
            durations = body.get("durations")
            price = body.get("points_per_output")
            self.register_workflow(
                str(body["workflow_uuid"]),
                points_per_output=None if price is None else int(price),
                video=bool(body.get("video", False)),
                video_in_images=bool(body.get("video_in_images", False)),
                video_bytes=int(body.get("video_bytes", DEFAULT_VIDEO_BYTES)),
                durations=None
                if durations is None
                else (float(durations[0]), float(durations[1]), float(durations[2])),
                template_uuid=str(body.get("template_uuid", ep.TEMPLATE_COMFY)),
            )
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        return web.json_response({"ok": True})

    async def _admin_billing(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            cost = None if body.get("cost") is None else int(body["cost"])
            self.bill_next_tasks(cost, report=bool(body.get("report", True)), count=int(body.get("count", 1)))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        return web.json_response({"ok": True})

    async def _admin_reset(self, request: web.Request) -> web.Response:
        """Zero the counters and drop pending faults, outcomes and billings; tasks and limits are untouched."""
        self.reset_counters()
        self.clear_injections()
        return web.json_response({"ok": True})


async def _tag_response(request: web.Request, response: web.StreamResponse) -> None:
    """Mark every answer, errors and images included, as the simulator's (the real API never sends it)."""
    response.headers[ep.SIMULATOR_HEADER] = "1"


async def run_forever(
    settings: SimulatorSettings,
    *,
    accounts: dict[str, str] | None = None,
    submit_per_second: float = 1.0,
    max_concurrent: int = 5,
    ready: Callable[[Simulator], None] | None = None,
) -> None:
    """Serve on ``settings.host:settings.port`` until cancelled (the ``liblib-bot simulate`` command).

    ``accounts`` (AccessKey -> SecretKey) are accepted besides the built-in dev pair; ``ready`` is called once
    the server listens.
    """
    sim = Simulator(
        settings,
        accounts={DEV_ACCESS_KEY: DEV_SECRET_KEY, **(accounts or {})},
        submit_per_second=submit_per_second,
        max_concurrent=max_concurrent,
    )
    await sim.start(settings.host, settings.port)
    log.info(
        "simulator accepts the built-in dev AccessKey %r%s",
        DEV_ACCESS_KEY,
        f" and {len(accounts)} configured key pair(s)" if accounts else "",
    )
    if ready is not None:
        ready(sim)
    try:
        await asyncio.Event().wait()
    finally:
        await sim.stop()
