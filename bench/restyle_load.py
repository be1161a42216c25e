"""Acknowledgements while a large image is converted: does one member's restyle hold the others back?

One member restyles a ~6 MB 4096×4096 WebP (random pixels: ~50 MB as a PNG, a few seconds of Pillow work to
check and convert) with ``/restyle``. As soon as the bot starts downloading it (plus ``--delay``), a burst of
40 ``/imagine`` from other members arrives. For each ``/imagine``: dispatch → its defer callback reaching the
fake Discord. The same burst without a restyle ("quiet", just before) is the baseline. Discord drops an
interaction not acknowledged within 3 s. Targets: **every loaded ack < 1 s**, and **the loaded burst's p99
within 2× the quiet burst's**. The restyle itself must be delivered, its upload within LiblibAI's 10 MB.

The bot runs as its own process (``python -m bot run``, as in ``ack.py``); the fake Discord lives in this
process and the simulator on its own thread. Each run starts a fresh bot; a warm-up burst comes first, and
every burst's jobs are delivered before the next phase starts. Figures are medians over runs.

Usage: python bench/restyle_load.py [--burst 40] [--members 20] [--runs 3] [--side 4096] [--delay 0.2]
                                    [--workers N] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
from _harness import add_members, bot_process, cpu_speed_ms, figure, header, imagine, percentile, wait_results

from bot.liblib.endpoints import MAX_INPUT_IMAGE_BYTES
from bot.liblib.simulator import Simulator
from bot.settings import SimulatorSettings
from tests.fake_discord import FakeDiscord, Interaction
from tests.media.samples import noisy_webp
from tests.sim_thread import SimThread

DURATIONS = (0.2, 1.0, 0.2)  # queued, running, auditing (s): short, so each phase's jobs drain quickly
RATE = 5.0  # submits per second (the account's limit in the simulator)


async def burst(fake: FakeDiscord, members: list[int], size: int, label: str) -> list[Interaction]:
    return list(await asyncio.gather(*(imagine(fake, f"{label} {i}", members[i % len(members)]) for i in range(size))))


async def ack_times(fake: FakeDiscord, interactions: list[Interaction]) -> tuple[list[float], list[Interaction]]:
    """Dispatch → the bot's callback, for each interaction (also when Discord refused it: past 3 s it answers
    10062 Unknown interaction); and the interactions acknowledged with a defer (their jobs will run)."""

    async def one(inter: Interaction) -> tuple[float, bool] | None:
        prefix = f"/interactions/{inter.id}/"
        try:
            call = await fake.wait_for_call(lambda c: c.path.startswith(prefix) and c.status != 429, timeout=30)
        except TimeoutError:
            return None
        return call.at - inter.created_at, call.status < 300 and (call.json or {}).get("type") == 5

    answers = await asyncio.gather(*(one(i) for i in interactions))
    times = [a[0] for a in answers if a is not None]
    return times, [i for i, a in zip(interactions, answers, strict=True) if a is not None and a[1]]


async def drain(fake: FakeDiscord, interactions: list[Interaction]) -> None:
    """Wait until every job of a burst was delivered, so its deliveries do not overlap the next phase."""
    await wait_results(fake, [i.token for i in interactions], within=180)


def restyle_outcome(call: Any, token: str) -> bool:
    """The restyle's answer after its defer: the "Queued" edit, or an error (follow-up or removal)."""
    return "/webhooks/" in call.path and token in call.path and call.method in ("PATCH", "POST", "DELETE")


async def uploaded_size(remote: SimThread) -> int | None:
    """The size of the restyle's source as LiblibAI received it (fetched back from the simulator's storage)."""
    urls = [url for task in remote.tasks() for url in task.params.get("image_list") or ()]
    if not urls:
        return None
    async with aiohttp.ClientSession() as http, http.get(urls[0]) as resp:
        return len(await resp.read()) if resp.status == 200 else None


