"""Output sizes from a member's aspect ratio ("W:H"), within each family's documented pixel rules.

Star-3 and custom checkpoints round a target area to the ratio (``size_for_ratio``). The newer families state
rules on the total pixels too (liblib-api.md §5.8): Seedream 4.0 sides 512–4096 with width × height ≤ 2048²,
Seedream 4.5 3,686,400–16,777,216 pixels in all, libDream sides 512–3072 with the product ≤ 2048². ``fit_size``
lands inside such rules for any ratio, as close to it as the rules allow; IMG1 takes named ratios only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bot.liblib import endpoints as ep

STEP = 16  # sides are multiples of 16, as the image models work in 16-pixel blocks
IMG1_SIZES: dict[str, tuple[int, int]] = {"square": (1024, 1024), "portrait": (1024, 1536), "landscape": (1536, 1024)}


def parse_ratio(ratio: str | None) -> tuple[int, int]:
    """``"16:9"`` -> (16, 9); None means square."""
    width, _, height = (ratio or "1:1").partition(":")
    return int(width), int(height)


def size_for_ratio(ratio: str | None, area: int, *, lo: int, hi: int, step: int = 64) -> tuple[int, int]:
    """Width and height near ``area`` pixels for ``ratio`` ("W:H"), multiples of ``step`` within [lo, hi]."""
    rw, rh = parse_ratio(ratio)
    height = math.sqrt(area * rh / rw)
    width = height * rw / rh

    def fit(v: float) -> int:
        return max(lo, min(hi, round(v / step) * step))

    return fit(width), fit(height)


@dataclass(frozen=True, slots=True)
class PixelRules:
    """Each side within ``side``; width × height within ``pixels`` (inclusive); ``area`` is the size aimed at."""

    area: int
    side: tuple[int, int]
    pixels: tuple[int, int]

    def allows(self, width: int, height: int) -> bool:
        lo, hi = self.side
        return lo <= width <= hi and lo <= height <= hi and self.pixels[0] <= width * height <= self.pixels[1]


SEEDREAM_40 = PixelRules(area=2048 * 2048, side=ep.SEEDREAM_40_SIDE, pixels=(1, ep.SEEDREAM_40_MAX_PIXELS))
# The doc gives 4.5 no rule per side; 256–8192 only keeps extreme ratios sane (a 16:1 picture still fits).
SEEDREAM_45 = PixelRules(area=2048 * 2048, side=(256, 8192), pixels=ep.SEEDREAM_45_PIXELS)
LIBDREAM = PixelRules(area=ep.LIBDREAM_DEFAULT_SIDE**2, side=ep.LIBDREAM_SIDE, pixels=(1, ep.LIBDREAM_MAX_PIXELS))


def fit_size(ratio: str | None, rules: PixelRules, *, step: int = STEP) -> tuple[int, int]:
    """The size closest to ``ratio`` at about ``rules.area`` pixels that ``rules`` allow, sides multiples of ``step``.

    Rounds to the ratio first, then takes a step off (or adds one to) the side furthest from the ratio until
    the total fits; a ratio the side limits cannot reach ends at those limits (still an allowed size)."""
    rw, rh = parse_ratio(ratio)
    target = rw / rh
    side_lo, side_hi = rules.side
    pixel_lo, pixel_hi = rules.pixels

    def snap(value: float) -> int:
        return max(side_lo, min(side_hi, round(value / step) * step))

    area = min(max(rules.area, pixel_lo), pixel_hi)
    width, height = math.sqrt(area * target), math.sqrt(area / target)
    scale = min(1.0, side_hi / max(width, height))  # the long side within its limit, the ratio kept
    scale = max(scale, side_lo / min(width, height))  # then the short side (a ratio past the limits: clamped)
    width, height = snap(width * scale), snap(height * scale)
    while width * height > pixel_hi:
        wide = width / height >= target  # too wide for the ratio: narrow it, else shorten it
        if wide and width - step >= side_lo:
            width -= step
        elif height - step >= side_lo:
            height -= step
        elif width - step >= side_lo:
            width -= step
        else:  # pragma: no cover - every rule set here has side_lo² within its pixel limit
            break
    while width * height < pixel_lo:
        narrow = width / height <= target  # too narrow for the ratio: widen it, else make it taller
        if narrow and width + step <= side_hi:
            width += step
        elif height + step <= side_hi:
            height += step
        elif width + step <= side_hi:
            width += step
        else:  # pragma: no cover - every rule set here has side_hi² above its pixel minimum
            break
    return width, height


def seedream_size(model: str, ratio: str | None) -> tuple[int, int]:
    return fit_size(ratio, SEEDREAM_45 if model == ep.SEEDREAM_45_MODEL else SEEDREAM_40)


def libdream_size(ratio: str | None) -> tuple[int, int]:
    return fit_size(ratio, LIBDREAM)


def img1_aspect(ratio: str | None) -> str:
    """IMG1's named ``aspectRatio`` nearest a "W:H" ratio: square, portrait (2:3) or landscape (3:2); None: auto."""
    if ratio is None:
        return "auto"
    rw, rh = parse_ratio(ratio)
    if rw == rh:
        return "square"
    return "landscape" if rw > rh else "portrait"


def scaled_size(
    width: int, height: int, factor: float, rules: PixelRules, *, step: int = STEP
) -> tuple[int, int] | None:
    """``width`` x ``height`` grown by ``factor`` as far as ``rules`` allow (the ratio kept), sides multiples of
    ``step``; None when no size within the rules keeps the ratio."""
    side_lo, side_hi = rules.side
    pixel_lo, pixel_hi = rules.pixels
    scale = min(factor, side_hi / max(width, height), math.sqrt(pixel_hi / (width * height)))
    scale = max(scale, side_lo / min(width, height), math.sqrt(pixel_lo / (width * height)))
    grown = (int(width * scale) // step * step, int(height * scale) // step * step)
    if grown[0] * grown[1] < pixel_lo or min(grown) < side_lo:  # rounded down below a minimum: round up instead
        grown = (math.ceil(width * scale / step) * step, math.ceil(height * scale / step) * step)
    return grown if rules.allows(*grown) else None
