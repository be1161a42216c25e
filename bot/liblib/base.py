"""The transport under ``LiblibClient``: session ownership, signing, the submit rate limiter and the one retry
policy (liblib-api.md §2, §9; STYLE §2.4–2.5).

One choke point, ``_request``, signs every attempt afresh, passes submits through the rate limiter,
checks the HTTP status and the ``{code, msg, data}`` envelope, and retries according to one pure policy
(``_should_retry`` + ``bot.backoff.retry_delay``). A submit is not idempotent (it may spend points), so it is
retried only when the request provably never reached the server, or on 429 (the task was not created).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Literal, Protocol, Self, TypedDict, TypeVar

import aiohttp
from aiolimiter import AsyncLimiter
from pydantic import ValidationError

from bot.backoff import parse_retry_after, retry_delay
from bot.liblib import endpoints, signing
from bot.liblib.envelope import decode_envelope, transport_errors
from bot.liblib.errors import (
    LiblibAuthError,
    LiblibConnectionError,
    LiblibError,
    LiblibRateLimitError,
    LiblibResponseValidationError,
    LiblibServerError,
    LiblibStatusError,
)
from bot.settings import LiblibSettings

log = logging.getLogger(__name__)

T = TypeVar("T")
RequestKind = Literal["submit", "query"]

# What a query may try again: the server or the way to it misbehaved (rate limit, 5xx, transport, a garbled
# answer), not the request itself.
TRANSIENT_ERRORS = (LiblibRateLimitError, LiblibServerError, LiblibConnectionError, LiblibResponseValidationError)


def _should_retry(kind: RequestKind, error: BaseException, attempt: int, *, max_attempts: int) -> bool:
    """Whether attempt number ``attempt`` (1-based) that failed with ``error`` should be tried again.

    Queries (status, upload signature, model version, downloads, OSS upload) retry transport errors,
    timeouts, HTTP 429/5xx, envelope 429/200000/210000 and malformed responses. A submit retries only a
    rate limit (the task was not created) or a connect failure that never reached the server.
    Table-tested in tests/liblib/test_retry_policy.py.
    """
    if attempt >= max_attempts:
        return False
    if kind == "query":
        return isinstance(error, TRANSIENT_ERRORS)
    if isinstance(error, LiblibConnectionError):  # includes LiblibTimeoutError
        return not error.reached_server
    return isinstance(error, LiblibRateLimitError)


class SubmitGate(Protocol):
    """The caller's say at the edges of each submit attempt (the runner keeps its job's state there)."""

    async def sending(self) -> None:
        """This attempt holds its submit slot (a concurrency slot and the rate limiter's turn) and its request
        leaves as soon as this returns. Raise to send nothing: the exception ends ``submit``."""

    async def not_sent(self, retry_in: float) -> None:
        """This attempt provably created no task (a rate limit, or a connect error before reaching the server)
        and is tried again in ``retry_in`` seconds (after another ``sending``). Raise to stop there."""


class ClientOptions(TypedDict, total=False):
    """``BaseClient``'s keyword arguments, for the parts that extend its constructor."""

    session: aiohttp.ClientSession | None
    sleep: Callable[[float], Awaitable[None]]
    clock: Callable[[], float]
    simulated: bool


class BaseClient:
    """Session, signing, rate limit and retries; ``LiblibClient`` adds tasks and files on top."""

    def __init__(
        self,
        settings: LiblibSettings,
        *,
        session: aiohttp.ClientSession | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        simulated: bool = False,
    ) -> None:
        self._settings = settings
        self._session = session
        self._owns_session = session is None
        self._sleep = sleep
        self._clock = clock
        self._simulated = simulated
        self._submit_interval = settings.submit_interval
        self._limiter = AsyncLimiter(max_rate=1, time_period=self._submit_interval)
        self._last_submit = float("-inf")  # loop time the last submit request left
        self._timeout = aiohttp.ClientTimeout(total=settings.request_timeout, sock_connect=settings.connect_timeout)
        # Transfers of image bytes: bounded by stalls, not by total time.
        self._transfer_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=settings.connect_timeout, sock_read=settings.request_timeout
        )

    # Lifecycle ------------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
            self._owns_session = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session if this client created it (an injected session is never closed)."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def simulated(self) -> bool:
        """True when talking to a simulator: said by the composition root (it started one), or learned from
        the simulator's tag (``endpoints.SIMULATOR_HEADER``) on any answer. Never goes back to False."""
        return self._simulated

    async def detect_simulator(self) -> bool:
        """Ask ``base_url`` once, unsigned (``GET /``), whether it is a simulator: its answer carries the tag.

        For a ``base_url`` other than LiblibAI's, so the first request is known to be simulated before it is
        built. Never raises: an unreachable server leaves it unknown until its first answer.
        """
        url = self._settings.base_url.rstrip("/") + "/"
        timeout = aiohttp.ClientTimeout(total=min(5.0, self._settings.request_timeout))
        try:
            async with self._http().get(url, timeout=timeout, allow_redirects=False) as resp:
                await resp.read()
                self._note_answer(resp.headers)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("could not ask %s whether it is a simulator (%s)", self._settings.base_url, type(exc).__name__)
        return self._simulated

    def _note_answer(self, headers: Mapping[str, str]) -> None:
        """Learn from an answer's headers whether a simulator sent it."""
        if not self._simulated and headers.get(endpoints.SIMULATOR_HEADER):
            log.warning("LiblibAI at %s is a simulator: every result is simulated", self._settings.base_url)
            self._simulated = True

    @property
    def settings(self) -> LiblibSettings:
        return self._settings

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("LiblibClient is not open: use 'async with LiblibClient(...)' or inject a session")
        return self._session

    # The choke point -------------------------------------------------------------------------------

    async def _request(
        self,
        path: str,
        body: dict[str, Any],
        *,
        kind: RequestKind,
        parse: Callable[[Any], T],
        allow_bare: bool = False,
        gate: SubmitGate | None = None,
    ) -> T:
        """POST ``body`` to ``path`` with a fresh signature per attempt; retry per ``_should_retry``.

        Submits pass the rate limiter on every attempt, then ``gate.sending()``; an attempt retried is first
        reported to ``gate.not_sent``. Queries do neither. ``parse`` turns ``data`` into the result; a
        pydantic error there is a ``LiblibResponseValidationError`` (retried for queries).
        """

        async def attempt() -> T:
            if kind == "submit":
                await self._limiter.acquire()
                if gate is not None:
                    await gate.sending()
                await self._keep_submit_spacing()
            data = await self._post(path, body, allow_bare=allow_bare)
            try:
                return parse(data)
            except ValidationError as exc:
                raise LiblibResponseValidationError(f"{path}: unexpected response shape: {exc}") from exc

        return await self._with_retries(kind, path, attempt, before_retry=gate.not_sent if gate else None)

    async def _keep_submit_spacing(self) -> None:
        """Right before a submit leaves: at least one interval after the previous one left. The limiter spaced
        the turns; what ran between a turn and its request (the gate's store write) must not bunch them."""
        loop = asyncio.get_running_loop()
        wait = self._last_submit + self._submit_interval - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)  # the limiter's clock (the loop's), not the injectable retry sleep
        self._last_submit = loop.time()

    async def _with_retries(
        self,
        kind: RequestKind,
        label: str,
        attempt: Callable[[], Awaitable[T]],
        *,
        before_retry: Callable[[float], Awaitable[None]] | None = None,
    ) -> T:
        max_attempts = self._settings.max_retries + 1
        number = 1
        while True:
            try:
                return await attempt()
            except LiblibError as exc:
                if not _should_retry(kind, exc, number, max_attempts=max_attempts):
                    raise
                retry_after = exc.retry_after if isinstance(exc, LiblibStatusError) else None
                delay = retry_delay(number, retry_after, cap=self._settings.retry_backoff_cap)
                log.info(
                    "liblib %s %s: attempt %d/%d failed (%s, code=%s); retrying in %.2fs",
                    kind,
                    label,
                    number,
                    max_attempts,
                    type(exc).__name__,
                    getattr(exc, "code", None),
                    delay,
                )
                if before_retry is not None:
                    await before_retry(delay)
                await self._sleep(delay)
                number += 1

    async def _post(self, path: str, body: dict[str, Any], *, allow_bare: bool) -> Any:
        access_key = self._settings.access_key.get_secret_value() if self._settings.access_key else ""
        secret_key = self._settings.secret_key.get_secret_value() if self._settings.secret_key else ""
        if not access_key or not secret_key:
            raise LiblibAuthError("LiblibAI access key / secret key are not configured", status=0, path=path)
        query = signing.signed_query(path, access_key, secret_key)
        url = self._settings.base_url.rstrip("/") + path
        started = self._clock()
        with transport_errors(path):
            async with self._http().post(url, params=query, json=body, timeout=self._timeout) as resp:
                raw = await resp.read()
                status = resp.status
                self._note_answer(resp.headers)
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        log.debug(
            "liblib POST %s -> HTTP %d, %d bytes in %.0f ms", path, status, len(raw), 1000 * (self._clock() - started)
        )
        return decode_envelope(path, status, raw, retry_after, allow_bare=allow_bare)
