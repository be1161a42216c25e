"""The account balance LiblibAI reports with every task status: kept in the store (with its time), exported as
a gauge, and alerted on once per crossing of the owner's low threshold.

The client keeps the latest reading in memory (``LiblibClient.latest_balance``); ``BalanceBook.run`` looks at
it every ``check_interval`` seconds and records what changed. Only the process that polls LiblibAI (the
dispatcher) has readings; the others record nothing. Whether an alert is out is kept in the store, so a
restart below the threshold does not post it again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.billing.forecast import Forecast, forecast
from bot.models import utcnow
from bot.settings import BalanceSettings
from bot.storage.base import JobStore, MetaStore

log = logging.getLogger(__name__)

BALANCE_KEY = "liblib.balance"
ALERTED_KEY = "liblib.balance_low_alerted"

AlertPoster = Callable[[int, int], Awaitable[None]]  # (balance, threshold): tell the owner; may raise


@dataclass(frozen=True, slots=True)
class BalanceReading:
    points: int
    at: datetime

    def to_json(self) -> str:
        return json.dumps({"points": self.points, "at": self.at.isoformat()})

    @classmethod
    def from_json(cls, raw: str) -> BalanceReading | None:
        try:
            data = json.loads(raw)
            return cls(int(data["points"]), datetime.fromisoformat(data["at"]))
        except (ValueError, KeyError, TypeError):
            return None


class BalanceStore(MetaStore, JobStore, Protocol):
    """What the book needs of the store (the meta table and the charged jobs)."""


class BalanceBook:
    def __init__(
        self,
        store: BalanceStore,
        settings: BalanceSettings,
        *,
        alert: AlertPoster | None = None,
        gauge: Callable[[BalanceReading], None] | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._alert = alert
        self._gauge = gauge
        self._recorded: BalanceReading | None = None

    async def latest(self) -> BalanceReading | None:
        raw = await self._store.get_meta(BALANCE_KEY)
        return BalanceReading.from_json(raw) if raw else None

    async def record(self, reading: BalanceReading) -> None:
        """Keep ``reading`` (newer than the last), export it, and alert when it crossed the threshold."""
        if self._recorded is not None and reading.at <= self._recorded.at:
            return
        await self._store.set_meta(BALANCE_KEY, reading.to_json())
        self._recorded = reading
        if self._gauge is not None:
            self._gauge(reading)
        await self._check_threshold(reading.points)

    async def _check_threshold(self, points: int) -> None:
        threshold = self._settings.low_threshold
        if threshold is None:
            return
        alerted = await self._store.get_meta(ALERTED_KEY) == "1"
        if points >= threshold:
            if alerted:
                log.info("LiblibAI balance is back above the alert threshold: %s >= %s points", points, threshold)
                await self._store.set_meta(ALERTED_KEY, "0")
            return
        if alerted:
            return
        log.warning("LiblibAI balance is low: %s points (alert threshold %s). Top up the account.", points, threshold)
        await self._store.set_meta(ALERTED_KEY, "1")  # before posting: a failed post is not retried forever
        if self._alert is not None:
            try:
                await self._alert(points, threshold)
            except Exception:
                log.warning("could not post the low-balance alert", exc_info=True)

    async def forecast(self, reading: BalanceReading, *, now: datetime | None = None) -> Forecast:
        now = now or utcnow()
        window = timedelta(days=self._settings.forecast_days)
        spent, first = await self._store.points_charged_since(now - window)
        return forecast(reading.points, spent, first_charge=first, now=now, window=window)

    async def run(self, latest: Callable[[], BalanceReading | None]) -> None:
        """Record the client's latest reading every ``check_interval`` seconds (until cancelled)."""
        while True:
            reading = latest()
            if reading is not None:
                try:
                    await self.record(reading)
                except Exception:
                    log.warning("could not record the LiblibAI balance", exc_info=True)
            await asyncio.sleep(self._settings.check_interval)
