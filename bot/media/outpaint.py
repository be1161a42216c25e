"""Zoom Out, Make Square and Pan: where a result sits on its larger canvas, and which part of the canvas is new
(pure geometry, no Pillow; ``bot.media.canvas`` draws it).

* **Zoom Out 2× / 1.5×:** the canvas is 2 (1.5) times the image on each side, the image in its centre.
* **Make Square:** the canvas is a square as large as the image's longer side, the image centred along the other.
* **Pan ⬅️ ➡️ ⬆️ ⬇️:** the canvas grows by half the image on that side only; the image keeps the opposite edge.

Everything outside the image is new: the mask is white there and black on the image (white on black, as every
inpainting route takes it). Grown sides are multiples of ``CanvasLimits.step`` (the image models work in blocks of
8 pixels), so a few extra new pixels may line the grown sides; a side that does not grow keeps the image's exact
size. When the canvas would break the inpainting family's limits (its longest side, its pixel count), the image is
scaled down on it, never cropped: ``Placement.scaled`` then says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from bot.errors import InvalidRequestError
from bot.i18n import N_


class Outpaint(StrEnum):
    ZOOM_OUT_2 = "zoom2"
    ZOOM_OUT_15 = "zoom15"
    SQUARE = "square"
    PAN_LEFT = "panleft"
    PAN_RIGHT = "panright"
    PAN_UP = "panup"
    PAN_DOWN = "pandown"


ZOOM_FACTORS = {Outpaint.ZOOM_OUT_2: 2.0, Outpaint.ZOOM_OUT_15: 1.5}
PANS = frozenset({Outpaint.PAN_LEFT, Outpaint.PAN_RIGHT, Outpaint.PAN_UP, Outpaint.PAN_DOWN})
PAN_FRACTION = 0.5  # a pan adds half the image's width (left, right) or height (up, down)
_SHRINK = 0.98  # each step down when the rounded canvas still breaks a limit


@dataclass(frozen=True, slots=True)
class CanvasLimits:
    """What the inpainting family takes: the longest side and the pixel count of its input image."""

    max_side: int
    max_pixels: int
    step: int = 8


@dataclass(frozen=True, slots=True)
class Placement:
    """A canvas of ``width`` x ``height`` with the image (``image_width`` x ``image_height``) at (``x``, ``y``)."""

    width: int
    height: int
    x: int
    y: int
    image_width: int
    image_height: int
    scaled: bool = False  # the image had to shrink to keep the canvas within the limits

    @property
    def box(self) -> tuple[int, int, int, int]:
        """The image's area on the canvas: left, top, right, bottom (right and bottom exclusive)."""
        return self.x, self.y, self.x + self.image_width, self.y + self.image_height

    def within(self, limits: CanvasLimits) -> bool:
        return max(self.width, self.height) <= limits.max_side and self.width * self.height <= limits.max_pixels


def applies(kind: Outpaint, width: int, height: int) -> bool:
    """Whether ``kind`` adds anything to a ``width`` x ``height`` image (Make Square does not to a square one)."""
    return not (kind is Outpaint.SQUARE and width == height)


def place(kind: Outpaint, width: int, height: int, limits: CanvasLimits) -> Placement:
    """The canvas for ``kind`` around a ``width`` x ``height`` image, within ``limits`` (see the module docstring).

    Raises InvalidRequestError when ``kind`` adds nothing (Make Square on a square image)."""
    if not applies(kind, width, height):
        raise InvalidRequestError("square", N_("this image is already square."))
    grown_w, grown_h = _grown(kind, width, height)
    scale = min(1.0, limits.max_side / max(grown_w, grown_h), math.sqrt(limits.max_pixels / (grown_w * grown_h)))
    while True:
        image_w, image_h = (width, height) if scale >= 1.0 else _scaled(width, height, scale, limits.step)
        placement = _layout(kind, image_w, image_h, limits.step, scaled=scale < 1.0)
        if placement.within(limits) or min(image_w, image_h) <= limits.step:
            return placement
        scale = min(scale, 1.0) * _SHRINK


def _grown(kind: Outpaint, width: int, height: int) -> tuple[float, float]:
    """The canvas size before rounding, at the image's own scale."""
    if kind in ZOOM_FACTORS:
        return width * ZOOM_FACTORS[kind], height * ZOOM_FACTORS[kind]
    if kind is Outpaint.SQUARE:
        side = max(width, height)
        return side, side
    if kind in (Outpaint.PAN_LEFT, Outpaint.PAN_RIGHT):
        return width * (1 + PAN_FRACTION), height
    return width, height * (1 + PAN_FRACTION)


def _scaled(width: int, height: int, scale: float, step: int) -> tuple[int, int]:
    """The image shrunk by ``scale``, sides down to multiples of ``step`` (at least one step)."""
    return max(step, int(width * scale) // step * step), max(step, int(height * scale) // step * step)


def _up(value: float, step: int) -> int:
    return math.ceil(value / step) * step


def _layout(kind: Outpaint, image_w: int, image_h: int, step: int, *, scaled: bool) -> Placement:
    def at(width: int, height: int, x: int, y: int) -> Placement:
        return Placement(width, height, x, y, image_w, image_h, scaled)

    if kind in ZOOM_FACTORS:
        factor = ZOOM_FACTORS[kind]
        width, height = _up(image_w * factor, step), _up(image_h * factor, step)
        return at(width, height, (width - image_w) // 2, (height - image_h) // 2)
    if kind is Outpaint.SQUARE:
        side = _up(max(image_w, image_h), step)
        return at(side, side, (side - image_w) // 2, (side - image_h) // 2)
    if kind in (Outpaint.PAN_LEFT, Outpaint.PAN_RIGHT):
        extra = _up(image_w * PAN_FRACTION, step)
        return at(image_w + extra, image_h, extra if kind is Outpaint.PAN_LEFT else 0, 0)
    extra = _up(image_h * PAN_FRACTION, step)
    return at(image_w, image_h + extra, 0, extra if kind is Outpaint.PAN_UP else 0)
