"""A probe of the event loop's responsiveness, for the tests that check slow work stays off it."""

from __future__ import annotations

import asyncio
import time


class Heartbeat:
    """Ticks every 10 ms on the event loop; ``max_gap`` is the longest the loop kept it waiting."""

    def __init__(self) -> None:
        self.max_gap = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _beat(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)  # the sleep under test: how late it wakes is the measurement
            now = time.monotonic()
            self.max_gap = max(self.max_gap, now - last)
            last = now

    def __enter__(self) -> Heartbeat:
        self._task = asyncio.get_running_loop().create_task(self._beat())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
