"""The owner's LiblibAI account: its balance (kept, shown, alerted on) and how long it lasts."""

from bot.billing.balance import AlertPoster, BalanceBook, BalanceReading
from bot.billing.forecast import Forecast, forecast
from bot.billing.prices import price_per_image

__all__ = ["AlertPoster", "BalanceBook", "BalanceReading", "Forecast", "forecast", "price_per_image"]
