"""Acknowledgements first: work that can wait a moment yields to interactions still waiting for their answer.

Discord drops an interaction not acknowledged within 3 s, while the rest of a command (enqueueing, the
"Queued" edit) has no such deadline. On one event loop a burst of commands interleaves both, so the last
acknowledgements wait behind the first commands' database writes and edits. A command that has answered
calls ``wait_turn()`` before that work: it returns once no interaction received before it is still
unanswered (or after ``max_wait``, so nothing starves). An interaction holds others back only for
``HOLD`` seconds after it arrives: one nobody answers (a button no handler matches, a form from before a
restart) must not slow every command for the whole of Discord's 3 s window.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

HOLD = 1.0  # seconds; a burst of 200 commands is answered within ~0.3 s here


class _Response(Protocol):
    def is_done(self) -> bool: ...


class Answerable(Protocol):
    """What is needed of a ``discord.Interaction``."""

    @property
    def id(self) -> int: ...
    @property
    def response(self) -> _Response: ...


class AckPriority:
    def __init__(
        self, *, max_wait: float = 0.5, check_every: float = 0.005, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_wait = max_wait
        self._check_every = check_every
        self._clock = clock
        self._pending: dict[int, tuple[float, Answerable]] = {}
        self._queue: deque[tuple[float, asyncio.Future[None]]] = deque()  # callers waiting their turn, in order
        self._inside = 0  # callers in wait_turn (queued, or released but not yet resumed)
        self._watcher: asyncio.Task[None] | None = None

    def received(self, interaction: Answerable) -> None:
        """Call when an interaction arrives, before its handler runs (the gateway's parse)."""
        if len(self._pending) >= 64:
            self._prune()  # nobody may be waiting to prune (autocomplete, errors): keep the map small
        self._pending[interaction.id] = (self._clock(), interaction)

    @property
    def unanswered(self) -> int:
        self._prune()
        return len(self._pending)

    async def wait_turn(self) -> None:
        """Return when every interaction received so far has been answered (or expired), at most ``max_wait``.

        Callers resume in the order they called: one arriving while others still wait queues behind them even
        when nothing is unanswered any more, so the gate itself never reorders two commands' enqueues.
        """
        if not self._inside and not self.unanswered:
            return
        turn = asyncio.get_running_loop().create_future()
        self._queue.append((self._clock(), turn))
        self._inside += 1
        try:
            if self._watcher is None or self._watcher.done():
                self._watcher = asyncio.create_task(self._watch(), name="ack-priority-watch")
            await turn
        finally:
            self._inside -= 1

    async def _watch(self) -> None:
        # One poll for all callers (discord.py has no hook for "an interaction was answered"); releasing them
        # in queue order wakes them in that order, and whatever happens here releases them all.
        try:
            while self._must_wait():  # noqa: ASYNC110 - nothing signals "answered": polling is the only way
                await asyncio.sleep(self._check_every)
        finally:
            while self._queue:
                _, turn = self._queue.popleft()
                if not turn.done():
                    turn.set_result(None)

    def _must_wait(self) -> bool:
        return bool(self._queue) and self.unanswered > 0 and self._clock() - self._queue[0][0] < self.max_wait

    def _prune(self) -> None:
        now = self._clock()
        done = [
            key for key, (at, interaction) in self._pending.items() if interaction.response.is_done() or now - at > HOLD
        ]
        for key in done:
            del self._pending[key]
