"""Memory: resident set of the bot idle, with 1,000 queued jobs, and while delivering images.

The bot runs as its own process (``python -m bot run``, the production entry point) against the fake
Discord and the simulator living in this process, so its /proc/<pid>/status (VmRSS, VmHWM) counts the bot
alone. Three figures:

1. idle: RSS after start-up (gateway connected, commands synced);
2. queued: RSS while 1,000 jobs are queued (written to the bot's SQLite store from here, as /imagine would;
   tasks last long, so the queue stays full while the runner orders it and reports positions);
3. images: peak RSS above the pre-delivery RSS while delivering 10 images, then 40 images (4 per job,
   up to 5 jobs at once), in one bot process after a warm-up delivery. The simulator's results are random
   pixels (~3 MB PNGs that do not compress). Images are streamed job by job, not held: the two peaks
   should be about equal.

Usage: python bench/memory.py [--queued 1000] [--images 10 40] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from _harness import bot_process, figure, header, proc_status, reset_peak

from bot.liblib.simulator import Simulator
from bot.models import GenerationRequest, Job, JobState, new_job_id
from bot.settings import SimulatorSettings
from bot.storage import Store, open_store
from tests.fake_discord import FakeDiscord


async def enqueue(store: Store, fake: FakeDiscord, count: int, images: int, tag: str) -> None:
    for i in range(count):
        job = Job(
            id=new_job_id(),
            user_id=fake.user_id,
            channel_id=fake.channel_id,
            guild_id=fake.guild_id,
            request=GenerationRequest(mode="star3", prompt=f"{tag} {i}", count=images),
        )
        await store.enqueue(job)


def delivered_images(fake: FakeDiscord) -> int:
    return sum(len(c.files) for c in fake.calls if c.method == "POST" and c.path.endswith("/messages") and c.files)


async def sample_rss(pid: int, seconds: float) -> int:
    """The highest VmRSS seen over ``seconds`` (KiB)."""
    highest = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        highest = max(highest, proc_status(pid)["VmRSS"])
        await asyncio.sleep(0.25)
    return highest


async def queued_phase(tmp: Path, queued: int, rate: float, seconds: float) -> tuple[int, int]:
    slow = SimulatorSettings(port=0, queued_seconds=5.0, running_seconds=50.0, auditing_seconds=5.0)
    async with FakeDiscord(validate_spec=False) as fake, Simulator(slow, submit_per_second=rate) as sim:
        db = tmp / "queued.db"
        async with open_store(f"sqlite:///{db}") as store, bot_process(fake, sim, db, rate=rate) as pid:
            idle = await sample_rss(pid, seconds / 4)
            await enqueue(store, fake, queued, 1, "queued")
            with_queue = await sample_rss(pid, seconds)
            still = len(await store.list_jobs([JobState.QUEUED]))
            print(f"(still queued when measured: {still}; submitted meanwhile: {sim.counters.submits})")
            return idle, with_queue


async def images_phase(tmp: Path, counts: list[int], rate: float) -> list[tuple[int, int, int, float]]:
    """One bot process: a warm-up delivery, then each count in turn; (count, rss before, peak, seconds)."""
    # Noisy results (~3 MB PNGs that do not compress, like detailed renders): were images held, the peak for
    # 40 images would be ~100 MB above the one for 10.
    quick = SimulatorSettings(port=0, queued_seconds=0.1, running_seconds=0.8, auditing_seconds=0.1, noisy_images=True)
    out = []
    async with FakeDiscord(validate_spec=False) as fake, Simulator(quick, submit_per_second=rate) as sim:
        db = tmp / "images.db"
        async with open_store(f"sqlite:///{db}") as store, bot_process(fake, sim, db, rate=rate) as pid:
            for count in [4, *counts]:  # the first, unreported, warms up imports and allocator pools
                target = delivered_images(fake) + count
                await asyncio.sleep(0.5)
                before = proc_status(pid)["VmRSS"]
                reset_peak(pid)
                started = time.monotonic()
                full, rest = divmod(count, 4)
                await enqueue(store, fake, full, 4, f"img{count}")
                if rest:
                    await enqueue(store, fake, 1, rest, f"img{count}-rest")
                while delivered_images(fake) < target:
                    if time.monotonic() - started > 120 + 3 * count:
                        raise TimeoutError(f"only {delivered_images(fake)}/{target} images delivered")
                    await asyncio.sleep(0.1)
                await asyncio.sleep(0.5)
                out.append((count, before, proc_status(pid)["VmHWM"], time.monotonic() - started))
    return out[1:]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queued", type=int, default=1000)
    parser.add_argument("--images", type=int, nargs="+", default=[10, 40])
    parser.add_argument("--rate", type=float, default=1.0, help="submits per second allowed")
    parser.add_argument("--quick", action="store_true", help="a small fast profile (CI smoke test, not figures)")
    args = parser.parse_args()
    if args.quick:
        args.queued, args.images, args.rate = 100, [4, 8], 4.0
    header("memory", queued=args.queued, images=args.images, rate=args.rate)
    with tempfile.TemporaryDirectory(prefix="liblib-bench-mem-") as name:
        tmp = Path(name)
        idle, with_queue = await queued_phase(tmp, args.queued, args.rate, 2.0 if args.quick else 10.0)
        figure("rss_idle", idle / 1024, "MiB")
        figure(f"rss_with_{args.queued}_queued", with_queue / 1024, "MiB")
        figure("rss_per_queued_job", (with_queue - idle) / args.queued, "KiB")
        deltas = []
        for count, before, peak, took in await images_phase(tmp, args.images, args.rate):
            deltas.append(peak - before)
            figure(f"peak_rss_delta_{count}_images", (peak - before) / 1024, f"MiB (in {took:.0f} s)")
        if len(deltas) >= 2:
            growth = (deltas[-1] - deltas[0]) / 1024
            figure("peak_delta_growth", growth, f"MiB for {args.images[-1] - args.images[0]} more images")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
