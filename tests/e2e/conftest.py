"""End-to-end fixtures: the real bot (composition root) against the fake Discord and the simulator."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.composition import Runtime, open_runtime
from bot.jobs.admission import Admission
from bot.liblib.simulator import DEV_ACCESS_KEY, DEV_SECRET_KEY, Simulator
from bot.settings import Settings, SimulatorSettings
from tests.fake_discord import FakeDiscord
from tests.fake_discord.fixtures import run_bot

FAST_SIM = SimulatorSettings(port=0, queued_seconds=0.02, running_seconds=0.1, auditing_seconds=0.02)


def make_settings(fake: FakeDiscord, sim: Simulator | None, db: Path, **sections: dict[str, Any]) -> Settings:
    liblib: dict[str, Any] = {
        "submit_per_second": 20.0,
        "poll_interval_min": 0.02,
        "poll_interval_max": 0.1,
        "request_timeout": 5.0,
        "image_transport": "upload",
    }
    if sim is not None:
        liblib |= {"base_url": sim.base_url, "access_key": DEV_ACCESS_KEY, "secret_key": DEV_SECRET_KEY}
    data: dict[str, Any] = {
        "discord": {
            "token": fake.token,
            "dev_guild_id": fake.guild_id,
            "api_base_url": fake.api_base,
            "gateway_url": fake.gateway_url,
        },
        "liblib": liblib,
        "storage": {"url": f"sqlite:///{db}"},
        "queue": {"progress_edit_interval": 0.05},
        "simulator": FAST_SIM.model_dump(),
        "fetch": {"extra_hosts": [fake.base_url]},  # the fake's CDN, as Discord's is allowed in production
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return Settings(**data)


@dataclass
class Env:
    fake: FakeDiscord
    sim: Simulator
    runtime: Runtime
    settings: Settings
    db: Path


@contextlib.asynccontextmanager
async def running_bot(
    settings: Settings, fake: FakeDiscord, *, admission: Admission | None = None
) -> AsyncIterator[Runtime]:
    """The whole bot, logged in to ``fake``; ``admission`` replaces the quotas' (who may start which job)."""
    options = {"guild_ready_timeout": 0.05, "max_ratelimit_timeout": 5.0}
    async with (
        open_runtime(settings, bot_options=options, admission=admission) as runtime,
        run_bot(runtime.bot, fake),
    ):
        yield runtime


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(FAST_SIM, submit_per_second=20.0, max_concurrent=5) as simulator:
        yield simulator


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


@pytest.fixture
async def env(fake: FakeDiscord, sim: Simulator, tmp_path: Path) -> AsyncIterator[Env]:
    settings = make_settings(fake, sim, tmp_path / "bot.db")
    async with running_bot(settings, fake) as runtime:
        yield Env(fake, sim, runtime, settings, tmp_path / "bot.db")
    assert_no_pings(fake)
    assert fake.spec_errors == [], fake.spec_errors


def assert_no_pings(fake: FakeDiscord) -> None:
    """Every message-creating or -editing call must disable mention parsing."""
    for call in fake.calls:
        body = call.json if isinstance(call.json, dict) else None
        if call.method in ("POST", "PATCH") and body is not None and ("content" in body or "embeds" in body):
            mentions = body.get("allowed_mentions")
            assert mentions is not None and mentions.get("parse") == [], (call.method, call.path, mentions)
