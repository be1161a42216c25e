"""Several real OS processes on one PostgreSQL schema (issue 10): quotas stay exact across processes,
and a standby takes dispatching over within the bound when the dispatcher is SIGKILLed.

Scaffolding for the full three-bot-process test: ``Worker`` starts ``python -m tests.jobs.pg_worker``
and reads its reports line by line; the bot-process test can add a command there once the runner is wired.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest

from bot.storage import PostgresStore
from tests.storage.contract.helpers import DAY

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


class Worker:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def read_line(self, timeout: float = 15.0) -> str:
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not raw:
            stderr = await self.process.stderr.read() if self.process.stderr else b""
            raise AssertionError(
                f"worker exited ({self.process.returncode}): {stderr.decode(errors='replace')[-2000:]}"
            )
        return raw.decode().strip()

    async def expect(self, line: str, timeout: float = 15.0) -> None:
        assert await self.read_line(timeout) == line

    async def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()

    def kill(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)


@asynccontextmanager
async def worker(*args: str) -> AsyncIterator[Worker]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.jobs.pg_worker",
        *args,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield Worker(process)
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def test_fifty_reservations_from_three_processes_against_a_limit_of_ten(pg_store_url: str) -> None:
    async with AsyncExitStack() as stack:
        workers = [await stack.enter_async_context(worker("enqueue", pg_store_url, str(n), "10")) for n in (17, 17, 16)]
        for each in workers:
            await each.expect("ready")
        for each in workers:  # all three start enqueueing together
            await each.send("go")
        outcomes: dict[str, int] = {}
        for each in workers:
            for outcome, count in json.loads(await each.read_line()).items():
                outcomes[outcome] = outcomes.get(outcome, 0) + count
    assert outcomes == {"ok": 10, "quota_exceeded": 40}
    async with await PostgresStore.open(pg_store_url) as store:
        assert await store.get_usage("user", 1, DAY) == (10, 0)


async def test_a_standby_process_takes_over_when_the_dispatcher_is_killed(pg_store_url: str) -> None:
    bound = 1.5
    async with worker("elect", pg_store_url, "first", str(bound)) as first:
        await first.expect("ready")
        await first.expect("leader first")
        async with worker("elect", pg_store_url, "second", str(bound)) as second:
            await second.expect("ready")
            for _ in range(3):  # several election rounds: first keeps the lease, second stays a follower
                await second.expect("refused second")
            first.kill()
            killed = time.monotonic()
            while (line := await second.read_line(timeout=bound + 5)) != "leader second":
                assert line == "refused second", line
            assert time.monotonic() - killed <= bound + 0.5  # the bound, plus scheduling slack
