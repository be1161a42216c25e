"""Async client for the LiblibAI open API (liblib-api.md; STYLE §2.4–2.5).

One choke point, ``_request``, signs every attempt afresh, passes submits through the rate limiter,
checks the HTTP status and the ``{code, msg, data}`` envelope, and retries according to one pure policy
(``_should_retry`` + ``bot.backoff.retry_delay``). A submit is not idempotent (it may spend points), so it is retried
only when the request provably never reached the server, or on 429 (the task was not created).

The client also keeps the account's concurrency slots: ``submit`` takes one, and it is held until the task
reaches a terminal status (seen by ``get_status``) or ``release`` is called.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import PurePath
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

import aiohttp
from aiolimiter import AsyncLimiter
from pydantic import ValidationError
from yarl import URL

from bot.backoff import parse_retry_after, retry_delay
from bot.liblib import endpoints, signing
from bot.liblib.endpoints import Family, GenerateStatus
from bot.liblib.errors import (
    AuditRejectedError,
    GenerationFailedError,
    GenerationTimedOutError,
    GenerationWaitTimeoutError,
    LiblibAuthError,
    LiblibConnectionError,
    LiblibError,
    LiblibModelNotFoundError,
    LiblibPayloadTooLargeError,
    LiblibRateLimitError,
    LiblibResponseValidationError,
    LiblibServerError,
    LiblibStatusError,
    LiblibTaskNotFoundError,
    LiblibTimeoutError,
    error_for_code,
)
from bot.liblib.models import ModelVersion, SubmitRequest, TaskResult, TaskStatus, UploadSignature
from bot.settings import LiblibSettings

log = logging.getLogger(__name__)

T = TypeVar("T")
RequestKind = Literal["submit", "query"]

UPLOAD_EXTENSIONS = frozenset({"jpg", "jpeg", "png"})
_CONTENT_TYPE_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/jpg": "jpg"}
_BODY_SNIPPET = 200
# Submits are spaced 2 % wider than the account's rate: the server stamps arrivals, and a request that left
# a little late followed by one that left on time would otherwise look early to it (429, then a retry).
_SUBMIT_SPACING = 1.02
_SLOW_QUERY = 1.0  # seconds; a status query that took longer (retries, backoff) is not used to learn durations


# --------------------------------------------------------------------------------------------------
# Retry policy: pure functions, table-tested (tests/unit/test_retry_policy.py)
# --------------------------------------------------------------------------------------------------


def _should_retry(kind: RequestKind, error: BaseException, attempt: int, *, max_attempts: int) -> bool:
    """Whether attempt number ``attempt`` (1-based) that failed with ``error`` should be tried again.

    Queries (status, upload signature, model version, downloads, OSS upload) retry transport errors,
    timeouts, HTTP 429/5xx, envelope 429/200000/210000 and malformed responses. A submit retries only a
    rate limit (the task was not created) or a connect failure that never reached the server.
    """
    if attempt >= max_attempts:
        return False
    if isinstance(error, LiblibRateLimitError):
        return True
    if isinstance(error, LiblibConnectionError):  # includes LiblibTimeoutError
        return kind == "query" or not error.reached_server
    if kind == "submit":
        return False
    return isinstance(error, LiblibServerError | LiblibResponseValidationError)


def _poll_margin(lo: float) -> float:
    """How far past a predicted end a query is aimed: late enough that one query usually finds the task
    done, early enough that a finished task frees its concurrency slot promptly."""
    return lo / 4


def _next_poll_interval(status: TaskStatus, elapsed: float, expected: float | None, *, lo: float, hi: float) -> float:
    """How long to wait before the next status query.

    Aims just past the predicted end (``lo/4`` after it): the family's expected duration (learned from
    recent tasks), or later when ``percentCompleted`` says more is left, so one query usually finds the
    task done. Once past that end it checks every ``lo/2`` until ``2*lo`` past it; a task far from done
    is asked only every ``hi`` (every ``lo`` once only the audit is left). With nothing to go on, or well
    past the predicted end, it backs off with the time already spent.
    """
    hi = max(lo, hi)
    cap = lo if status.generate_status >= GenerateStatus.GENERATED else hi
    remaining = None if expected is None else expected - elapsed
    progress = status.progress
    if progress is not None and 0 < progress < 1 and elapsed > 0:
        by_progress = elapsed * (1 - progress) / progress
        remaining = by_progress if remaining is None else max(remaining, by_progress)
    if remaining is None:
        return min(cap, max(lo, elapsed / 2))
    if remaining > 0:
        return min(cap, remaining + _poll_margin(lo))
    if remaining > -2 * lo:
        return min(cap, lo / 2)
    return min(cap, max(lo, -remaining / 2))


# --------------------------------------------------------------------------------------------------
# Response decoding
# --------------------------------------------------------------------------------------------------


def _snippet(raw: bytes) -> str:
    text = raw[:_BODY_SNIPPET].decode("utf-8", errors="replace")
    return text + ("…" if len(raw) > _BODY_SNIPPET else "")


def _status_error(code: int, msg: str, *, status: int, path: str, retry_after: float | None) -> LiblibStatusError:
    error = error_for_code(code, msg, status=status, path=path)
    error.retry_after = retry_after
    return error


def _decode_envelope(path: str, status: int, raw: bytes, retry_after: float | None, *, allow_bare: bool) -> Any:
    """Check the HTTP status and the ``{code, msg, data}`` envelope; return ``data``.

    ``allow_bare``: a JSON object without ``code`` is returned as is (the model-version route may answer so).
    """
    try:
        payload: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        payload = None

    if not 200 <= status < 300:
        code, msg = status, f"HTTP {status}"
        if isinstance(payload, dict):
            env_code = _as_int(payload.get("code"))
            if env_code:
                code = env_code
            msg = str(payload.get("msg") or payload.get("message") or msg)
        log.warning("liblib %s: HTTP %d code=%s", path, status, code)
        raise _status_error(code, msg, status=status, path=path, retry_after=retry_after)

    if not isinstance(payload, dict):
        kind = "not JSON" if payload is None else "not a JSON object"
        raise LiblibResponseValidationError(f"{path}: response is {kind} ({len(raw)} bytes): {_snippet(raw)!r}")
    if "code" not in payload:
        if allow_bare:
            return payload
        raise LiblibResponseValidationError(f"{path}: response has no 'code': {_snippet(raw)!r}")
    envelope_code = _as_int(payload.get("code"))
    if envelope_code is None:
        raise LiblibResponseValidationError(f"{path}: response 'code' is not an integer: {_snippet(raw)!r}")
    if envelope_code != 0:
        msg = str(payload.get("msg") or payload.get("message") or "")
        log.warning("liblib %s: code=%d", path, envelope_code)
        raise _status_error(envelope_code, msg, status=status, path=path, retry_after=retry_after)
    data = payload.get("data")
    if data is None:
        raise LiblibResponseValidationError(f"{path}: success without 'data': {_snippet(raw)!r}")
    return data


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return int(value.strip())
    return None


def _http_error(status: int, what: str, *, path: str, retry_after: float | None) -> LiblibStatusError:
    """A non-2xx answer from a host that is not the API (OSS, result image CDN)."""
    cls: type[LiblibStatusError]
    if status == 429:
        cls = LiblibRateLimitError
    elif status >= 500:
        cls = LiblibServerError
    else:
        cls = LiblibStatusError
    error = cls(f"{what}: HTTP {status}", status=status, code=None, path=path)
    error.retry_after = retry_after
    return error


@contextlib.contextmanager
def _transport_errors(label: str) -> Iterator[None]:
    """Map aiohttp/asyncio transport failures to the Liblib error tree, noting whether the server was reached."""
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:  # the TCP/TLS connection was never established
        raise LiblibTimeoutError(f"{label}: timed out connecting", reached_server=False) from exc
    except aiohttp.ClientConnectorError as exc:  # refused, DNS, TLS handshake: the request never left
        raise LiblibConnectionError(f"{label}: could not connect ({exc.os_error})", reached_server=False) from exc
    except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
        raise LiblibTimeoutError(f"{label}: no response in time", reached_server=True) from exc
    except aiohttp.ClientError as exc:  # disconnected, reset, truncated payload: it may have been processed
        raise LiblibConnectionError(f"{label}: {type(exc).__name__}", reached_server=True) from exc


def _parse_submit(data: Any) -> str:
    uuid = data.get("generateUuid") if isinstance(data, dict) else None
    if not isinstance(uuid, str) or not uuid:
        raise LiblibResponseValidationError(f"submit response has no generateUuid: {str(data)[:_BODY_SNIPPET]!r}")
    return uuid


def _parse_model_version(data: Any) -> ModelVersion:
    if isinstance(data, dict) and "message" in data and not ({"versionUuid", "version_uuid"} & data.keys()):
        raise LiblibModelNotFoundError(str(data["message"]), code=200001, path=endpoints.MODEL_VERSION)
    return ModelVersion.model_validate(data)


# --------------------------------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------------------------------


class LiblibClient:
    """The LiblibAI adapter. Use as ``async with LiblibClient(settings) as client:``."""

    def __init__(
        self,
        settings: LiblibSettings,
        *,
        session: aiohttp.ClientSession | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._session = session
        self._owns_session = session is None
        self._sleep = sleep
        self._clock = clock
        self._simulated = False
        self._limiter = AsyncLimiter(max_rate=1, time_period=_SUBMIT_SPACING / settings.submit_per_second)
        self._timeout = aiohttp.ClientTimeout(total=settings.request_timeout, sock_connect=settings.connect_timeout)
        # Transfers of image bytes: bounded by stalls, not by total time.
        self._transfer_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=settings.connect_timeout, sock_read=settings.request_timeout
        )
        self._active: set[str] = set()
        self._submitting = 0
        self._capacity_changed = asyncio.Event()
        self._expected_duration: dict[Family, float] = {}
        self._first_query_hits: dict[Family, int] = {}  # tasks in a row found done by their first query
        self._submitted_at: dict[str, float] = {}  # this process's submits still holding a slot (clock)

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
        """True when pointed at the built-in simulator (set by the composition root)."""
        return self._simulated

    @simulated.setter
    def simulated(self, value: bool) -> None:
        self._simulated = value

    @property
    def settings(self) -> LiblibSettings:
        return self._settings

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("LiblibClient is not open: use 'async with LiblibClient(...)' or inject a session")
        return self._session

    # Concurrency slots ----------------------------------------------------------------------------

    @property
    def active_tasks(self) -> int:
        """Slots held: submitted tasks not yet terminal or released, plus submits in flight."""
        return len(self._active) + self._submitting

    @property
    def free_slots(self) -> int:
        return max(0, self._settings.max_concurrent_tasks - self.active_tasks)

    async def wait_for_capacity(self) -> None:
        """Return once a concurrency slot is free (without taking it)."""
        while self.free_slots <= 0:
            self._capacity_changed.clear()
            await self._capacity_changed.wait()

    def adopt(self, generate_uuid: str) -> None:
        """Count an already-submitted task (e.g. after a restart) as holding a slot; may exceed the cap."""
        self._active.add(generate_uuid)

    def release(self, generate_uuid: str) -> None:
        """Free the task's slot. Idempotent."""
        self._submitted_at.pop(generate_uuid, None)
        if generate_uuid in self._active:
            self._active.discard(generate_uuid)
            self._capacity_changed.set()

    # Generation -----------------------------------------------------------------------------------

    async def submit(self, request: SubmitRequest) -> str:
        """Submit a generation and return its ``generateUuid``; waits for a free concurrency slot first.

        Raises ``LiblibConcurrencyError`` on 100054 (re-queue and try later). A ``LiblibConnectionError``
        with ``reached_server=True``, a ``LiblibServerError`` or a ``LiblibResponseValidationError`` means
        the task may exist (and be billed) although no uuid came back; it is never resubmitted here.
        """
        await self.wait_for_capacity()
        self._submitting += 1
        try:
            uuid = await self._request(request.path, request.to_body(), kind="submit", parse=_parse_submit)
        except BaseException:
            self._submitting -= 1
            self._capacity_changed.set()
            raise
        self._submitting -= 1
        self._active.add(uuid)
        self._submitted_at[uuid] = self._clock()
        log.info("liblib submitted %s via %s (%d active)", uuid, request.path, self.active_tasks)
        return uuid

    def status_path(self, family: Family) -> str:
        """The status route for a family, from settings (liblib-api.md §6.1, §11.2)."""
        return {
            Family.STAR3: self._settings.star3_status_path,
            Family.CUSTOM: self._settings.custom_status_path,
            Family.KONTEXT: self._settings.kontext_status_path,
        }[family]

    async def get_status(self, family: Family, generate_uuid: str) -> TaskStatus:
        """Query a task once. Frees its slot when the status is terminal or the task is unknown (100051)."""
        try:
            status = await self._request(
                self.status_path(family),
                {"generateUuid": generate_uuid},
                kind="query",
                parse=TaskStatus.model_validate,
            )
        except LiblibTaskNotFoundError:
            self.release(generate_uuid)
            raise
        if not status.generate_uuid:
            status.generate_uuid = generate_uuid
        if status.is_terminal:
            self.release(generate_uuid)
        return status

    async def wait_for(
        self,
        family: Family,
        generate_uuid: str,
        *,
        on_progress: Callable[[TaskStatus], Awaitable[None]] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - a deadline on the polled task, part of the API
    ) -> TaskResult:
        """Poll until the task is terminal and return its audited images.

        ``on_progress`` is awaited with every non-terminal status (errors in it are logged, not raised).
        Raises ``GenerationFailedError`` (status 6), ``GenerationTimedOutError`` (status 7),
        ``AuditRejectedError`` (status 5 with no usable image) and ``GenerationWaitTimeoutError`` when
        ``timeout`` (default ``settings.task_timeout``) passes first; its slot is then released.
        Transport/API errors that survive the retry policy propagate and keep the slot.
        """
        limit = self._settings.task_timeout if timeout is None else timeout
        begun = self._clock()
        deadline = begun + limit
        # Durations are measured from the submit. A task this process did not submit (resumed after a
        # restart) has no known start: it is polled the same way, but teaches nothing about durations.
        submitted = self._submitted_at.get(generate_uuid)
        started = begun if submitted is None else submitted
        previous: float | None = None  # when the last non-terminal status was seen
        expected = self._expected_duration.get(family)
        margin = _poll_margin(self._settings.poll_interval_min)
        if expected is not None:
            # A duration is known: the first query is aimed just past it (one right after the submit tells
            # nothing), so a task that ran as long as the last ones is found done by a single query.
            first = expected + margin - (begun - started)
            await self._sleep(max(0.0, min(first, self._settings.poll_interval_max, limit)))
        while True:
            asked = self._clock()
            status = await self.get_status(family, generate_uuid)
            now = self._clock()
            code = status.generate_status
            if code == GenerateStatus.SUCCEEDED:
                # A query slowed by retries or backoff no longer tells when the task ended.
                if submitted is not None and now - asked <= _SLOW_QUERY:
                    self._record_duration(family, self._observed_duration(family, started, previous, now, margin))
                return self._result(generate_uuid, status)
            if code == GenerateStatus.FAILED:
                raise GenerationFailedError(
                    status.generate_msg or "the image service reported a failure",
                    generate_uuid=generate_uuid,
                    status=code,
                )
            if code == GenerateStatus.TIMED_OUT:
                raise GenerationTimedOutError(
                    status.generate_msg or "the image service timed out the task",
                    generate_uuid=generate_uuid,
                    status=code,
                )
            if on_progress is not None:
                try:
                    await on_progress(status)
                except Exception:
                    log.exception("liblib %s: progress callback failed", generate_uuid)
            if now >= deadline:
                self.release(generate_uuid)
                raise GenerationWaitTimeoutError(
                    f"stopped waiting after {limit:.0f}s (last status {code})",
                    generate_uuid=generate_uuid,
                    status=code,
                )
            previous = now
            interval = _next_poll_interval(
                status,
                now - started,
                self._expected_duration.get(family),
                lo=self._settings.poll_interval_min,
                hi=self._settings.poll_interval_max,
            )
            await self._sleep(max(0.0, min(interval, deadline - now)))

    def _result(self, generate_uuid: str, status: TaskStatus) -> TaskResult:
        result = TaskResult.from_status(status)
        if not result.images:
            blocked = status.blocked_count
            detail = f"{blocked} image(s) blocked" if blocked else "no image passed"
            raise AuditRejectedError(
                status.generate_msg or f"the content audit rejected the result ({detail})",
                generate_uuid=generate_uuid,
                status=status.generate_status,
            )
        return result

    def _observed_duration(
        self, family: Family, started: float, previous: float | None, now: float, margin: float
    ) -> float:
        """What a finished task says about the family's duration, without drifting later by the polling delay.

        Seen running at ``previous`` and done at ``now``: when those are close it ended in between, so take
        the middle. Done at the first query: it ended at some unknown moment before, so record less than the
        moment aimed at (80 %, then 64 % for more such tasks in a row). The next first query comes earlier:
        the estimate follows tasks that get faster instead of only ever growing, at the cost of a second
        query now and then once it undershoots.
        """
        if previous is None:
            # Capped: with several tasks in flight, completions in a row are not independent evidence.
            streak = min(2, self._first_query_hits.get(family, 0) + 1)
            self._first_query_hits[family] = streak
            return max(0.0, now - started - margin) * 0.8**streak
        self._first_query_hits[family] = 0
        if now - previous <= self._settings.poll_interval_min:
            return (previous + now) / 2 - started
        return now - started

    def _record_duration(self, family: Family, seconds: float) -> None:
        previous = self._expected_duration.get(family)
        self._expected_duration[family] = seconds if previous is None else 0.7 * previous + 0.3 * seconds

    # Uploads and metadata --------------------------------------------------------------------------

    async def request_upload_signature(self, name: str, extension: str) -> UploadSignature:
        """A PostObject signature for one upload (§7 step 1)."""
        return await self._request(
            endpoints.UPLOAD_SIGNATURE,
            {"name": name, "extension": extension},
            kind="query",
            parse=UploadSignature.model_validate,
        )

    async def upload_image(self, data: bytes, filename: str, content_type: str) -> str:
        """Upload a jpg/png (≤10 MB) to LiblibAI's OSS bucket and return its public URL.

        Raises ``ValueError`` for a wrong type or size (check before calling).
        """
        if len(data) > endpoints.MAX_INPUT_IMAGE_BYTES:
            raise ValueError(
                f"the image is {len(data) / 1048576:.1f} MB; the limit is "
                f"{endpoints.MAX_INPUT_IMAGE_BYTES // 1048576} MB"
            )
        stem, extension = _split_filename(filename, content_type)
        signature = await self.request_upload_signature(stem, extension)
        upload_name = f"{stem}.{extension}"

        async def attempt() -> None:
            form = aiohttp.FormData(quote_fields=False)
            for name, value in signature.form_fields():
                form.add_field(name, value)
            form.add_field("file", data, filename=upload_name, content_type=content_type)
            with _transport_errors("oss upload"):
                async with self._http().post(signature.post_url, data=form, timeout=self._transfer_timeout) as resp:
                    body = await resp.read()
                    if not 200 <= resp.status < 300:
                        log.warning("liblib oss upload: HTTP %d", resp.status)
                        raise _http_error(
                            resp.status,
                            f"upload rejected by storage ({_snippet(body)})",
                            path="oss upload",
                            retry_after=parse_retry_after(resp.headers.get("Retry-After")),
                        )

        await self._with_retries("query", "oss upload", attempt)
        return signature.public_url

    async def get_model_version(self, version_uuid: str) -> ModelVersion:
        """Checkpoint/LoRA metadata (§8); accepts the enveloped camelCase and the bare snake_case answer."""
        try:
            return await self._request(
                endpoints.MODEL_VERSION,
                {"versionUuid": version_uuid},
                kind="query",
                parse=_parse_model_version,
                allow_bare=True,
            )
        except LiblibStatusError as exc:
            if type(exc) is LiblibStatusError and exc.status in (400, 404):  # bare {"message": ...} form
                raise LiblibModelNotFoundError(exc.message, status=exc.status, code=exc.code, path=exc.path) from exc
            raise

    async def download(self, url: str, *, max_bytes: int) -> bytes:
        """GET a result image (no auth), refusing more than ``max_bytes``; transient errors are retried."""
        label = f"download {URL(url).path}"

        async def attempt() -> bytes:
            with _transport_errors(label):
                async with self._http().get(url, timeout=self._transfer_timeout) as resp:
                    if resp.status != 200:
                        await resp.read()
                        raise _http_error(
                            resp.status,
                            "result image fetch failed",
                            path=label,
                            retry_after=parse_retry_after(resp.headers.get("Retry-After")),
                        )
                    if resp.content_length is not None and resp.content_length > max_bytes:
                        raise LiblibPayloadTooLargeError(f"{label}: {resp.content_length} bytes > {max_bytes}")
                    buffer = bytearray()
                    async for chunk in resp.content.iter_chunked(64 * 1024):
                        buffer += chunk
                        if len(buffer) > max_bytes:
                            raise LiblibPayloadTooLargeError(f"{label}: more than {max_bytes} bytes")
                    return bytes(buffer)

        return await self._with_retries("query", label, attempt)

    # The choke point -------------------------------------------------------------------------------

    async def _request(
        self,
        path: str,
        body: dict[str, Any],
        *,
        kind: RequestKind,
        parse: Callable[[Any], T],
        allow_bare: bool = False,
    ) -> T:
        """POST ``body`` to ``path`` with a fresh signature per attempt; retry per ``_should_retry``.

        Submits pass the rate limiter on every attempt; queries do not. ``parse`` turns ``data`` into the
        result; a pydantic error there is a ``LiblibResponseValidationError`` (retried for queries).
        """

        async def attempt() -> T:
            if kind == "submit":
                await self._limiter.acquire()
            data = await self._post(path, body, allow_bare=allow_bare)
            try:
                return parse(data)
            except ValidationError as exc:
                raise LiblibResponseValidationError(f"{path}: unexpected response shape: {exc}") from exc

        return await self._with_retries(kind, path, attempt)

    async def _with_retries(self, kind: RequestKind, label: str, attempt: Callable[[], Awaitable[T]]) -> T:
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
        with _transport_errors(path):
            async with self._http().post(url, params=query, json=body, timeout=self._timeout) as resp:
                raw = await resp.read()
                status = resp.status
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        log.debug(
            "liblib POST %s -> HTTP %d, %d bytes in %.0f ms", path, status, len(raw), 1000 * (self._clock() - started)
        )
        return _decode_envelope(path, status, raw, retry_after, allow_bare=allow_bare)


def _split_filename(filename: str, content_type: str) -> tuple[str, str]:
    """(name, extension) for the upload signature: the stem (1–100 chars) and jpg/jpeg/png."""
    pure = PurePath(filename or "image")
    extension = pure.suffix.lstrip(".").lower()
    if not extension:
        extension = _CONTENT_TYPE_EXTENSIONS.get(content_type.lower(), "")
    if extension not in UPLOAD_EXTENSIONS:
        raise ValueError(f"only jpg, jpeg and png images can be uploaded (got {extension or content_type!r})")
    stem = (pure.stem if pure.suffix else pure.name).strip() or "image"
    return stem[:100], extension
