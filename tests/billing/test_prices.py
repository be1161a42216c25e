"""[liblib.prices]: each mode's price, the newer families' included (Smart IMG1 by quality)."""

from __future__ import annotations

from bot.billing import price_per_image
from bot.generation.families import price_name
from bot.models import GenerationRequest
from bot.settings import DEFAULT_PRICES, LiblibSettings


def test_every_builtin_mode_has_a_default_price() -> None:
    prices = LiblibSettings().prices
    for mode, quality in [("seedream", None), ("seedream-4.5", None), ("libdream", None)] + [
        (mode, q) for mode in ("img1", "img1-inpaint") for q in (None, "turbo", "normal", "masterpiece")
    ]:
        name = price_name(GenerationRequest(mode=mode, prompt="p", quality=quality))
        assert name in DEFAULT_PRICES, name
        assert price_per_image(prices, name) == DEFAULT_PRICES[name]
    assert (
        price_per_image(prices, "img1-masterpiece")
        > price_per_image(prices, "img1-normal")
        > price_per_image(prices, "img1-turbo")
    )


def test_configured_prices_override_the_defaults_one_by_one() -> None:
    prices = LiblibSettings(prices={"seedream": 31, "img1-turbo": 4}).prices
    assert (prices["seedream"], prices["img1-turbo"], prices["seedream-4.5"]) == (31, 4, DEFAULT_PRICES["seedream-4.5"])


def test_a_mode_without_an_entry_falls_back_to_its_family() -> None:
    assert price_per_image({"custom": 9, "img1-normal": 30, "star3": 8}, "dreamtech-xl") == 9
    assert price_per_image({"custom": 9, "img1-normal": 30, "star3": 8}, "img1") == 30
    assert price_per_image({"custom": 9, "kontext-max": 58}, "kontext-ultra") == 58  # never reserve too little
