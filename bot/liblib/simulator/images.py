"""Image helpers for the LiblibAI simulator: output sizes, deterministic PNG rendering, input checks."""

from __future__ import annotations

import hashlib
import io
import logging
import math
import random
import warnings
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)

STAR3_SIZES: dict[str, tuple[int, int]] = {
    "square": (1024, 1024),
    "portrait": (768, 1024),
    "landscape": (1280, 720),
}

_MEGAPIXEL = 1024 * 1024


def megapixel_size(ratio_w: float, ratio_h: float, *, multiple: int = 16) -> tuple[int, int]:
    """About one megapixel at the given aspect ratio, sides rounded to ``multiple`` (1:1 -> 1024x1024)."""
    width = math.sqrt(_MEGAPIXEL * ratio_w / ratio_h)
    height = width * ratio_h / ratio_w
    return (max(multiple, round(width / multiple) * multiple), max(multiple, round(height / multiple) * multiple))


def kontext_size(aspect_ratio: str) -> tuple[int, int]:
    """Output size for a Kontext ``aspectRatio`` such as ``"3:4"``."""
    left, _, right = aspect_ratio.partition(":")
    return megapixel_size(float(left), float(right))


def clamp_size(size: tuple[int, int], low: int, high: int) -> tuple[int, int]:
    """Scale ``size`` (keeping its ratio as far as possible) so both sides fall within [low, high]."""
    width, height = size
    scale = min(1.0, high / max(width, height))
    scale = max(scale, low / min(width, height)) if min(width, height) * scale < low else scale
    return (min(high, max(low, round(width * scale))), min(high, max(low, round(height * scale))))


def probe_image(data: bytes) -> tuple[int, int] | None:
    """The (width, height) of ``data`` if Pillow can verify it as an image, else None."""
    try:
        with warnings.catch_warnings():
            # A huge but valid picture is still a picture; don't let the bomb warning become an error.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                size = img.size
                img.verify()
    except Exception:  # Pillow raises many types for junk input
        return None
    return (int(size[0]), int(size[1]))


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256))


@lru_cache(maxsize=64)
def render_png(prompt: str, seed: int, index: int, width: int, height: int, noise: bool = False) -> bytes:
    """A PNG of ``width`` x ``height``, the same bytes for the same arguments.

    A four-corner gradient (a 2x2 image upscaled, which is far cheaper than drawing per pixel),
    a few shapes and the seed as text. Compression level 1 keeps a 1024x1024 render quick. ``noise``
    paints random pixels instead of the gradient: a PNG that does not compress (about 3 MB at 1024x1024,
    like a detailed real render), for measuring memory.
    """
    digest = hashlib.sha256(f"{prompt}\x00{seed}\x00{index}".encode()).digest()
    rng = random.Random(digest)
    if noise:
        img = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    else:
        corners = Image.new("RGB", (2, 2))
        corners.putdata([_colour(rng) for _ in range(4)])
        img = corners.resize((width, height), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(img)
    short = min(width, height)
    for _ in range(rng.randint(3, 6)):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        size = rng.randint(short // 10, short // 3)
        box = (x0 - size // 2, y0 - size // 2, x0 + size // 2, y0 + size // 2)
        shape = rng.randrange(3)
        if shape == 0:
            draw.ellipse(box, fill=_colour(rng), outline=(0, 0, 0), width=max(1, short // 200))
        elif shape == 1:
            draw.rectangle(box, fill=_colour(rng))
        else:
            draw.polygon([(box[0], box[3]), ((box[0] + box[2]) // 2, box[1]), (box[2], box[3])], fill=_colour(rng))
    font = ImageFont.load_default(size=max(10, short // 16))
    margin = max(4, short // 40)
    draw.text(
        (margin, margin),
        f"seed {seed} #{index}",
        fill=(255, 255, 255),
        font=font,
        stroke_width=2,
        stroke_fill=(0, 0, 0),
    )
    draw.text(
        (margin, height - margin - short // 16),
        prompt[:40],
        fill=(255, 255, 255),
        font=font,
        stroke_width=2,
        stroke_fill=(0, 0, 0),
    )
    out = io.BytesIO()
    img.save(out, format="PNG", compress_level=1)
    return out.getvalue()
