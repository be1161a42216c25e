"""The account balance end to end: learned from the simulator's status answers, kept in the store, exported as a
gauge, shown to admins in /usage top with its forecast, and one low-balance alert posted to the owner's channel."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.billing.balance import BALANCE_KEY, BalanceReading
from bot.liblib.simulator import Simulator
from bot.models import JobState
from tests.e2e.conftest import assert_no_pings, make_settings, running_bot
from tests.e2e.test_imagine import wait_jobs, wait_result
from tests.e2e.test_quotas import private_reply
from tests.fake_discord import FakeDiscord

ALERTS = 8_500_000_000_000_001


async def test_balance_is_kept_shown_exported_and_alerted_once(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    fake.add_channel(ALERTS, "owner-alerts")
    threshold = sim.initial_balance  # the first charge crosses it
    settings = make_settings(
        fake,
        sim,
        tmp_path / "bot.db",
        balance={"low_threshold": threshold, "alert_channel_id": ALERTS, "check_interval": 0.02},
    )
    async with running_bot(settings, fake) as runtime:
        for prompt in ("a fox", "a cat"):
            inter = await fake.slash("imagine", {"prompt": prompt})
            await wait_result(fake, inter.token)
        await wait_jobs(runtime.store, JobState.SUCCEEDED, 2)
        expected = sim.balance()
        assert expected < threshold

        async def recorded() -> BalanceReading | None:
            while (reading := await runtime.services.balance.latest()) is None or reading.points != expected:
                await asyncio.sleep(0.02)
            return reading

        reading = await asyncio.wait_for(recorded(), timeout=5)
        assert reading is not None and await runtime.store.get_meta(BALANCE_KEY)
        assert f"liblib_bot_account_balance_points {float(expected)}" in runtime.metrics.render().decode()

        alert = await fake.wait_for_call(lambda c: c.method == "POST" and c.path == f"/channels/{ALERTS}/messages")
        assert "balance is low" in alert.json["content"] and str(threshold) in alert.json["content"]

        top = await private_reply(fake, await fake.slash("usage", {}, subcommand="top", user_id=fake.admin_id))
        assert f"LiblibAI balance: **{expected}** points (<t:" in top
        assert "it lasts about" in top and "points a day" in top

        inter = await fake.slash("imagine", {"prompt": "a third"})  # still below: no second alert
        await wait_result(fake, inter.token)
        await wait_jobs(runtime.store, JobState.SUCCEEDED, 3)
        await asyncio.sleep(0.1)  # several looks of the watch (check_interval 0.02 s)
        posts = [c for c in fake.calls if c.method == "POST" and c.path == f"/channels/{ALERTS}/messages"]
        assert len(posts) == 1
    assert_no_pings(fake)
