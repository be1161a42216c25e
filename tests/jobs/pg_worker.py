"""One separate OS process for the multi-process PostgreSQL tests (test_multiprocess_pg.py).

    python -m tests.jobs.pg_worker enqueue URL COUNT LIMIT
        opens a PostgresStore, prints "ready", waits for a line on stdin, then enqueues COUNT jobs at
        once, each debiting 1 image from user 1's counter limited to LIMIT; prints the outcomes as JSON.
    python -m tests.jobs.pg_worker elect URL HOLDER BOUND
        runs the dispatcher elector until killed, printing "leader HOLDER" / "follower HOLDER" on change,
        and "refused HOLDER" on every election round another holder won.

Lines go to stdout, flushed at once; the test reads them as the process's reports.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter

from bot.jobs.leadership import elector_for
from bot.storage import PostgresStore
from tests.storage.contract.helpers import ObservedLease, make_job, user_debit


def report(line: str) -> None:
    print(line, flush=True)


async def enqueue(url: str, count: int, limit: int) -> None:
    async with await PostgresStore.open(url, max_size=count) as store:
        jobs = [make_job(debits=(user_debit(1, max_images=limit),)) for _ in range(count)]
        report("ready")
        await asyncio.to_thread(sys.stdin.readline)
        results = await asyncio.gather(*(store.enqueue(job) for job in jobs))
        report(json.dumps(Counter(str(r.outcome) for r in results)))


async def elect(url: str, holder: str, bound: float) -> None:
    async with await PostgresStore.open(url) as store:
        elector = elector_for(store, bound_seconds=bound, holder_id=holder)

        def on_attempt(held: bool) -> None:
            if not held:
                report(f"refused {holder}")

        elector.lease = ObservedLease(elector.lease, on_attempt)

        async def on_change(leading: bool) -> None:
            report(f"{'leader' if leading else 'follower'} {holder}")

        report("ready")
        await elector.run(on_change)


def main(argv: list[str]) -> None:
    command, url, *rest = argv
    if command == "enqueue":
        asyncio.run(enqueue(url, int(rest[0]), int(rest[1])))
    elif command == "elect":
        asyncio.run(elect(url, rest[0], float(rest[1])))
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
