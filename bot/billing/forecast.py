"""How long the balance lasts at the recent burn rate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

MIN_SPAN = timedelta(days=1)  # a rate over less than a day says little: spread it over one day at least


@dataclass(frozen=True, slots=True)
class Forecast:
    window_days: int  # the rate is over at most this many past days
    points_per_day: float
    days_left: float | None  # None: nothing was spent, the balance lasts indefinitely at this rate


def forecast(balance: int, spent: int, *, first_charge: datetime | None, now: datetime, window: timedelta) -> Forecast:
    """``spent`` points were charged since ``now - window`` (the oldest of those jobs at ``first_charge``).

    The rate is over the window, or over the time since the first charge when the bot is younger than it
    (a bot started yesterday is not assumed idle for the six days before)."""
    days = max(1, round(window / timedelta(days=1)))
    if spent <= 0 or first_charge is None:
        return Forecast(days, 0.0, None)
    span = min(window, max(MIN_SPAN, now - first_charge))
    rate = spent / (span.total_seconds() / 86400)
    return Forecast(days, rate, max(0.0, balance) / rate)
