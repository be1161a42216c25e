"""The fake's gateway websocket: HELLO, heartbeats, IDENTIFY/READY, RESUME/RESUMED, member chunks, dispatch.

Frames go out as plain JSON text (discord.py only decompresses binary frames, so ``compress`` is ignored).
Dispatches sent while no session is connected are kept and replayed on RESUME, as Discord does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections import deque
from typing import Any, Protocol

from aiohttp import WSMsgType, web

log = logging.getLogger(__name__)

OP_DISPATCH, OP_HEARTBEAT, OP_IDENTIFY, OP_RESUME = 0, 1, 2, 6
OP_RECONNECT, OP_REQUEST_MEMBERS, OP_INVALID_SESSION, OP_HELLO, OP_HEARTBEAT_ACK = 7, 8, 9, 10, 11
_REPLAY_LIMIT = 1000
_NOT_RESUMABLE = frozenset({1000, 4004, 4010, 4011, 4012, 4013, 4014})
_PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15)  # server members, presences, message content


class GatewayState(Protocol):
    """What the gateway needs from the fake: credentials and the payloads describing the world."""

    token: str

    def ready_payload(self, session_id: str, shard: list[int] | None) -> dict[str, Any]: ...
    def guild_create_payloads(self, intents: int, shard: list[int] | None) -> list[dict[str, Any]]: ...
    def members_chunk(self, request: dict[str, Any]) -> dict[str, Any]: ...


class _Connection:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.lock = asyncio.Lock()
        self.live = False  # identified or resumed
        self.sent_seq = 0

    async def send(self, payload: dict[str, Any]) -> None:
        async with self.lock:
            if not self.ws.closed:
                await self.ws.send_str(json.dumps(payload))


class Gateway:
    """One gateway session at a time; events are written in dispatch order by a single writer task."""

    def __init__(self, state: GatewayState, *, heartbeat_interval_ms: int) -> None:
        self._state = state
        self._heartbeat_interval_ms = heartbeat_interval_ms
        self._connections: set[_Connection] = set()
        self._current: _Connection | None = None
        self._session_id: str | None = None
        self._seq = 0
        self._replay: list[dict[str, Any]] = []
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        self._enqueued = 0
        self._written = 0
        # flush() waiters in target order; each write wakes only those it satisfies (a Condition woke all of
        # them on every write: quadratic for a burst of dispatches).
        self._flushes: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._writer: asyncio.Task[None] | None = None
        self._established = asyncio.Event()
        self._heartbeat = asyncio.Event()
        self.identify_count = 0
        self.resume_count = 0
        self.heartbeat_count = 0
        self.intents = 0
        self.shard: list[int] | None = None
        # False: the application has no privileged intent enabled in the Developer Portal; asking for one at
        # IDENTIFY closes the connection with 4014, as Discord does.
        self.privileged_intents_enabled = True
        self.received: list[dict[str, Any]] = []  # every client frame, tokens redacted

    @property
    def connected(self) -> bool:
        return self._current is not None and self._current.live and not self._current.ws.closed

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_loop(), name="fake-discord-gateway-writer")

    async def close(self) -> None:
        for conn in list(self._connections):
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001, message=b"fake Discord shutting down")
        self._current = None
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
        self._wake_flushes(everyone=True)

    # -- aiohttp handler ---------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        conn = _Connection(ws)
        self._connections.add(conn)
        try:
            await conn.send({"op": OP_HELLO, "d": {"heartbeat_interval": self._heartbeat_interval_ms}, "s": None})
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_frame(conn, json.loads(msg.data))
                elif msg.type is WSMsgType.ERROR:
                    break
        finally:
            self._connections.discard(conn)
            if self._current is conn:
                self._current = None
        return ws

    async def _on_frame(self, conn: _Connection, frame: dict[str, Any]) -> None:
        op, raw = frame.get("op"), frame.get("d")
        data: dict[str, Any] = raw if isinstance(raw, dict) else {}
        redacted = {**data, "token": "<redacted>"} if "token" in data else raw
        self.received.append({"op": op, "d": redacted})
        if op == OP_HEARTBEAT:
            self.heartbeat_count += 1
            await conn.send({"op": OP_HEARTBEAT_ACK, "d": None, "s": None})
            self._heartbeat.set()
            self._heartbeat = asyncio.Event()
        elif op == OP_IDENTIFY:
            await self._identify(conn, data)
        elif op == OP_RESUME:
            await self._resume(conn, data)
        elif op == OP_REQUEST_MEMBERS and conn is self._current:
            self.dispatch_nowait("GUILD_MEMBERS_CHUNK", self._state.members_chunk(data))
        # op 3 (presence), 4 (voice state) and anything else: accepted and ignored.

    async def _identify(self, conn: _Connection, data: dict[str, Any]) -> None:
        if data.get("token") != self._state.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        if not self.privileged_intents_enabled and int(data.get("intents") or 0) & _PRIVILEGED_INTENTS:
            await conn.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        self.identify_count += 1
        self.intents = int(data.get("intents") or 0)
        self.shard = data.get("shard")
        self._session_id = secrets.token_hex(16)
        self._seq = 0
        self._replay.clear()
        conn.sent_seq, conn.live, self._current = 0, True, conn
        self.dispatch_nowait("READY", self._state.ready_payload(self._session_id, self.shard))
        for payload in self._state.guild_create_payloads(self.intents, self.shard):
            self.dispatch_nowait("GUILD_CREATE", payload)
        self._established.set()

    async def _resume(self, conn: _Connection, data: dict[str, Any]) -> None:
        if data.get("token") != self._state.token or data.get("session_id") != self._session_id:
            await conn.send({"op": OP_INVALID_SESSION, "d": False, "s": None})
            return
        self.resume_count += 1
        # The writer replays every event after the client's seq before RESUMED.
        conn.sent_seq, conn.live, self._current = int(data.get("seq") or 0), True, conn
        self.dispatch_nowait("RESUMED", {})
        self._established.set()

    # -- sending -----------------------------------------------------------------------------------

    def dispatch_nowait(self, event: str, data: dict[str, Any]) -> None:
        """Queue an event for the bot (kept for replay while the session is between connections)."""
        if self._session_id is None:
            return
        self._seq += 1
        self._replay.append({"op": OP_DISPATCH, "s": self._seq, "t": event, "d": data})
        del self._replay[:-_REPLAY_LIMIT]
        self._enqueued += 1
        self._queue.put_nowait(self._seq)

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Queue an event and wait until it (and everything before it) has been written."""
        self.dispatch_nowait(event, data)
        await self.flush()

    async def flush(self) -> None:
        target = self._enqueued
        if self._written >= target or self._writer is None:
            return
        done = asyncio.get_running_loop().create_future()
        self._flushes.append((target, done))
        await done

    def _wake_flushes(self, *, everyone: bool = False) -> None:
        while self._flushes and (everyone or self._flushes[0][0] <= self._written):
            _, done = self._flushes.popleft()
            if not done.done():
                done.set_result(None)

    async def settle(self, timeout: float = 5.0) -> None:
        """Flush, then ask for a heartbeat (op 1): the client answers only after parsing every earlier frame."""
        await self.flush()
        conn = self._current
        if conn is None or not conn.live:
            return
        beat = self._heartbeat
        await conn.send({"op": OP_HEARTBEAT, "d": None})
        await asyncio.wait_for(beat.wait(), timeout)

    async def _write_loop(self) -> None:
        while True:
            seq = await self._queue.get()
            conn = self._current
            try:
                if conn is not None and conn.live:
                    for payload in self._unsent(conn.sent_seq, seq):
                        await conn.send(payload)
                        conn.sent_seq = payload["s"]
            except Exception:  # a socket closing under us: the events stay in the replay buffer
                log.debug("gateway write failed", exc_info=True)
            finally:
                self._written += 1
                self._wake_flushes()

    def _unsent(self, after: int, upto: int) -> list[dict[str, Any]]:
        """Replay entries with ``after < s <= upto`` (sequence numbers are contiguous and ascending)."""
        if not self._replay:
            return []
        first = self._replay[0]["s"]
        return self._replay[max(0, after + 1 - first) : max(0, upto + 1 - first)]

    # -- test controls -----------------------------------------------------------------------------

    async def disconnect(
        self,
        *,
        resume: bool = True,
        close_code: int | None = None,
        wait: bool = True,
        timeout: float = 10.0,
    ) -> None:
        conn = self._current
        if conn is None:
            raise RuntimeError("the bot is not connected to the gateway")
        await self.flush()
        self._established.clear()
        self._current, conn.live = None, False
        if close_code is not None:
            if close_code in _NOT_RESUMABLE or not resume:
                self._session_id = None
            await conn.ws.close(code=close_code)
        elif resume:
            await conn.send({"op": OP_RECONNECT, "d": None, "s": None})
        else:
            self._session_id = None
            await conn.send({"op": OP_INVALID_SESSION, "d": False, "s": None})
        if wait:
            await self.wait_established(timeout)

    async def wait_established(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self._established.wait(), timeout)
        await self.flush()
