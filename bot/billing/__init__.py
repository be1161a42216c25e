"""The owner's LiblibAI account: its balance (kept, shown, alerted on) and how long it lasts."""

from bot.billing.balance import AlertPoster, BalanceBook, BalanceReading
from bot.billing.forecast import Forecast, forecast

__all__ = ["AlertPoster", "BalanceBook", "BalanceReading", "Forecast", "forecast"]
