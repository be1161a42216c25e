"""Generation tasks: the account's concurrency slots, submit, status queries and ``wait_for`` with adaptive
polling aimed at the learned task duration (liblib-api.md §4–§6, §9).

``submit`` takes a slot, held until the task reaches a terminal status (seen by ``get_status``) or ``release``
is called.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Unpack

from bot.backoff import retry_delay
from bot.liblib.base import TRANSIENT_ERRORS, BaseClient, ClientOptions, SubmitGate
from bot.liblib.durations import DurationEstimator
from bot.liblib.endpoints import DEFAULT_STATUS_PATH, Family, GenerateStatus
from bot.liblib.envelope import BODY_SNIPPET
from bot.liblib.errors import (
    AuditRejectedError,
    GenerationFailedError,
    GenerationTimedOutError,
    GenerationWaitTimeoutError,
    LiblibResponseValidationError,
    LiblibStatusError,
    LiblibTaskNotFoundError,
)
from bot.liblib.models import SubmitRequest, TaskResult, TaskStatus
from bot.settings import LiblibSettings

log = logging.getLogger(__name__)

_SLOW_QUERY = 1.0  # seconds; a status query that took longer (retries, backoff) is not used to learn durations
_MIN_STATUS_RETRY = 0.05  # seconds; the least wait before polling again after a failed status query


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


def _parse_submit(data: Any) -> str:
    uuid = data.get("generateUuid") if isinstance(data, dict) else None
    if not isinstance(uuid, str) or not uuid:
        raise LiblibResponseValidationError(f"submit response has no generateUuid: {str(data)[:BODY_SNIPPET]!r}")
    return uuid


class TasksMixin(BaseClient):
    """Slots, submit, status and polling on top of the base client's transport."""

    def __init__(self, settings: LiblibSettings, **options: Unpack[ClientOptions]) -> None:
        super().__init__(settings, **options)
        self._active: set[str] = set()
        self._submitting = 0
        self._capacity_changed = asyncio.Event()
        self._submitted_at: dict[str, float] = {}  # this process's submits still holding a slot (clock)
        self._durations = DurationEstimator(poll_interval_min=settings.poll_interval_min)
        self._latest_balance: tuple[int, datetime] | None = None

    @property
    def latest_balance(self) -> tuple[int, datetime] | None:
        """The account balance (points) the last status answer reported, and when it arrived."""
        return self._latest_balance

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

    # Durations ------------------------------------------------------------------------------------

    def estimated_duration(self, family: Family | None = None) -> float:
        """Seconds a task takes: the family's learned figure when known, else the median of recent tasks of
        any family (30 s before any finished)."""
        return self._durations.estimate(family)

    def estimated_wait(self, position: int) -> float:
        """Seconds until the job at queue ``position`` (1-based) starts: positions share the account's slots."""
        return self.estimated_duration() * position / max(1, self.free_slots + self.active_tasks)

    # Generation -----------------------------------------------------------------------------------

    async def submit(self, request: SubmitRequest, *, gate: SubmitGate | None = None) -> str:
        """Submit a generation and return its ``generateUuid``; waits for a free concurrency slot first.

        ``gate`` hears of each attempt once it holds its slot and turn, right before the request leaves, and of
        each attempt that provably created no task before it is tried again (see ``SubmitGate``).

        Raises ``LiblibConcurrencyError`` on 100054 (re-queue and try later). A ``LiblibConnectionError``
        with ``reached_server=True``, a ``LiblibServerError`` or a ``LiblibResponseValidationError`` means
        the task may exist (and be billed) although no uuid came back; it is never resubmitted here.
        """
        await self.wait_for_capacity()
        self._submitting += 1
        try:
            uuid = await self._request(request.path, request.to_body(), kind="submit", parse=_parse_submit, gate=gate)
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
        """The status route for a family, from settings where the sources disagree (liblib-api.md §6.1, §11.2);
        the newer families all poll ``/api/generate/status``."""
        configured = {
            Family.STAR3: self._settings.star3_status_path,
            Family.CUSTOM: self._settings.custom_status_path,
            Family.KONTEXT: self._settings.kontext_status_path,
            Family.COMFY: self._settings.comfy_status_path,
        }
        return configured.get(family) or DEFAULT_STATUS_PATH[family]

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
        if status.account_balance is not None:
            self._latest_balance = (status.account_balance, datetime.now(UTC))
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
        min_queries: int = 1,
    ) -> TaskResult:
        """Poll until the task is terminal and return its audited images.

        ``on_progress`` is awaited with every non-terminal status (errors in it are logged, not raised).
        Raises ``GenerationFailedError`` (status 6), ``GenerationTimedOutError`` (status 7),
        ``AuditRejectedError`` (status 5 with no usable image), each with the task's reported ``points_cost``,
        and ``GenerationWaitTimeoutError`` when
        ``timeout`` (default ``settings.task_timeout``) passes first; its slot is then released.
        A status query that fails transiently (429, 5xx, transport, a garbled answer) even after the retry
        policy is tried again until the deadline: the task keeps running, and is billed, at LiblibAI while its
        status route misbehaves; when they still fail at the deadline, that is ``GenerationWaitTimeoutError`` too.
        The deadline ends the wait only once the status was asked ``min_queries`` times (failed queries count):
        a task resumed after its deadline passed (a long downtime; it may have finished, and been charged) is
        still asked a few times, spaced by the backoff rule, before it is given up.
        Any other error propagates and keeps the slot.
        """
        lo, hi = self._settings.poll_interval_min, self._settings.poll_interval_max
        limit = self._settings.task_timeout if timeout is None else timeout
        begun = self._clock()
        deadline = begun + limit
        # Durations are measured from the submit. A task this process did not submit (resumed after a
        # restart) has no known start: it is polled the same way, but teaches nothing about durations.
        submitted = self._submitted_at.get(generate_uuid)
        started = begun if submitted is None else submitted
        previous: float | None = None  # when the last non-terminal status was seen
        failures = 0  # status queries failed in a row
        queries = 0  # status queries made (failed ones included)
        margin = _poll_margin(lo)
        expected = self._durations.expected(family)
        if expected is not None:
            # A duration is known: the first query is aimed just past it (one right after the submit tells
            # nothing), so a task that ran as long as the last ones is found done by a single query.
            first = expected + margin - (begun - started)
            await self._sleep(max(0.0, min(first, hi, limit)))
        while True:
            asked = self._clock()
            queries += 1
            # Before min_queries queries were made, the deadline does not end the wait.
            give_up_at = deadline if queries >= min_queries else math.inf
            try:
                status = await self.get_status(family, generate_uuid)
            except TRANSIENT_ERRORS as exc:
                failures += 1
                await self._before_status_retry(generate_uuid, exc, failures, give_up_at)
                continue
            now = self._clock()
            code = status.generate_status
            if code == GenerateStatus.SUCCEEDED:
                # A query slowed by retries or backoff, or following failed ones, no longer tells when the
                # task ended.
                if submitted is not None and not failures and now - asked <= _SLOW_QUERY:
                    self._durations.learn(family, started=started, previous=previous, now=now, margin=margin)
                return self._result(generate_uuid, status)
            if code == GenerateStatus.FAILED:
                raise GenerationFailedError(
                    status.generate_msg or "the image service reported a failure",
                    generate_uuid=generate_uuid,
                    status=code,
                    points_cost=status.points_cost,
                    account_balance=status.account_balance,
                )
            if code == GenerateStatus.TIMED_OUT:
                raise GenerationTimedOutError(
                    status.generate_msg or "the image service timed out the task",
                    generate_uuid=generate_uuid,
                    status=code,
                    points_cost=status.points_cost,
                    account_balance=status.account_balance,
                )
            failures = 0
            if on_progress is not None:
                try:
                    await on_progress(status)
                except Exception:
                    log.exception("liblib %s: progress callback failed", generate_uuid)
            if now >= give_up_at:
                self.release(generate_uuid)
                raise GenerationWaitTimeoutError(
                    f"stopped waiting after {limit:.0f}s (last status {code})",
                    generate_uuid=generate_uuid,
                    status=code,
                )
            previous = now
            if now >= deadline:  # past the deadline, still owed a query or two: ask again after a backoff wait
                await self._sleep(self._status_retry_delay(queries, None))
                continue
            interval = _next_poll_interval(status, now - started, self._durations.expected(family), lo=lo, hi=hi)
            await self._sleep(max(0.0, min(interval, deadline - now)))

    def _status_retry_delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds before asking a task's status again (the backoff rule, within the poll intervals)."""
        least = max(_MIN_STATUS_RETRY, self._settings.poll_interval_min)  # also under a hint of 0: never spin
        cap = max(least, self._settings.poll_interval_max)
        return retry_delay(attempt, retry_after, cap=cap, base=least, floor=least)

    async def _before_status_retry(
        self, generate_uuid: str, error: BaseException, failures: int, deadline: float
    ) -> None:
        """Wait before polling again after a transient failure; end the wait when the deadline comes first."""
        retry_after = error.retry_after if isinstance(error, LiblibStatusError) else None
        delay = self._status_retry_delay(failures, retry_after)
        if self._clock() + delay >= deadline:
            # The deadline, not the status route's trouble, ends the wait: the task may still finish there.
            self.release(generate_uuid)
            raise GenerationWaitTimeoutError(
                f"stopped waiting: status queries still failing at the deadline ({type(error).__name__})",
                generate_uuid=generate_uuid,
            ) from error
        log.warning(
            "liblib %s: status query failed (%s); polling again in %.1fs", generate_uuid, type(error).__name__, delay
        )
        await self._sleep(delay)

    def _result(self, generate_uuid: str, status: TaskStatus) -> TaskResult:
        result = TaskResult.from_status(status)
        if not result.images and not result.videos:
            blocked = status.blocked_count
            detail = f"{blocked} image(s) blocked" if blocked else "no image passed"
            raise AuditRejectedError(
                status.generate_msg or f"the content audit rejected the result ({detail})",
                generate_uuid=generate_uuid,
                status=status.generate_status,
                points_cost=status.points_cost,
                account_balance=status.account_balance,
            )
        return result
