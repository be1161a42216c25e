"""Images for the media tests and the large-image end-to-end tests."""

from __future__ import annotations

import functools
import io
import random

from PIL import Image


@functools.cache
def noisy_webp(side: int = 4096, seed: int = 1, *, alpha: bool = False) -> bytes:
    """Random pixels as a lossy WebP (~6 MB at 4096²): a valid input within the 10 MB limit, but ~50 MB as a
    PNG and seconds of Pillow work to decode and re-encode. ``alpha``: with a half-transparent left half."""
    rng = random.Random(seed)
    pixels = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    if alpha:
        mask = Image.new("L", (side, side), 255)
        mask.paste(128, (0, 0, side // 2, side))
        pixels.putalpha(mask)
    out = io.BytesIO()
    pixels.save(out, "WEBP", quality=15, method=0)
    return out.getvalue()


def encoded(img: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **options)
    return out.getvalue()


def noise(size: tuple[int, int], mode: str = "RGB", seed: int = 2) -> Image.Image:
    channels = len(mode)
    data = random.Random(seed).randbytes(size[0] * size[1] * channels)
    return Image.frombytes(mode, size, data)
