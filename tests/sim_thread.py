"""The LiblibAI simulator on its own thread and event loop, like the remote service it stands for.

Sharing the caller's loop would skew the simulator's clock readings: a submit that waited behind the bot's
(or the fake Discord's) work would be stamped late, and the next one could look early (a false rate-limit
violation). Used by the benchmarks and the multi-process tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from bot.liblib.simulator import SimTask, Simulator

T = TypeVar("T")


class SimThread:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="simulator", daemon=True)

    @property
    def counters(self) -> Any:
        return self.sim.counters

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` on the simulator's loop (its task book is not thread-safe)."""

        async def run() -> T:
            return fn(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(30)

    def tasks(self) -> list[SimTask]:
        return self.call(self.sim.tasks)

    def task(self, generate_uuid: str) -> SimTask | None:
        return self.call(self.sim.task, generate_uuid)

    def counter_snapshot(self) -> dict[str, Any]:
        return self.call(self.sim.counters.snapshot)

    @contextlib.contextmanager
    def running(self) -> Iterator[SimThread]:
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.sim.start("127.0.0.1", 0), self.loop).result(30)
            yield self
        finally:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self.sim.stop(), self.loop).result(30)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(30)
            self.loop.close()
