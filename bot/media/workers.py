"""The one place CPU-heavy image work runs: a small thread pool off the event loop, with a bounded backlog.

Pillow's decoders, encoders and resampling release the GIL while they work, so threads run them beside the
event loop: a 4096×4096 WebP takes ~1 s to decode and seconds to re-encode, which on the loop would hold back
every member's acknowledgement (Discord drops an interaction not acknowledged within 3 s). At most
``threads + queued`` calls are handed to the pool at once; later callers wait on the loop (cancellable,
costing nothing) until one finishes. A slot is freed when the work ends, not when its caller gives up, so a
cancelled caller never lets more work pile into the pool than the bound.

Owned by the composition root (``open_image_workers``), which shuts it down on close.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable
from typing import ParamSpec, TypeVar

from bot.settings import ImageSettings

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

_NICE = 5  # worker threads yield the CPU to the event loop's thread when both want it (Linux; best effort)


def _lower_priority() -> None:
    """Runs in each worker thread as it starts: on Linux a thread's nice value is its own."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _NICE)


class ImageWorkers:
    def __init__(self, threads: int = 2, queued: int = 8) -> None:
        if threads < 1 or queued < 0:
            raise ValueError("image workers: threads >= 1 and queued >= 0")
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix="image", initializer=_lower_priority
        )
        self._slots = asyncio.Semaphore(threads + queued)
        self._pending = 0
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pending(self) -> int:
        """Calls handed to the pool and not finished yet (running or queued), at most ``threads + queued``."""
        return self._pending

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` on a worker thread; its result or exception, as if called here."""
        await self._slots.acquire()
        loop = asyncio.get_running_loop()
        try:
            work = self._submit(functools.partial(fn, *args, **kwargs))
        except BaseException:
            self._slots.release()
            raise
        self._pending += 1
        work.add_done_callback(lambda _: self._release(loop))
        try:
            return await asyncio.wrap_future(work)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if work.cancelled() and self.closed and task is not None and not task.cancelling():
                raise RuntimeError("the image workers are shut down") from None  # dropped by close, not by us
            raise

    def _submit(self, call: Callable[[], T]) -> concurrent.futures.Future[T]:
        if self._closed:
            raise RuntimeError("the image workers are shut down")
        return self._pool.submit(call)

    def _release(self, loop: asyncio.AbstractEventLoop) -> None:
        """The work ended (on its thread, or cancelled by ``close``): free its slot on the loop."""
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits for a slot any more
            loop.call_soon_threadsafe(self._free_slot)

    def _free_slot(self) -> None:
        self._pending -= 1
        self._slots.release()

    def close(self) -> None:
        """Refuse new work and drop what is queued; a call already running finishes on its thread."""
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)


@contextlib.asynccontextmanager
async def open_image_workers(settings: ImageSettings) -> AsyncIterator[ImageWorkers]:
    workers = ImageWorkers(settings.workers, settings.queued)
    try:
        yield workers
    finally:
        workers.close()
