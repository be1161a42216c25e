"""Shared start-up for the benchmarks: the whole bot on loopback against the fake Discord and the simulator.

Every script imports this module first: it puts the repository root on ``sys.path`` so that
``python bench/<name>.py`` works from the root and can import ``bot`` and ``tests.fake_discord``.

The bot runs as in production (``bot.composition.open_runtime``, default poll intervals and progress
throttling, the account limits of the simulator) except for what a benchmark must change: caps that would
refuse the synthetic load (per-member active jobs, queue size, quotas) and the simulator's durations.
The fake Discord's OpenAPI validation is off: it costs milliseconds per request on the shared event loop
and would be measured as the bot's latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import platform
import re
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.composition import Runtime, open_runtime  # noqa: E402
from bot.liblib.simulator import DEV_ACCESS_KEY, DEV_SECRET_KEY, Simulator  # noqa: E402
from bot.settings import Settings, SimulatorSettings  # noqa: E402
from tests.fake_discord import Call, FakeDiscord, Interaction, run_bot  # noqa: E402
from tests.sim_thread import SimThread  # noqa: E402

T = TypeVar("T")
MEMBER_BASE_ID = 3_000_000_000_000_000_000
BOT_OPTIONS: dict[str, object] = {"guild_ready_timeout": 0.05, "max_ratelimit_timeout": 30.0}


# -- figures ---------------------------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def machine() -> str:
    cpus = f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))})"
    return f"{cpus}, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def header(title: str, **params: object) -> None:
    print(f"== {title} ==")
    print(f"machine: {machine()}")
    if params:
        print("params: " + ", ".join(f"{k}={v}" for k, v in params.items()))


def figure(name: str, value: object, unit: str = "") -> None:
    """One ``name: value unit`` line; the quick-mode test greps these."""
    if isinstance(value, float):
        value = f"{value:.3f}"
    print(f"{name}: {value}{(' ' + unit) if unit else ''}")


def cpu_speed_ms(iterations: int = 1_000_000) -> float:
    """Milliseconds a fixed pure-Python loop takes now. The VMs these figures come from vary in speed by up to
    2x from one second to the next, even idle; CPU-bound figures are printed beside this calibration."""
    started = time.perf_counter()
    total = 0
    for i in range(iterations):
        total += i
    return (time.perf_counter() - started) * 1000


def lower_bound(jobs: int, rate: float, concurrency: int, generation: float) -> float:
    """Earliest possible makespan of ``jobs`` one-submit jobs under the account's limits (see README).

    Submit k can go no sooner than 1/rate after submit k-1, nor before task k-concurrency has finished
    (otherwise concurrency+1 tasks would be running). Taking each submit at its earliest moment is optimal
    for identical tasks; the makespan is the last submit plus one generation time.
    """
    starts: list[float] = []
    for k in range(jobs):
        start = 0.0 if k == 0 else starts[-1] + 1.0 / rate
        if k >= concurrency:
            start = max(start, starts[k - concurrency] + generation)
        starts.append(start)
    return starts[-1] + generation if starts else 0.0


# -- /proc memory ----------------------------------------------------------------------------------


def proc_status(pid: int | str = "self") -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) in KiB from /proc/<pid>/status."""
    text = Path(f"/proc/{pid}/status").read_text()
    return {key: int(m.group(1)) for key in ("VmRSS", "VmHWM") if (m := re.search(rf"^{key}:\s+(\d+)", text, re.M))}


