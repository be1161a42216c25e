"""[liblib.prices]: points per image of each mode, the one place a price is looked up."""

from __future__ import annotations

from collections.abc import Mapping

from bot.generation.families import family_of
from bot.liblib.endpoints import Family


def price_per_image(prices: Mapping[str, int], name: str) -> int:
    """By the mode's name ("star3", "kontext-max", a custom model's name), else its family's entry ("custom" for
    custom models); a name the table does not know costs the dearest price (never reserve too little)."""
    if name in prices:
        return prices[name]
    family = family_of(name)
    key = {Family.CUSTOM: "custom", Family.STAR3: "star3"}.get(family, name)
    return prices.get(key, max(prices.values(), default=0))
