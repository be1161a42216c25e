"""Run the real bot as a separate process (``python -m bot run``) against loopback fakes.

    path = write_settings(tmp_path / "bot.toml", {"discord": {...}, "liblib": {...}})
    bot = await start(path, log_path=tmp_path / "bot.log")
    await bot.wait_ready(fake)             # the fake saw a fresh IDENTIFY and the session is live
    await bot.kill(signal.SIGKILL)         # returns the exit code
    print(bot.log_tail())

The child gets a clean environment (no ``LIBBOT_*``, ``LIBLIB_*`` or ``DISCORD_TOKEN``), so only the
settings file configures it. Everything it logs goes to ``log_path``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fake_discord import FakeDiscord

REPO_ROOT = Path(__file__).resolve().parents[2]
_SCRUBBED_PREFIXES = ("LIBBOT_", "LIBLIB_")
_SCRUBBED = frozenset({"DISCORD_TOKEN"})


def process_sections(
    fake: FakeDiscord,
    base_url: str,
    db: Path,
    *,
    queue: dict[str, Any] | None = None,
    level: str = "INFO",
    **liblib: Any,
) -> dict[str, dict[str, Any]]:
    """The settings of a bot process against ``fake`` and the simulator at ``base_url`` (its dev keys), on SQLite
    at ``db``: fast polling, uploads, progress edits every 0.3 s; ``liblib`` and ``queue`` add or override keys."""
    from bot.liblib.simulator import DEV_ACCESS_KEY, DEV_SECRET_KEY

    return {
        "discord": {
            "token": fake.token,
            "dev_guild_id": fake.guild_id,
            "api_base_url": fake.api_base,
            "gateway_url": fake.gateway_url,
        },
        "liblib": {
            "base_url": base_url,
            "access_key": DEV_ACCESS_KEY,
            "secret_key": DEV_SECRET_KEY,
            "poll_interval_min": 0.05,
            "poll_interval_max": 0.2,
            "request_timeout": 10.0,
            "image_transport": "upload",
        }
        | liblib,
        "queue": {"progress_edit_interval": 0.3} | (queue or {}),
        "storage": {"url": f"sqlite:///{db}"},
        "logging": {"level": level},
    }


def write_settings(path: Path, sections: dict[str, dict[str, Any]]) -> Path:
    """Write a settings TOML of flat sections (strings, numbers, booleans, lists of those)."""
    lines: list[str] = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in values.items() if value is not None)
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


@dataclass
class BotProcess:
    process: asyncio.subprocess.Process
    log_path: Path
    _identify_before: int

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    async def wait_ready(self, fake: FakeDiscord, timeout: float = 30.0) -> None:
        """Wait until this process has identified on the fake's gateway and its session is live."""
        deadline = time.monotonic() + timeout
        while not (fake.identify_count > self._identify_before and fake.gateway_connected):
            if not self.running:
                raise RuntimeError(f"the bot exited with {self.process.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the bot was not ready within {timeout}s:\n{self.log_tail()}")
            await asyncio.sleep(0.05)
        await fake.wait_for_gateway()

    async def kill(self, sig: signal.Signals = signal.SIGKILL, timeout: float = 15.0) -> int:
        """Send ``sig`` to this process only and wait for it to exit; returns the exit code."""
        if self.running:
            self.process.send_signal(sig)
        return await asyncio.wait_for(self.process.wait(), timeout)

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES) and k not in _SCRUBBED}
    env["PYTHONUNBUFFERED"] = "1"
    return {**env, **(extra or {})}


async def start(
    settings_path: Path,
    *,
    log_path: Path,
    fake: FakeDiscord | None = None,
    env: dict[str, str] | None = None,
) -> BotProcess:
    """Start ``python -m bot --config settings_path run``; pass ``fake`` so ``wait_ready`` needs a new IDENTIFY."""
    log_file = log_path.open("ab")
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "--config",
            str(settings_path),
            "run",
            cwd=REPO_ROOT,
            env=child_env(env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
        )
    finally:
        log_file.close()  # the child holds its own copy
    return BotProcess(process, log_path, fake.identify_count if fake is not None else 0)