async def run_once(args: argparse.Namespace, image: bytes) -> dict[str, Any]:
    queued, running, auditing = DURATIONS
    settings = SimulatorSettings(port=0, queued_seconds=queued, running_seconds=running, auditing_seconds=auditing)
    sim = Simulator(settings, submit_per_second=RATE, max_concurrent=5)
    with tempfile.TemporaryDirectory(prefix="liblib-bench-restyle-") as tmp, SimThread(sim).running() as remote:
        async with FakeDiscord(validate_spec=False) as fake:
            env = {"LIBBOT_FETCH__EXTRA_HOSTS": json.dumps([fake.base_url])}  # the fake's CDN, as Discord's
            if args.workers:
                env["LIBBOT_IMAGES__WORKERS"] = str(args.workers)
            async with bot_process(fake, sim, Path(tmp) / "bot.db", rate=RATE, env=env):
                *others, painter = add_members(fake, args.members + 1)
                _, warm = await ack_times(fake, await burst(fake, others, 10, "warm-up"))
                await drain(fake, warm)

                speed = cpu_speed_ms()
                quiet_acks, quiet = await ack_times(fake, await burst(fake, others, args.burst, "quiet"))
                await drain(fake, quiet)

                attachment = fake.host_file("holiday.webp", image, "image/webp")
                since = len(fake.calls)
                restyle = await fake.slash(
                    "restyle", {"prompt": "as an oil painting"}, attachments={"image": attachment}, user_id=painter
                )
                await fake.wait_for_call(lambda c: c.method == "GET" and "/attachments/" in c.path, since=since)
                await asyncio.sleep(args.delay)  # the experiment: the burst lands while the image is processed
                loaded_acks, loaded = await ack_times(fake, await burst(fake, others, args.burst, "loaded"))
                answer = await fake.wait_for_call(lambda c: restyle_outcome(c, restyle.token), since=since, timeout=60)
                started = answer.method == "PATCH"  # queued; an error is a follow-up after removing "thinking..."
                await drain(fake, loaded)
                delivered = False
                if started:
                    try:
                        await wait_results(fake, [restyle.token], within=60)
                        delivered = True
                    except TimeoutError:
                        pass
                return {
                    "quiet": quiet_acks,
                    "loaded": loaded_acks,
                    "failed": 2 * args.burst - len(quiet) - len(loaded),
                    "speed": speed,
                    "restyle_queued_after": answer.at - restyle.created_at,
                    "delivered": delivered,
                    "upload": await uploaded_size(remote) if started else None,
                }


def summary(name: str, runs: list[list[float]]) -> None:
    for label, pct in (("p50", 50), ("p99", 99)):
        figure(f"{name}_{label}", statistics.median(percentile(r, pct) * 1000 for r in runs), "ms")
    figure(f"{name}_max", max(max(r) for r in runs) * 1000, "ms")
    print(f"{name} p99 per run (ms): " + ", ".join(f"{percentile(r, 99) * 1000:.0f}" for r in runs))


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--burst", type=int, default=40)
    parser.add_argument("--members", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--side", type=int, default=4096, help="the restyled WebP is side × side random pixels")
    parser.add_argument("--delay", type=float, default=0.2, help="seconds after the bot starts downloading")
    parser.add_argument("--workers", type=int, default=0, help="image worker threads (0: the bot's default)")
    parser.add_argument("--quick", action="store_true", help="a small fast profile (CI smoke test, not figures)")
    args = parser.parse_args()
    if args.quick:
        args.burst, args.members, args.runs, args.side = 20, 8, 1, 1024
    image = noisy_webp(args.side)
    header(
        "restyle_load",
        burst=args.burst,
        members=args.members,
        runs=args.runs,
        image=f"{args.side}x{args.side} WebP, {len(image) / 1e6:.1f} MB",
        delay=args.delay,
        workers=args.workers or "default",
    )
    runs = [await run_once(args, image) for _ in range(args.runs)]
    quiet = [r["quiet"] for r in runs]
    loaded = [r["loaded"] for r in runs]
    summary("quiet_ack", quiet)
    summary("loaded_ack", loaded)
    ratios = [percentile(b, 99) / percentile(a, 99) for a, b in zip(quiet, loaded, strict=True)]
    figure("p99_ratio", statistics.median(ratios))
    print("p99 ratio per run: " + ", ".join(f"{x:.2f}" for x in ratios))
    missing = sum(int(r["failed"]) for r in runs)
    figure("ack_missing_or_failed", missing, "(not acknowledged with a defer: no answer, or refused past 3 s)")
    queued_after = statistics.median(r["restyle_queued_after"] for r in runs)
    figure("restyle_queued_after", queued_after, "s (dispatch to the Queued edit: download, check, convert, upload)")
    delivered = sum(bool(r["delivered"]) for r in runs)
    figure("restyle_delivered", delivered, f"of {len(runs)}")
    uploads = [int(r["upload"]) for r in runs if r["upload"] is not None]
    figure("restyle_upload_bytes", max(uploads) if uploads else 0, f"(limit {MAX_INPUT_IMAGE_BYTES})")
    figure("cpu_calibration_ms", statistics.median(float(r["speed"]) for r in runs), "ms (lower is faster)")
    worst = max(max(r) for r in loaded)
    verdict = "met" if worst < 1.0 and statistics.median(ratios) <= 2.0 else "MISSED"
    print(f"target (every loaded ack < 1 s, loaded p99 <= 2x quiet p99): {verdict}")
    lost = missing > 0 or delivered < len(runs) or any(u > MAX_INPUT_IMAGE_BYTES for u in uploads)
    return 1 if lost or worst >= 3.0 else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
