"""Delivery latency: how soon after LiblibAI finishes does the member see the images?

Jobs go through the whole bot. For each one we take the moment the simulator made its task successful
(``SimTask.finished_at``) and the moment the image message (the edit of the deferred response carrying
the files) reached the fake Discord. The gap is status-poll delay + download + re-encode + upload. We also
count the status queries each task received. Targets: p50 < 1 s, and fewer than 1 status query per second
of a task's life on average.

Usage: python bench/delivery.py [--jobs 20] [--members 5] [--gen 10 2] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time

from _harness import add_members, bench_bot, figure, header, imagine, lower_bound, percentile, wait_results

from bot.models import JobState


async def run_once(
    jobs: int, members: int, generation: float, rate: float, seed: int, liblib: dict | None = None
) -> dict[str, list[float]]:
    rng = random.Random(seed)
    durations = (0.1 * generation, 0.8 * generation, 0.1 * generation)
    async with bench_bot(durations=durations, submit_per_second=rate, liblib=liblib) as b:
        ids = add_members(b.fake, members)
        interactions = [
            await imagine(b.fake, f"delivery {i}", ids[i % members], rng.randint(1, 4)) for i in range(jobs)
        ]
        bound = lower_bound(jobs, rate, 5, generation)
        results = await wait_results(b.fake, [i.token for i in interactions], within=3 * bound + 60)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            stored = await b.runtime.store.list_jobs([JobState.SUCCEEDED])
            if len(stored) >= jobs:
                break
            await asyncio.sleep(0.05)
        latency, queries, rates = [], [], []
        for job in stored:
            task = b.sim.task(job.generate_uuid or "")
            call = results.get(job.interaction_token or "")
            if task is None or call is None or task.finished_at is None:
                continue
            latency.append(call.at - task.finished_at)
            queries.append(float(task.status_queries))
            rates.append(task.status_queries / (task.finished_at - task.created_at))
        return {"latency": latency, "queries": queries, "rates": rates}


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--gen", type=float, nargs="+", default=[10.0, 2.0], help="generation times (s)")
    parser.add_argument("--rate", type=float, default=1.0, help="submits per second allowed")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a small fast profile (CI smoke test, not figures)")
    args = parser.parse_args()
    if args.quick:
        args.jobs, args.members, args.gen, args.rate = 6, 3, [1.0], 4.0
    liblib = {"poll_interval_min": 0.2, "poll_interval_max": 1.0} if args.quick else None
    header("delivery", jobs=args.jobs, members=args.members, rate=args.rate)
    ok = True
    for generation in args.gen:
        run = await run_once(args.jobs, args.members, generation, args.rate, args.seed, liblib)
        lat = run["latency"]
        print(f"-- generation time g = {generation:g} s --")
        figure("jobs_measured", len(lat))
        figure("delivery_p50", percentile(lat, 50) * 1000, "ms")
        figure("delivery_p90", percentile(lat, 90) * 1000, "ms")
        figure("delivery_max", max(lat) * 1000, "ms")
        figure("status_queries_per_job", statistics.fmean(run["queries"]))
        figure("status_queries_per_job_second", statistics.fmean(run["rates"]))
        met = percentile(lat, 50) < 1.0 and statistics.fmean(run["rates"]) < 1.0
        print(f"target (p50 < 1 s, < 1 query/s per job): {'met' if met else 'MISSED'}")
        ok = ok and len(lat) == args.jobs
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
