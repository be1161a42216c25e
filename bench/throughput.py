"""Throughput: does the bot keep the account's limits saturated without crossing them?

N ``/imagine`` jobs (default 60, from 6 members, 1-4 images each) go through the whole bot: fake Discord
slash command -> cog -> queue -> runner -> client -> simulator -> delivery to the fake. Each member sends
all of their jobs in one burst, one member after another, so a first-come-first-served queue would make
the last member wait for everyone else. Printed per generation time:

- makespan: first dispatch -> last image message at the fake;
- lower bound: the earliest the account's limits allow (submit rate r, concurrency c, generation time g;
  README), and makespan / bound (target <= 1.05);
- slot and submit-rate utilization (measured vs the ideal schedule's);
- simulator limit violations (must be 0) and the most tasks ever running at once;
- per member: max and mean wait from dispatch to the task's acceptance by LiblibAI (fairness).

Usage: python bench/throughput.py [--jobs 60] [--members 6] [--gen 2 10] [--runs 1] [--quick]
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


def split(generation: float) -> tuple[float, float, float]:
    """Queued, running and auditing seconds of a task taking ``generation`` seconds in all."""
    return (0.1 * generation, 0.8 * generation, 0.1 * generation)


async def run_once(
    jobs: int, members: int, generation: float, rate: float, concurrency: int, seed: int, liblib: dict | None = None
) -> dict:
    rng = random.Random(seed)
    async with bench_bot(
        durations=split(generation), submit_per_second=rate, max_concurrent=concurrency, liblib=liblib
    ) as b:
        ids = add_members(b.fake, members)
        per_member = -(-jobs // members)
        plan = [(ids[min(i // per_member, members - 1)], rng.randint(1, 4)) for i in range(jobs)]
        started = time.monotonic()
        interactions = [
            await imagine(b.fake, f"bench job {i} for member {user % 1000}", user, count)
            for i, (user, count) in enumerate(plan)
        ]
        bound = lower_bound(jobs, rate, concurrency, generation)
        results = await wait_results(b.fake, [i.token for i in interactions], within=3 * bound + 60)
        makespan = max(call.at for call in results.values()) - started

        # Map each job to its simulator task through the store (the runner records the final state just
        # after the delivery answer, so give it a moment).
        by_token = {i.token: i for i in interactions}
        for _ in range(100):
            stored = await b.runtime.store.list_jobs([JobState.SUCCEEDED])
            if len(stored) >= jobs:
                break
            await asyncio.sleep(0.05)
        waits: dict[int, list[float]] = {}
        for job in stored:
            task = b.sim.task(job.generate_uuid or "")
            inter = by_token.get(job.interaction_token or "")
            if task is not None and inter is not None:
                waits.setdefault(job.user_id, []).append(task.created_at - inter.created_at)

        tasks = b.sim.tasks()
        c = b.sim.counters
        first = min(t.created_at for t in tasks)
        last_end = max(t.finished_at or t.created_at for t in tasks)
        busy = sum((t.finished_at or t.created_at) - t.created_at for t in tasks)
        submits = sorted(t.created_at for t in tasks)
        ideal_span = lower_bound(jobs, rate, concurrency, generation)
        return {
            "makespan": makespan,
            "bound": bound,
            "ratio": makespan / bound,
            "slot_util": busy / (concurrency * (last_end - first)),
            "slot_util_ideal": jobs * generation / (concurrency * ideal_span),
            "submit_util": (len(submits) - 1) / rate / (submits[-1] - submits[0]) if len(submits) > 1 else 1.0,
            "submit_util_ideal": (jobs - 1) / rate / (ideal_span - generation) if jobs > 1 else 1.0,
            "rate_violations": c.rate_limit_violations,
            "concurrency_violations": c.concurrency_violations,
            "max_concurrent_seen": c.max_concurrent_seen,
            "submits": c.submits,
            "submit_requests": c.submit_requests,
            "status_queries": c.status_queries,
            "delivered": len(results),
            "member_max_wait": {u % 1000: max(w) for u, w in sorted(waits.items())},
            "member_mean_wait": {u % 1000: statistics.fmean(w) for u, w in sorted(waits.items())},
            "waits": [w for ws in waits.values() for w in ws],
        }


def report(generation: float, runs: list[dict], rate: float, concurrency: int) -> bool:
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0] if isinstance(runs[0][k], int | float)}
    print(f"-- generation time g = {generation:g} s ({len(runs)} run(s); medians) --")
    figure("makespan", med["makespan"], "s")
    figure("lower_bound", med["bound"], "s")
    figure("ratio", med["ratio"])
    print("ratio per run: " + ", ".join(f"{r['ratio']:.3f}" for r in runs))
    figure("slot_utilization", med["slot_util"])
    figure("slot_utilization_ideal", med["slot_util_ideal"])
    figure("submit_rate_utilization", med["submit_util"])
    figure("submit_rate_utilization_ideal", med["submit_util_ideal"])
    violations = max(r["rate_violations"] + r["concurrency_violations"] for r in runs)
    figure("rate_limit_violations", max(r["rate_violations"] for r in runs))
    figure("concurrency_violations", max(r["concurrency_violations"] for r in runs))
    figure("max_concurrent_seen", max(r["max_concurrent_seen"] for r in runs), f"(limit {concurrency})")
    figure("submit_requests_per_job", med["submit_requests"] / max(1, med["submits"]))
    figure("status_queries_per_job", med["status_queries"] / max(1, med["submits"]))
    last = runs[-1]
    print("member_max_wait_s (last run): " + ", ".join(f"m{u}={w:.1f}" for u, w in last["member_max_wait"].items()))
    print("member_mean_wait_s (last run): " + ", ".join(f"m{u}={w:.1f}" for u, w in last["member_mean_wait"].items()))
    maxes = list(last["member_max_wait"].values())
    figure("member_max_wait_spread", max(maxes) - min(maxes), "s")
    figure("wait_p50", percentile(last["waits"], 50), "s")
    verdict = "met" if med["ratio"] <= 1.05 and violations == 0 else "MISSED"
    print(f"target (ratio <= 1.05, 0 violations): {verdict}")
    return violations == 0 and all(r["delivered"] == r["submits"] for r in runs)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=60)
    parser.add_argument("--members", type=int, default=6)
    parser.add_argument("--gen", type=float, nargs="+", default=[2.0, 10.0], help="generation times (s)")
    parser.add_argument("--rate", type=float, default=1.0, help="submits per second allowed")
    parser.add_argument("--concurrency", type=int, default=5, help="concurrent tasks allowed")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="a small fast profile (CI smoke test, not figures)")
    args = parser.parse_args()
    if args.quick:
        args.jobs, args.members, args.gen, args.rate, args.runs = 10, 3, [0.5, 1.5], 4.0, 1
    # Quick mode also polls faster, so that its short tasks finish quickly (production: 1 s .. 5 s).
    liblib = {"poll_interval_min": 0.2, "poll_interval_max": 1.0} if args.quick else None
    header("throughput", jobs=args.jobs, members=args.members, rate=args.rate, concurrency=args.concurrency)
    ok = True
    for generation in args.gen:
        runs = [
            await run_once(args.jobs, args.members, generation, args.rate, args.concurrency, args.seed + n, liblib)
            for n in range(args.runs)
        ]
        ok = report(generation, runs, args.rate, args.concurrency) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
