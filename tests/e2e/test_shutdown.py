"""Graceful shutdown for real: ``python -m bot run`` in a subprocess, SIGTERM mid-generation, restart.

The fake Discord and the simulator run in this test's loop; the bot is a separate process pointed at them
by its settings file, exactly as an operator would run it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.liblib.simulator import DEV_ACCESS_KEY, DEV_SECRET_KEY, Simulator
from bot.models import JobState
from bot.settings import SimulatorSettings
from bot.storage import open_store
from tests.fake_discord import FakeDiscord

pytestmark = pytest.mark.slow


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    slow = SimulatorSettings(port=0, queued_seconds=0.05, running_seconds=4.0, auditing_seconds=0.05)
    async with Simulator(slow, submit_per_second=20.0) as simulator:
        yield simulator


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()  # not patched into this process's discord.py: the bot runs elsewhere
    try:
        yield server
    finally:
        await server.stop()


def write_config(path: Path, fake: FakeDiscord, sim: Simulator, db: Path) -> None:
    path.write_text(
        f"""
[discord]
token = "{fake.token}"
api_base_url = "{fake.api_base}"
gateway_url = "{fake.gateway_url}"
dev_guild_id = {fake.guild_id}

[liblib]
base_url = "{sim.base_url}"
access_key = "{DEV_ACCESS_KEY}"
secret_key = "{DEV_SECRET_KEY}"
submit_per_second = 20.0
poll_interval_min = 0.05
poll_interval_max = 0.2
image_transport = "upload"

[storage]
url = "sqlite:///{db}"

[queue]
progress_edit_interval = 0.2

[logging]
level = "INFO"
"""
    )


async def start_bot(config: Path, cwd: Path, log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "--config",
            str(config),
            "run",
            cwd=cwd,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )


async def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def read(path: Path) -> str:
    return path.read_text(errors="replace")


async def stop(proc: asyncio.subprocess.Process, log: Path) -> float:
    """SIGTERM; returns how long the process took to exit (it must exit 0)."""
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code = await asyncio.wait_for(proc.wait(), 15)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"the bot ignored SIGTERM:\n{read(log)}") from None
    assert code == 0, read(log)
    return time.monotonic() - started


async def job_states(db: Path) -> list[tuple[JobState, str | None]]:
    async with open_store(f"sqlite:///{db}") as store:
        return [(j.state, j.generate_uuid) for j in await store.list_jobs(list(JobState))]


async def test_sigterm_mid_generation_then_restart_delivers_exactly_once(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    db, config, log = tmp_path / "bot.db", tmp_path / "config.toml", tmp_path / "bot.log"
    write_config(config, fake, sim, db)

    proc = await start_bot(config, tmp_path, log)
    try:
        await wait_until(lambda: fake.identify_count == 1 and fake.sync_count == 1, 30, "the bot to connect")
        await fake.wait_for_gateway()  # identified, and every event so far written to the bot
        inter = await fake.slash("imagine", {"prompt": "a lantern in the fog"})
        await fake.wait_for_ack(inter)
        await wait_until(lambda: sim.counters.submits == 1, 10, "the submit")
        [task] = sim.tasks()
        assert not task.terminal  # still generating: 4 s in the simulator
        took = await stop(proc, log)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert took < 5, f"shutdown took {took:.1f}s"
    assert [c for c in fake.calls if c.files] == []  # nothing delivered yet
    assert await job_states(db) == [(JobState.RUNNING, task.uuid)]  # the poll's state survived

    proc = await start_bot(config, tmp_path, log)
    try:
        result = await fake.wait_for_call(lambda c: bool(c.files), timeout=30)
        deadline = time.monotonic() + 10
        while (await job_states(db))[0][0] is not JobState.SUCCEEDED and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await stop(proc, log)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert inter.token in result.path or str(fake.channel_id) in result.path
    assert await job_states(db) == [(JobState.SUCCEEDED, task.uuid)]
    assert len([c for c in fake.calls if c.files]) == 1  # delivered exactly once
    assert sim.counters.submits == 1  # never resubmitted
    assert fake.identify_count == 2 and fake.sync_count == 1  # restarted; commands unchanged, not resynced
    assert "Traceback" not in read(log)
    assert "stop signal received" in read(log)


async def test_sigterm_right_after_a_burst_answers_every_acknowledged_command(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    """Commands acknowledged before SIGTERM still get their job queued and their "Queued" answer: the bot
    lets handlers in flight finish before it closes its sessions (no dead "thinking...", no tracebacks)."""
    db, config, log = tmp_path / "bot.db", tmp_path / "config.toml", tmp_path / "bot.log"
    write_config(config, fake, sim, db)
    members = [4_000_000_000_000_000_000 + i for i in range(12)]
    for i, member in enumerate(members):
        fake.add_member(member, name=f"member{i}")

    proc = await start_bot(config, tmp_path, log)
    try:
        await wait_until(lambda: fake.identify_count == 1 and fake.sync_count == 1, 30, "the bot to connect")
        await fake.wait_for_gateway()  # identified, and every event so far written to the bot
        burst = await asyncio.gather(
            *(fake.slash("imagine", {"prompt": f"burst {i}"}, user_id=m) for i, m in enumerate(members))
        )
        await wait_until(lambda: all(i.acked for i in burst), 10, "every command to be acknowledged")
        await stop(proc, log)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    answered = {
        i.token
        for i in burst
        for c in fake.calls
        if c.method == "PATCH" and i.token in c.path and c.status < 300 and "Queued" in str(c.json)
    }
    assert len(answered) == len(burst), read(log)
    assert len(await job_states(db)) == len(burst)  # every job kept (queued or running) for the next start
    assert "Traceback" not in read(log)
