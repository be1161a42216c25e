"""Image helpers for the LiblibAI simulator: output sizes, input checks, and deterministic PNG rendering with a
visible "SIMULATED" mark."""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import math
import random
import warnings
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)

STAR3_SIZES: dict[str, tuple[int, int]] = {
    "square": (1024, 1024),
    "portrait": (768, 1024),
    "landscape": (1280, 720),
}

_MEGAPIXEL = 1024 * 1024

MARK_TEXT = "SIMULATED"
_CJK_FONT = "NotoSansCJKsc-Regular.otf"  # shipped by mplfonts (see bot/reports/chart.py)
_THUMB = 256  # longest side of the thumbnail kept of an input image
_TINT = 0.3  # how much of the gradient shows through an image-to-image result
_CAPTION_CHARS = 80
_WHITE = (255, 255, 255)
_BOX = (24, 24, 24)


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


@dataclass(frozen=True, slots=True)
class SourcePicture:
    """A fetched input image: its size, and a small RGB thumbnail that image-to-image results are painted from."""

    width: int
    height: int
    digest: str  # sha256 hex of the fetched bytes
    thumb_size: tuple[int, int] = (0, 0)
    thumb: bytes = b""  # raw RGB pixels of thumb_size; empty when it could not be decoded


def read_source(data: bytes) -> SourcePicture | None:
    """``data`` as a SourcePicture if Pillow can verify it as an image, else None (CPU work: call off the loop)."""
    try:
        with warnings.catch_warnings():
            # A huge but valid picture is still a picture; don't let the bomb warning become an error.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                size = img.size
                img.verify()
            with Image.open(io.BytesIO(data)) as img:
                img.draft("RGB", (_THUMB, _THUMB))  # JPEG: decode at a reduced scale
                img.thumbnail((_THUMB, _THUMB), Image.Resampling.BILINEAR, reducing_gap=2.0)
                thumb = img.convert("RGB")
    except Exception:  # Pillow raises many types for junk input
        return None
    digest = hashlib.sha256(data).hexdigest()
    return SourcePicture(int(size[0]), int(size[1]), digest, thumb.size, thumb.tobytes())


@dataclass(frozen=True, slots=True)
class RenderSpec:
    """What one result image shows. ``index`` is 1-based: result 2 of 4 is painted "2/4", as the bot and
    the CLI name its file ``..._2``."""

    prompt: str
    seed: int
    index: int
    count: int
    width: int
    height: int
    source: SourcePicture | None = None  # image-to-image: the picture is the source's, tinted


Box = tuple[int, int, int, int]  # left, top, right, bottom (right and bottom exclusive)


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the marks go on a ``width`` x ``height`` result."""

    band: Box  # the darkened strip across the middle that carries MARK_TEXT
    mark_origin: tuple[int, int]
    mark_size: int  # font size of MARK_TEXT
    badge: Box  # the opaque "index/count" box, top right
    badge_size: int
    caption: Box  # the opaque prompt strip along the bottom (painted only with the CJK font)
    caption_size: int
    margin: int


@functools.cache
def cjk_font_path() -> str | None:
    """Noto Sans CJK SC from the ``mplfonts`` package (Latin and Chinese), or None when it is missing."""
    try:
        path = resources.files("mplfonts") / "fonts" / _CJK_FONT
        return str(path) if path.is_file() else None
    except (ModuleNotFoundError, FileNotFoundError):  # pragma: no cover - mplfonts is a dependency
        return None


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The marks' font at ``size`` px: the CJK font, else Pillow's built-in one (Latin only).

    Loaded per call (well under a millisecond): a FreeType face is not shared between render threads."""
    path = cjk_font_path()
    return ImageFont.truetype(path, size) if path else ImageFont.load_default(size=size)


