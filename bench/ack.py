"""Acknowledgement latency: how fast does ``/imagine`` defer under a burst?

200 ``/imagine`` interactions (from 20 members) are dispatched at once on the fake gateway. For each one
we measure the time from its dispatch to the defer callback (interaction response type 5) reaching the
fake Discord, and, as a second figure, to the "Queued - position N" edit that follows the enqueue.
Discord invalidates an interaction not acknowledged within 3 s. Target: p99 < 250 ms on 2 cores, max < 3 s.

The fake Discord and the simulator share the bot's event loop, so the figures include their work too:
they are an upper bound on what the bot alone would show.

Usage: python bench/ack.py [--interactions 200] [--members 20] [--runs 3] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time

from _harness import CallWatch, add_members, bench_bot, figure, header, imagine, is_ack, percentile, webhook_token


async def run_once(interactions: int, members: int) -> dict[str, list[float] | int]:
    async with bench_bot(durations=(1.0, 8.0, 1.0)) as b:
        ids = add_members(b.fake, members)
        watch = CallWatch(b.fake)
        watch.new()  # skip start-up calls
        burst = await asyncio.gather(
            *(imagine(b.fake, f"burst {i}", ids[i % members], 1 + i % 4) for i in range(interactions))
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
        return {"ack": list(acks.values()), "queued": list(queued.values()), "failed": failed}


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
    parser.add_argument("--quick", action="store_true", help="a small fast profile (CI smoke test, not figures)")
    args = parser.parse_args()
    if args.quick:
        args.interactions, args.members, args.runs = 40, 8, 1
    header("ack", interactions=args.interactions, members=args.members, runs=args.runs)
    runs = [await run_once(args.interactions, args.members) for _ in range(args.runs)]
    acks = [r["ack"] for r in runs if isinstance(r["ack"], list)]
    summary("ack", acks)
    summary("queued_edit", [r["queued"] for r in runs if isinstance(r["queued"], list)])
    missing = sum(args.interactions - len(a) for a in acks)
    figure("ack_missing_or_failed", missing)
    p99 = statistics.median(percentile(a, 99) for a in acks)
    worst = max(max(a) for a in acks)
    verdict = "met" if p99 < 0.25 and worst < 3 and missing == 0 else "MISSED"
    print(f"target (p99 < 250 ms, max < 3 s): {verdict}")
    return 0 if missing == 0 and worst < 3 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
