"""The image worker pool: work runs off the event loop, the backlog is bounded, close drops what is queued."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator

import pytest

from bot.media.codec import as_png_or_jpeg, sniff_input
from bot.media.workers import ImageWorkers, open_image_workers
from bot.settings import ImageSettings
from tests.heartbeat import Heartbeat
from tests.media.samples import noisy_webp


@pytest.fixture
async def workers() -> AsyncIterator[ImageWorkers]:
    async with open_image_workers(ImageSettings(workers=1, queued=1)) as pool:
        yield pool


class Gate:
    """Work that blocks its worker thread until opened, recording that it started."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self._open = threading.Event()
        self.ran: list[str] = []

    def work(self, name: str) -> str:
        self.ran.append(name)
        self.started.set()
        self._open.wait(10)
        return name

    def open(self) -> None:
        self._open.set()


@pytest.fixture
def gate() -> Iterator[Gate]:
    g = Gate()
    yield g
    g.open()  # never leave a worker thread blocked


async def started(gate: Gate) -> None:
    assert await asyncio.to_thread(gate.started.wait, 10)


async def test_the_loop_keeps_ticking_while_a_large_conversion_runs(workers: ImageWorkers) -> None:
    """Checking and converting a 4096² WebP takes seconds of Pillow work; none of it on the loop."""
    data = noisy_webp()
    with Heartbeat() as heartbeat:
        image = await workers.run(sniff_input, data, field="image")
        upload = await workers.run(as_png_or_jpeg, image)
    assert upload.extension == "jpg"
    assert heartbeat.max_gap < 0.5, f"the event loop stalled for {heartbeat.max_gap:.2f}s"


async def test_work_runs_on_a_worker_thread_and_its_errors_reach_the_caller(workers: ImageWorkers) -> None:
    assert await workers.run(threading.current_thread) is not threading.current_thread()
    with pytest.raises(ValueError, match="bad pixels"):
        await workers.run(int, "bad pixels")  # ValueError: invalid literal for int() ... 'bad pixels'


async def test_no_more_than_threads_plus_queued_calls_reach_the_pool(workers: ImageWorkers, gate: Gate) -> None:
    """1 thread + 1 queued: the third caller waits on the loop, and a cancelled waiter's work never runs."""
    calls = [asyncio.create_task(workers.run(gate.work, name)) for name in ("a", "b", "c")]
    await started(gate)
    await asyncio.sleep(0)  # let every caller reach its await
    assert workers.pending == 2  # "a" running, "b" queued in the pool; "c" waits for a slot
    calls[2].cancel()
    calls[1].cancel()  # queued in the pool: dropped before it starts
    for call in calls[1:]:
        with pytest.raises(asyncio.CancelledError):
            await call
    gate.open()
    assert await calls[0] == "a"
    assert gate.ran == ["a"]
    assert await workers.run(str.upper, "d") == "D"  # every slot came back
    assert workers.pending == 0


async def test_a_cancelled_caller_keeps_its_slot_until_the_work_ends(workers: ImageWorkers, gate: Gate) -> None:
    """A thread cannot be stopped: the bound counts the work, not whether its caller still waits for it."""
    first = asyncio.create_task(workers.run(gate.work, "a"))
    await started(gate)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert workers.pending == 1
    gate.open()
    assert await workers.run(str.upper, "b") == "B"
    assert workers.pending == 0 and gate.ran == ["a"]


async def test_close_drops_queued_work_and_refuses_new_work(gate: Gate) -> None:
    pool = ImageWorkers(threads=1, queued=1)
    running = asyncio.create_task(pool.run(gate.work, "a"))
    await started(gate)
    queued = asyncio.create_task(pool.run(gate.work, "b"))
    await asyncio.sleep(0)
    pool.close()
    with pytest.raises(RuntimeError, match="shut down"):
        await queued  # dropped by close: an error for its caller, not a cancellation of its task
    with pytest.raises(RuntimeError, match="shut down"):
        await pool.run(str.upper, "c")
    gate.open()
    assert await running == "a"  # what was running finishes
    assert gate.ran == ["a"]
