"""The balance book on a real SQLite store: kept with its time, alerted once per crossing (across restarts), and
the burn forecast."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.billing import BalanceBook, BalanceReading, forecast
from bot.models import GenerationRequest, Job
from bot.settings import BalanceSettings
from bot.storage import Store, open_store

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(f"sqlite:///{tmp_path / 'bot.db'}") as opened:
        yield opened


def book(store: Store, alerts: list[tuple[int, int]], threshold: int | None = 1000) -> BalanceBook:
    async def post(balance: int, limit: int) -> None:
        alerts.append((balance, limit))

    return BalanceBook(store, BalanceSettings(low_threshold=threshold), alert=post)


async def test_the_alert_fires_once_per_crossing_and_not_again_after_a_restart(store: Store) -> None:
    alerts: list[tuple[int, int]] = []
    first = book(store, alerts)
    readings = [1500, 1200, 900, 800, 700]
    for minute, points in enumerate(readings):
        await first.record(BalanceReading(points, T0 + timedelta(minutes=minute)))
    assert alerts == [(900, 1000)]
    assert await first.latest() == BalanceReading(700, T0 + timedelta(minutes=4))

    restarted = book(store, alerts)  # a new process on the same store: the alert is already out
    await restarted.record(BalanceReading(650, T0 + timedelta(minutes=10)))
    assert alerts == [(900, 1000)]
    await restarted.record(BalanceReading(5000, T0 + timedelta(minutes=11)))  # topped up
    await restarted.record(BalanceReading(999, T0 + timedelta(minutes=12)))  # the next crossing
    await restarted.record(BalanceReading(950, T0 + timedelta(minutes=13)))
    assert alerts == [(900, 1000), (999, 1000)]


async def test_an_older_reading_never_replaces_a_newer_one_and_no_threshold_never_alerts(store: Store) -> None:
    alerts: list[tuple[int, int]] = []
    quiet = book(store, alerts, threshold=None)
    await quiet.record(BalanceReading(10, T0 + timedelta(minutes=5)))
    await quiet.record(BalanceReading(20, T0))
    assert await quiet.latest() == BalanceReading(10, T0 + timedelta(minutes=5))
    assert alerts == []


async def test_a_failing_alert_post_is_logged_not_raised(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    async def broken(balance: int, limit: int) -> None:
        raise OSError("channel gone")

    failing = BalanceBook(store, BalanceSettings(low_threshold=100), alert=broken)
    await failing.record(BalanceReading(5, T0))
    assert "LiblibAI balance is low: 5 points" in caplog.text and "could not post the low-balance alert" in caplog.text


async def test_forecast_uses_the_charged_jobs_of_the_window(store: Store) -> None:
    for n, (age, points) in enumerate([(timedelta(days=9), 1000), (timedelta(days=3), 300), (timedelta(days=1), 400)]):
        job = Job(id=f"j{n}", user_id=1, channel_id=1, guild_id=n, request=GenerationRequest("star3", "p"))
        job.created_at = T0 - age
        await store.enqueue(job)
        await store.update_job(job.id, points_cost=points)
    outlook = await BalanceBook(store, BalanceSettings(forecast_days=7)).forecast(BalanceReading(1400, T0), now=T0)
    assert outlook.window_days == 7
    assert outlook.points_per_day == pytest.approx(700 / 3)  # the first charge in the window was 3 days ago
    assert outlook.days_left == pytest.approx(6.0)


def test_forecast_edges() -> None:
    window = timedelta(days=7)
    assert forecast(100, 0, first_charge=None, now=T0, window=window).days_left is None
    young = forecast(100, 50, first_charge=T0 - timedelta(hours=1), now=T0, window=window)
    assert young.points_per_day == 50 and young.days_left == 2  # less than a day counts as one day
    old = forecast(700, 700, first_charge=T0 - timedelta(days=30), now=T0, window=window)
    assert old.points_per_day == 100 and old.days_left == 7
    assert forecast(-5, 10, first_charge=T0 - timedelta(days=2), now=T0, window=window).days_left == 0
