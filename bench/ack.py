"""Acknowledgement latency: how fast does ``/imagine`` defer under a burst?

200 ``/imagine`` interactions (from 20 members) are dispatched at once on the fake gateway. For each one
we measure the time from its dispatch to the defer callback (interaction response type 5) reaching the
fake Discord, and, as a second figure, to the "Queued - position N" edit that follows the enqueue.
Discord invalidates an interaction not acknowledged within 3 s. Target: p99 < 250 ms on 2 cores, max < 3 s.

By default the bot runs as its own process (``python -m bot run``, the production entry point), as it
does against the real Discord, and the fake Discord and the simulator live in this process: the figures
are the bot's. ``--in-process`` runs the bot on this process's event loop instead, next to the fake, so
the fake's work is counted too (an upper bound; every other benchmark runs that way).

Usage: python bench/ack.py [--interactions 200] [--members 20] [--runs 3] [--in-process] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from _harness import (
    CallWatch,
    add_members,
    bench_bot,
    bot_process,
    cpu_speed_ms,
    figure,
    header,
    imagine,
    is_ack,
    percentile,
    webhook_token,
)

from bot.liblib.simulator import Simulator
from bot.settings import SimulatorSettings
from tests.fake_discord import FakeDiscord

DURATIONS = (1.0, 8.0, 1.0)


@contextlib.asynccontextmanager
async def fake_with_bot(in_process: bool) -> AsyncIterator[FakeDiscord]:
    """The fake Discord with a connected bot: on this event loop, or as its own process."""
    if in_process:
        async with bench_bot(durations=DURATIONS) as b:
            yield b.fake
        return
    queued, running, auditing = DURATIONS
    sim_settings = SimulatorSettings(port=0, queued_seconds=queued, running_seconds=running, auditing_seconds=auditing)
    with tempfile.TemporaryDirectory(prefix="liblib-bench-ack-") as tmp:
        async with (
            FakeDiscord(validate_spec=False) as fake,
            Simulator(sim_settings) as sim,
            bot_process(fake, sim, Path(tmp) / "bot.db", rate=1.0),
        ):
            yield fake


async def run_once(interactions: int, members: int, *, in_process: bool) -> dict[str, list[float] | int | float]:
    async with fake_with_bot(in_process) as fake:
        ids = add_members(fake, members)
        watch = CallWatch(fake)
        watch.new()  # skip start-up calls
        speed = cpu_speed_ms()
        burst = await asyncio.gather(
            *(imagine(fake, f"burst {i}", ids[i % members], 1 + i % 4) for i in range(interactions))
        )
        by_id = {str(i.id): i for i in burst}
        by_token = {i.token: i for i in burst}
        acks: dict[str, float] = {}
        queued: dict[str, float] = {}
        failed = 0
        deadline = time.monotonic() + 30
        while (len(acks) + failed < interactions or len(queued) < len(acks)) and time.monotonic() < deadline:
            for call in watch.new():
                if is_ack(call):
                    inter = by_id.get(call.path.split("/")[2])
                    if inter is None:
                        continue
                    if call.status >= 300 or (call.json or {}).get("type") != 5:
                        failed += 1
                    else:
                        acks[inter.token] = call.at - inter.created_at
                elif call.method == "PATCH" and (token := webhook_token(call)) in by_token and token not in queued:
                    queued[token] = call.at - by_token[token].created_at
            await asyncio.sleep(0.02)
        return {"ack": list(acks.values()), "queued": list(queued.values()), "failed": failed, "speed": speed}


def summary(name: str, runs: list[list[float]]) -> None:
    for label, pct in (("p50", 50), ("p99", 99)):
        values = [percentile(r, pct) * 1000 for r in runs]
        figure(f"{name}_{label}", statistics.median(values), "ms")
    figure(f"{name}_max", max(max(r) for r in runs) * 1000, "ms")
    print(f"{name} p99 per run (ms): " + ", ".join(f"{percentile(r, 99) * 1000:.0f}" for r in runs))


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--interactions", type=int, default=200)
    parser.add_argument("--members", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--in-process", action="store_true", help="run the bot on this loop, next to the fake")
    parser.add_argument("--quick", action="store_true", help="a small fast profile (CI smoke test, not figures)")
    args = parser.parse_args()
    if args.quick:
        args.interactions, args.members, args.runs = 40, 8, 1
    where = "this process, with the fake" if args.in_process else "its own process"
    header("ack", interactions=args.interactions, members=args.members, runs=args.runs, bot=where)
    runs = [await run_once(args.interactions, args.members, in_process=args.in_process) for _ in range(args.runs)]
    acks = [r["ack"] for r in runs if isinstance(r["ack"], list)]
    summary("ack", acks)
    summary("queued_edit", [r["queued"] for r in runs if isinstance(r["queued"], list)])
    missing = sum(args.interactions - len(a) for a in acks)
    figure("ack_missing_or_failed", missing)
    speeds = [float(r["speed"]) for r in runs if isinstance(r["speed"], float)]
    figure("cpu_calibration_ms", statistics.median(speeds), "ms (a fixed loop; lower is a faster machine)")
    print("cpu calibration per run (ms): " + ", ".join(f"{s:.0f}" for s in speeds))
    p99 = statistics.median(percentile(a, 99) for a in acks)
    worst = max(max(a) for a in acks)
    verdict = "met" if p99 < 0.25 and worst < 3 and missing == 0 else "MISSED"
    print(f"target (p99 < 250 ms, max < 3 s): {verdict}")
    return 0 if missing == 0 and worst < 3 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