def layout(width: int, height: int, count: int) -> Layout:
    short = min(width, height)
    margin = max(2, short // 40)
    band_height = max(12, short // 6)
    top = (height - band_height) // 2
    mark_size = max(8, int(band_height * 0.6))
    length = font(mark_size).getlength(MARK_TEXT)
    if length > width * 0.9:
        mark_size = max(6, int(mark_size * width * 0.9 / length))
        length = font(mark_size).getlength(MARK_TEXT)
    mark_origin = ((width - int(length)) // 2, top + (band_height - mark_size) // 2 - mark_size // 8)
    badge_size = max(8, short // 14)
    badge_width = int(font(badge_size).getlength(f"{count}/{count}")) + 2 * margin
    badge_height = badge_size + 2 * margin
    badge = (width - margin - badge_width, margin, width - margin, margin + badge_height)
    caption_size = max(8, short // 24)
    caption_height = caption_size + 2 * margin
    return Layout(
        band=(0, top, width, top + band_height),
        mark_origin=mark_origin,
        mark_size=mark_size,
        badge=badge,
        badge_size=badge_size,
        caption=(0, height - caption_height, width, height),
        caption_size=caption_size,
        margin=margin,
    )


def badge_image(index: int, count: int, where: Layout) -> Image.Image:
    """The opaque "index/count" box exactly as it is painted at ``where.badge``."""
    left, top, right, bottom = where.badge
    box = Image.new("RGB", (right - left, bottom - top), _BOX)
    origin = (where.margin, where.margin - where.badge_size // 8)
    ImageDraw.Draw(box).text(origin, f"{index}/{count}", fill=_WHITE, font=font(where.badge_size))
    return box


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256))


def _gradient(rng: random.Random, width: int, height: int) -> Image.Image:
    # A 2x2 image upscaled: far cheaper than drawing per pixel.
    corners = Image.new("RGB", (2, 2))
    corners.putdata([_colour(rng) for _ in range(4)])
    return corners.resize((width, height), Image.Resampling.BILINEAR)


def _shapes(img: Image.Image, rng: random.Random) -> None:
    draw = ImageDraw.Draw(img)
    width, height = img.size
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


def _fit(draw: ImageDraw.ImageDraw, text: str, face: ImageFont.FreeTypeFont | ImageFont.ImageFont, room: int) -> str:
    """``text`` on one line, cut with an ellipsis to fit ``room`` pixels."""
    text = " ".join(text.split())[:_CAPTION_CHARS]
    if draw.textlength(text, font=face) <= room:
        return text
    while text and draw.textlength(text + "…", font=face) > room:
        text = text[:-1]
    return text + "…" if text else ""


def _paint_marks(img: Image.Image, spec: RenderSpec) -> None:
    width, height = img.size
    where = layout(width, height, spec.count)
    draw = ImageDraw.Draw(img)
    seed_size = where.caption_size
    draw.text(
        (where.margin, where.margin),
        f"seed {spec.seed}",
        fill=_WHITE,
        font=font(seed_size),
        stroke_width=max(1, seed_size // 12),
        stroke_fill=(0, 0, 0),
    )
    # The mark: a darkened band (the picture shows through) with MARK_TEXT, opaque white on a black outline.
    band = img.crop(where.band).point(lambda v: v * 2 // 5)
    img.paste(band, where.band[:2])
    draw.text(
        where.mark_origin,
        MARK_TEXT,
        fill=_WHITE,
        font=font(where.mark_size),
        stroke_width=max(1, where.mark_size // 16),
        stroke_fill=(0, 0, 0),
    )
    img.paste(badge_image(spec.index, spec.count, where), where.badge[:2])
    if cjk_font_path() is None:  # the built-in font draws Chinese as boxes: no prompt text rather than tofu
        return
    draw.rectangle((where.caption[0], where.caption[1], where.caption[2] - 1, where.caption[3] - 1), fill=_BOX)
    face = font(where.caption_size)
    text = _fit(draw, spec.prompt, face, width - 2 * where.margin)
    draw.text((where.margin, where.caption[1] + where.margin - where.caption_size // 8), text, fill=_WHITE, font=face)


@lru_cache(maxsize=64)
def render_png(spec: RenderSpec, noise: bool = False) -> bytes:
    """A PNG of ``spec.width`` x ``spec.height``, the same bytes for the same spec (CPU work: call off the loop).

    Text-to-image: a four-corner gradient and a few shapes chosen by prompt, seed and index. Image-to-image:
    the source, resized and tinted by that gradient. Over either: "SIMULATED" on a darkened band, the
    "index/count" badge, the seed and the prompt (in Noto Sans CJK, so Chinese shows as Chinese).
    Compression level 1 keeps a 1024x1024 render quick. ``noise`` paints random pixels instead: a PNG that
    does not compress (about 3 MB at 1024x1024, like a detailed real render), for measuring memory.
    """
    width, height = spec.width, spec.height
    digest = hashlib.sha256(f"{spec.prompt}\x00{spec.seed}\x00{spec.index}".encode()).digest()
    rng = random.Random(digest)
    if noise:
        img = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    elif spec.source is not None and spec.source.thumb:
        picture = Image.frombytes("RGB", spec.source.thumb_size, spec.source.thumb)
        picture = picture.resize((width, height), Image.Resampling.BILINEAR)
        img = Image.blend(picture, _gradient(rng, width, height), _TINT)
    else:
        img = _gradient(rng, width, height)
        _shapes(img, rng)
    _paint_marks(img, spec)
    out = io.BytesIO()
    img.save(out, format="PNG", compress_level=1)
    return out.getvalue()