def reset_peak(pid: int | str = "self") -> None:
    """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to clear_refs)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


# -- the bot on loopback ---------------------------------------------------------------------------


def bench_settings(
    fake: FakeDiscord,
    sim: Simulator,
    db: Path,
    *,
    submit_per_second: float = 1.0,
    liblib: dict[str, Any] | None = None,
    queue: dict[str, Any] | None = None,
) -> Settings:
    """Production defaults, pointed at the fake and the simulator; caps that would refuse the load lifted."""
    return Settings(
        discord={
            "token": fake.token,
            "dev_guild_id": fake.guild_id,
            "api_base_url": fake.api_base,
            "gateway_url": fake.gateway_url,
        },
        liblib={
            "base_url": sim.base_url,
            "access_key": DEV_ACCESS_KEY,
            "secret_key": DEV_SECRET_KEY,
            "submit_per_second": submit_per_second,
            "max_concurrent_tasks": sim.max_concurrent,
            "image_transport": "upload",
            **(liblib or {}),
        },
        storage={"url": f"sqlite:///{db}"},
        queue={"max_active_per_user": 10_000, "max_queued_total": 100_000, **(queue or {})},
        quotas={"images_per_day": None, "images_per_month": None},
        simulator=sim.settings.model_dump(),
    )


def bot_env(
    fake: FakeDiscord,
    sim_base_url: str,
    db: Path,
    *,
    rate: float,
    max_concurrent: int,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a ``python -m bot run`` child: :func:`bench_settings` as ``LIBBOT_*`` variables
    (``extra``: more of them, e.g. ``LIBBOT_IMAGES__WORKERS``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIBBOT_", "LIBLIB_", "DISCORD_"))}
    env |= {
        "LIBBOT_DISCORD__TOKEN": fake.token,
        "LIBBOT_DISCORD__API_BASE_URL": fake.api_base,
        "LIBBOT_DISCORD__GATEWAY_URL": fake.gateway_url,
        "LIBBOT_DISCORD__DEV_GUILD_ID": str(fake.guild_id),
        "LIBBOT_LIBLIB__BASE_URL": sim_base_url,
        "LIBBOT_LIBLIB__ACCESS_KEY": DEV_ACCESS_KEY,
        "LIBBOT_LIBLIB__SECRET_KEY": DEV_SECRET_KEY,
        "LIBBOT_LIBLIB__SUBMIT_PER_SECOND": str(rate),
        "LIBBOT_LIBLIB__MAX_CONCURRENT_TASKS": str(max_concurrent),
        "LIBBOT_LIBLIB__IMAGE_TRANSPORT": "upload",
        "LIBBOT_STORAGE__URL": f"sqlite:///{db}",
        "LIBBOT_QUEUE__MAX_ACTIVE_PER_USER": "10000",
        "LIBBOT_QUEUE__MAX_QUEUED_TOTAL": "100000",
        "LIBBOT_QUOTAS__IMAGES_PER_DAY": "100000000",
        "LIBBOT_QUOTAS__IMAGES_PER_MONTH": "100000000",
        "LIBBOT_LOGGING__LEVEL": "WARNING",
        "LIBBOT_LOGGING__DISCORD_LEVEL": "ERROR",
    }
    return env | (extra or {})


@contextlib.asynccontextmanager
async def bot_process(
    fake: FakeDiscord, sim: Simulator, db: Path, *, rate: float, env: dict[str, str] | None = None
) -> AsyncIterator[int]:
    """``python -m bot run`` (the production entry point) as its own process, pointed at ``fake`` and ``sim``
    (which live in this process, or ``sim`` on a SimThread); yields its pid once it has synced its commands and
    loaded the guild. ``env``: more ``LIBBOT_*`` settings."""
    config = db.with_suffix(".toml")
    config.write_text("")  # never pick up a developer's config.toml
    env = bot_env(fake, sim.base_url, db, rate=rate, max_concurrent=sim.max_concurrent, extra=env)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "--config", str(config), "run", cwd=ROOT, env=env
    )
    try:
        deadline = time.monotonic() + 60
        while not (fake.gateway_connected and fake.sync_count >= 1):
            if proc.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the bot did not come up (exit code {proc.returncode})")
            await asyncio.sleep(0.1)
        await asyncio.sleep(2.5)  # guild_ready_timeout (2 s) and the runner's first passes
        yield proc.pid
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()


@dataclass
class Bench:
    fake: FakeDiscord
    sim: SimThread
    runtime: Runtime
    settings: Settings


@contextlib.asynccontextmanager
async def bench_bot(
    *,
    durations: tuple[float, float, float],
    submit_per_second: float = 1.0,
    max_concurrent: int = 5,
    liblib: dict[str, Any] | None = None,
    queue: dict[str, Any] | None = None,
) -> AsyncIterator[Bench]:
    """The whole bot (``open_runtime`` + a gateway connection) against a fresh fake Discord and simulator.

    ``durations``: seconds each simulated task spends queued, running and auditing (their sum is the
    generation time). The database lives in a temporary directory removed on exit.
    """
    queued, running, auditing = durations
    sim_settings = SimulatorSettings(port=0, queued_seconds=queued, running_seconds=running, auditing_seconds=auditing)
    sim = Simulator(sim_settings, submit_per_second=submit_per_second, max_concurrent=max_concurrent)
    with tempfile.TemporaryDirectory(prefix="liblib-bench-") as tmp, SimThread(sim).running() as remote:
        async with FakeDiscord(validate_spec=False) as fake:
            settings = bench_settings(
                fake, sim, Path(tmp) / "bot.db", submit_per_second=submit_per_second, liblib=liblib, queue=queue
            )
            async with (
                open_runtime(settings, bot_options=BOT_OPTIONS) as runtime,
                run_bot(runtime.bot, fake, ready_timeout=30.0),
            ):
                yield Bench(fake, remote, runtime, settings)


def add_members(fake: FakeDiscord, count: int) -> list[int]:
    ids = [MEMBER_BASE_ID + i for i in range(count)]
    for i, user_id in enumerate(ids):
        fake.add_member(user_id, name=f"member{i}")
    return ids


# -- reading what reached the fake -----------------------------------------------------------------


def webhook_token(call: Call) -> str | None:
    """The interaction token of a ``/webhooks/{application_id}/{token}/...`` call."""
    parts = call.path.split("/")
    return parts[3] if len(parts) > 3 and parts[1] == "webhooks" else None


def is_ack(call: Call) -> bool:
    return call.method == "POST" and call.path.startswith("/interactions/") and call.path.endswith("/callback")


def is_result(call: Call) -> bool:
    """A message carrying images: the edit of the deferred response, or a channel message."""
    return bool(call.files) and call.status < 300 and call.method in ("PATCH", "POST")


class CallWatch:
    """Follows ``fake.calls`` incrementally (they only grow) without rescanning from the start."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self._index = 0

    def new(self) -> list[Call]:
        calls = self.fake.calls[self._index :]
        self._index += len(calls)
        return calls


async def wait_results(
    fake: FakeDiscord, tokens: Iterable[str], *, within: float, poll: float = 0.05
) -> dict[str, Call]:
    """The first image-carrying edit of each interaction's response, waiting until all arrived."""
    wanted = set(tokens)
    found: dict[str, Call] = {}
    watch = CallWatch(fake)
    deadline = time.monotonic() + within
    while len(found) < len(wanted):
        for call in watch.new():
            token = webhook_token(call)
            if token in wanted and token not in found and is_result(call):
                found[token] = call
        if len(found) >= len(wanted):
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(found)}/{len(wanted)} results within {within:.0f}s")
        await asyncio.sleep(poll)
    return found


async def imagine(fake: FakeDiscord, prompt: str, user_id: int, count: int = 1) -> Interaction:
    return await fake.slash("imagine", {"prompt": prompt, "count": count}, user_id=user_id)
