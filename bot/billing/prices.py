"""[liblib.prices]: points per image of each mode, the one place a price is looked up."""

from __future__ import annotations

from collections.abc import Mapping

from bot.generation.families import family_of
from bot.liblib.endpoints import Family

# The entry a mode falls back to when the table has none of its own name.
_FAMILY_ENTRY = {Family.CUSTOM: "custom", Family.STAR3: "star3", Family.IMG1: "img1-normal"}


def price_per_image(prices: Mapping[str, int], name: str) -> int:
    """By the price name ("star3", "kontext-max", "img1-masterpiece", a custom model's name; see
    ``families.price_name``), else its family's entry ("custom" for custom models, IMG1's normal quality); a name
    the table does not know costs the dearest price (never reserve too little)."""
    if name in prices:
        return prices[name]
    key = _FAMILY_ENTRY.get(family_of(name), name)
    return prices.get(key, max(prices.values(), default=0))
