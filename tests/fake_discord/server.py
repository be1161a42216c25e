"""FakeDiscord: a loopback Discord (REST API v10 + gateway) that the real discord.py client talks to.

Recipe and traps: ``../shared/discord-harness.md``. In-process use::

    async with FakeDiscord() as fake:           # starts the server, patches Route.BASE and DEFAULT_GATEWAY
        bot = make_bot(...)
        async with run_bot(bot, fake):           # login + connect + wait_until_ready, close on exit
            interaction = await fake.slash("echo", {"text": "hi"})
            call = await fake.wait_for_call(lambda c: c.method == "PATCH" and "@original" in c.path)

A bot run as a separate process points its settings at ``fake.api_base`` and ``fake.gateway_url``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import socket
import struct
import time
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any, Self

import discord.gateway
import discord.http
import yarl
from aiohttp import BodyPartReader, web

from . import payloads as p
from .driver import BotDriver
from .messages import ApiError
from .records import DROPPED, STALLED, Call, Fault, Interaction, UploadedFile
from .rest import Handler, RestRoutes
from .spec import DEFAULT_SPEC_PATH, OpenAPISpec, load_spec
from .state import API_PREFIX, CHANNEL_ID, GUILD_ID

log = logging.getLogger(__name__)

RATE_LIMIT = 50  # per bucket and window; generous so discord.py never waits pre-emptively in tests
RATE_WINDOW = 1.0


class FakeDiscord(RestRoutes, BotDriver):
    """A fake Discord for one test: one guild, one text channel, a bot, a plain user, an admin and an owner.

    ``ack_deadline`` and ``token_ttl`` (seconds) are enforced as Discord does: a callback after the deadline
    gets 404 10062, a webhook call after the lifetime 401 50027. With ``validate_spec`` every request and
    response body is checked against ``../shared/discord-openapi.json`` (when present) into ``spec_errors``.
    """

    def __init__(
        self,
        *,
        token: str = "fake-bot-token",  # noqa: S107
        guild_id: int = GUILD_ID,
        channel_id: int = CHANNEL_ID,
        ack_deadline: float = 3.0,
        token_ttl: float = 900.0,
        validate_spec: bool = True,
        heartbeat_interval_ms: int = 41250,
        attachment_size_limit: int = p.DEFAULT_FILE_SIZE_LIMIT,
        spec_path: Path = DEFAULT_SPEC_PATH,
    ) -> None:
        super().__init__(
            token=token,
            guild_id=guild_id,
            channel_id=channel_id,
            ack_deadline=ack_deadline,
            token_ttl=token_ttl,
            heartbeat_interval_ms=heartbeat_interval_ms,
            attachment_size_limit=attachment_size_limit,
        )
        self.spec: OpenAPISpec | None = load_spec(spec_path) if validate_spec else None
        self.calls: list[Call] = []
        self.unexpected: list[Call] = []
        self.spec_errors: list[str] = []
        self._faults: list[Fault] = []
        self._buckets: dict[str, tuple[float, int]] = {}
        self._new_call = asyncio.Event()
        self._stopping = asyncio.Event()  # releases stalled requests
        self._runner: web.AppRunner | None = None
        self._saved: tuple[str, yarl.URL] | None = None
        self._routes = self._route_table()

    # -- lifecycle ---------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        self._saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
        discord.http.Route.BASE = self.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._saved is not None:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = self._saved
            self._saved = None
        await self.stop()

    async def start(self) -> None:
        """Start the server without patching discord.py (for a bot in another process)."""
        self._stopping.clear()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._serve_file)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._handle_api)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        # Discord's edge accepts any burst of new connections; the default listen backlog (128) would drop
        # the SYNs of a burst of 200 and the kernel retries them after 1 s, a delay real Discord never adds.
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        self._port = self._runner.addresses[0][1]
        self.gateway.start()

    async def stop(self) -> None:
        self._stopping.set()
        await self.gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def identify_count(self) -> int:
        return self.gateway.identify_count

    @property
    def resume_count(self) -> int:
        return self.gateway.resume_count

    @property
    def gateway_connected(self) -> bool:
        return self.gateway.connected

    @property
    def intents(self) -> int:
        """The intents the bot sent in its last IDENTIFY."""
        return self.gateway.intents

    async def _serve_file(self, request: web.Request) -> web.StreamResponse:
        call = Call(
            request.method,
            request.path,
            "/attachments/{channel_id}/{attachment_id}/{filename}",
            dict(request.query),
            None,
            [],
            dict(request.headers),
            at=time.monotonic(),
        )
        fault = self._take_fault(call)
        if fault is not None and fault.status == STALLED:
            if await self._stall(fault.delay):
                return self._drop(request, call, reset=False)  # the fake is stopping
            fault = None
        if fault is not None and fault.status == DROPPED:
            return self._drop(request, call, reset=fault.reset)
        if fault is not None:
            return self._finish(call, *self._fault_response(fault, call))
        hosted = self.files.get(p.to_int(request.match_info["attachment_id"]) or 0)
        if hosted is None:
            return self._finish(call, 404, {"message": "404: Not Found", "code": 0})
        call.status = 200
        self._record(call)
        return web.Response(body=hosted.content, content_type=hosted.content_type)

    # -- recording and waiting ---------------------------------------------------------------------

    def calls_to(self, method: str, path_contains: str) -> list[Call]:
        """Calls whose method matches (``*`` for any) and whose raw path or route contains the text."""
        return [
            c for c in self.calls if method in {c.method, "*"} and (path_contains in c.path or path_contains in c.route)
        ]

    async def wait_for_call(
        self,
        predicate: Callable[[Call], bool],
        timeout: float = 10.0,
        *,
        since: int = 0,
    ) -> Call:
        """The first recorded call (from index ``since``) matching ``predicate``, waiting for it if needed."""
        index = since
        try:
            async with asyncio.timeout(timeout):
                while True:
                    while index < len(self.calls):
                        call = self.calls[index]
                        index += 1
                        if predicate(call):
                            return call
                    await self._new_call.wait()
        except TimeoutError:
            recent = "\n  ".join(repr(c) for c in self.calls[-15:])
            raise TimeoutError(f"no matching call within {timeout}s; last calls:\n  {recent}") from None

    async def wait_for_ack(self, interaction: Interaction, timeout: float = 10.0) -> Call:
        """The bot's initial response (callback) to an interaction; AssertionError if Discord refused it."""
        prefix = f"/interactions/{interaction.id}/"
        call = await self.wait_for_call(lambda c: c.path.startswith(prefix) and c.status != 429, timeout)
        if call.status >= 300:
            raise AssertionError(f"the interaction callback failed: {call.status} {call.response}")
        return call

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self._new_call.set()
        self._new_call = asyncio.Event()

    # -- fault injection and expiry ----------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        path_contains: str,
        status: int,
        *,
        count: int = 1,
        retry_after: float | None = None,
        code: int | None = None,
        when: Callable[[Call], bool] | None = None,
    ) -> None:
        """Answer the next ``count`` matching requests with an error (method ``*`` matches any).

        ``path_contains`` is matched against the raw path (``/channels/123/messages``) and the route template
        (``/channels/{channel_id}/messages``), as in ``calls_to``. 5xx are retried by discord.py after 1 s, 3 s...

        429 comes with ``Via``, ``Retry-After``, ``retry_after`` (default 0.05 s) and ``global: false`` so
        discord.py retries it; the other statuses carry Discord's usual code for the route unless ``code``.
        ``when`` narrows the match further (e.g. ``lambda c: not c.files``: edits without an upload).
        """
        self._faults.append(Fault(method, path_contains, status, count, retry_after, code, when=when))

    def drop_next(
        self,
        method: str,
        path_contains: str,
        *,
        count: int = 1,
        reset: bool = False,
        when: Callable[[Call], bool] | None = None,
    ) -> None:
        """Close the connection of the next ``count`` matching requests without answering (a network failure:
        the client sees ``aiohttp.ServerDisconnectedError``, or with ``reset`` a connection reset, an OSError).

        The request is not handled (nothing is created or edited) and is recorded with status ``DROPPED``.
        Matching is as in ``fail_next``; faults apply in the order they were added."""
        self._faults.append(Fault(method, path_contains, DROPPED, count, None, None, reset=reset, when=when))

    def stall_next(
        self,
        method: str,
        path_contains: str,
        seconds: float,
        *,
        count: int = 1,
        when: Callable[[Call], bool] | None = None,
    ) -> None:
        """Hold the next ``count`` matching requests ``seconds`` before handling them as usual (Discord hanging;
        a client that gives up meanwhile may still see the request applied, as with the real one)."""
        self._faults.append(Fault(method, path_contains, STALLED, count, None, None, delay=seconds, when=when))

    def _take_fault(self, call: Call) -> Fault | None:
        for fault in self._faults:
            if fault.matches(call):
                fault.count -= 1
                if fault.count == 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _fault_response(self, fault: Fault, call: Call) -> tuple[int, Any, dict[str, str]]:
        if fault.status == 429:
            retry_after = 0.05 if fault.retry_after is None else fault.retry_after
            body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
            headers = {
                "Via": "1.1 google",
                "Retry-After": str(max(1, int(retry_after + 0.999))),
                "X-RateLimit-Scope": "user",
                "X-RateLimit-Limit": str(RATE_LIMIT),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                "X-RateLimit-Bucket": self._bucket_hash(f"{call.method} {call.route}"),
            }
            if fault.code is not None:
                body["code"] = fault.code
            return 429, body, headers
        return fault.status, _error_body(fault.status, call.path, fault.code), {}

    # -- HTTP plumbing -----------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        path = request.path.removeprefix(API_PREFIX)
        body, files = await _read_body(request)
        call = Call(
            request.method, path, path, dict(request.query), body, files, dict(request.headers), at=time.monotonic()
        )
        if self.spec is not None:
            self.spec_errors.extend(self.spec.check_request(call.method, path, body))
        route = self._match(call)
        fault = self._take_fault(call)
        if fault is not None and fault.status == STALLED:
            if await self._stall(fault.delay):
                return self._drop(request, call, reset=False)  # the fake is stopping
            fault = None
        if fault is not None and fault.status == DROPPED:
            return self._drop(request, call, reset=fault.reset)
        if fault is not None:
            return self._finish(call, *self._fault_response(fault, call))
        if route is None:
            self.unexpected.append(call)
            return self._finish(call, 404, _error_body(404, "", 0))
        handler, needs_bot_auth = route
        if needs_bot_auth and request.headers.get("Authorization") != f"Bot {self.token}":
            return self._finish(call, 401, _error_body(401, "", 0))
        try:
            status, result = await handler(call)
        except ApiError as exc:
            return self._finish(call, exc.status, exc.body)
        if self.spec is not None:
            self.spec_errors.extend(self.spec.check_response(call.method, path, status, result))
        return self._finish(call, status, result, self._rate_limit_headers(call))

    def _finish(self, call: Call, status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
        call.status, call.response = status, body
        self._record(call)
        if status == 204 or body is None:
            return web.Response(status=204 if status < 300 else status, headers=headers)
        # Exactly "application/json": discord.http.json_or_text compares the header verbatim.
        return web.Response(
            status=status,
            body=json.dumps(body).encode(),
            headers={**(headers or {}), "Content-Type": "application/json"},
        )

    async def _stall(self, seconds: float) -> bool:
        """Wait ``seconds``; True if the fake began stopping first."""
        try:
            async with asyncio.timeout(seconds):
                await self._stopping.wait()
        except TimeoutError:
            return False
        return True

    def _drop(self, request: web.Request, call: Call, *, reset: bool) -> web.Response:
        call.status = DROPPED
        self._record(call)
        transport = request.transport
        if transport is not None:
            sock = transport.get_extra_info("socket")
            if reset and sock is not None:  # linger 0: close() sends RST instead of FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        return web.Response(status=204)  # never written: the connection is gone

    def _match(self, call: Call) -> tuple[Handler, bool] | None:
        segments = call.path.split("/")
        for method, template, handler, auth in self._routes:
            if method != call.method:
                continue
            parts = template.split("/")
            if len(parts) != len(segments):
                continue
            params = {}
            for part, seg in zip(parts, segments, strict=True):
                if part.startswith("{"):
                    params[part[1:-1]] = seg
                elif part != seg:
                    break
            else:
                call.route, call.params = template, params
                return handler, auth
        return None

    def _bucket_hash(self, route: str) -> str:
        return hashlib.sha256(route.encode()).hexdigest()[:32]

    def _rate_limit_headers(self, call: Call) -> dict[str, str]:
        major = next(
            (call.params[k] for k in ("channel_id", "guild_id", "webhook_id", "interaction_id") if k in call.params), ""
        )
        key = f"{call.method} {call.route} {major} {call.params.get('webhook_token', '')}"
        now = time.monotonic()
        start, count = self._buckets.get(key, (now, 0))
        if now - start >= RATE_WINDOW:
            start, count = now, 0
        count += 1
        self._buckets[key] = (start, count)
        reset_after = max(0.001, RATE_WINDOW - (now - start))
        return {
            "X-RateLimit-Limit": str(RATE_LIMIT),
            "X-RateLimit-Remaining": str(max(0, RATE_LIMIT - count)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": self._bucket_hash(f"{call.method} {call.route}"),
        }


async def _read_body(request: web.Request) -> tuple[Any, list[UploadedFile]]:
    """The JSON body, or for multipart the parsed ``payload_json`` plus every file part with its bytes."""
    if request.content_type == "multipart/form-data":
        body: Any = None
        files: list[UploadedFile] = []
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            content = bytes(await part.read(decode=False))
            if part.name == "payload_json":
                body = json.loads(content)
            else:
                ctype = part.headers.get("Content-Type", "application/octet-stream")
                files.append(UploadedFile(part.filename or "", content, ctype, part.name or ""))
        return body, files
    raw = await request.read()
    if not raw:
        return None, []
    if request.content_type == "application/json":
        return json.loads(raw), []
    return raw.decode(errors="replace"), []


_ERROR_MESSAGES = {
    10003: "Unknown Channel",
    10004: "Unknown Guild",
    10007: "Unknown Member",
    10008: "Unknown Message",
    10015: "Unknown Webhook",
    10062: "Unknown interaction",
    40005: "Request entity too large",
    40060: "Interaction has already been acknowledged.",
    50013: "Missing Permissions",
    50027: "Invalid Webhook Token",
    50035: "Invalid Form Body",
}


def _error_body(status: int, path: str, code: int | None) -> dict[str, Any]:
    """Discord's error JSON for an injected fault: the usual code for the status and route unless given."""
    if code is None:
        if status == 404:
            code = next((c for prefix, c in _NOT_FOUND if prefix in path), 0)
        elif status == 401:
            code = 50027 if path.startswith("/webhooks/") else 0
        else:
            code = {400: 50035, 403: 50013, 413: 40005}.get(status, 0)
    message = _ERROR_MESSAGES.get(code) or f"{status}: {HTTPStatus(status).phrase}"
    return {"message": message, "code": code}


_NOT_FOUND = (("/messages/", 10008), ("/channels/", 10003), ("/interactions/", 10062), ("/webhooks/", 10015))
