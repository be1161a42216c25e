"""Image bytes handling with Pillow: sniff and validate inputs, fit outputs into Discord's upload limit.

Inputs are checked by their real content, never their file name: PNG, JPEG and WebP pass through;
a GIF becomes its first frame as PNG. Decompression bombs and oversized dimensions are refused
before decoding pixels.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from bot.errors import InvalidRequestError
from bot.i18n import N_, Text
from bot.liblib.endpoints import MAX_INPUT_IMAGE_BYTES

MIB = 1_048_576  # sizes are shown in MiB, labelled "MB" like the README's "≤ 10 MB" (the API's 10 MiB)
MAX_INPUT_SIDE = 4096
MIN_INPUT_SIDE = 64
MAX_INPUT_PIXELS = 4096 * 4096
_ALLOWED = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}


@dataclass(frozen=True, slots=True)
class ImageFile:
    """An image ready to attach to a Discord message."""

    filename: str
    data: bytes
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True, slots=True)
class InputImage:
    data: bytes
    content_type: str  # image/png | image/jpeg | image/webp
    extension: str  # png | jpg | webp
    width: int
    height: int


def too_large_text(size: int | None, limit: int = MAX_INPUT_IMAGE_BYTES) -> Text:
    """Why an input image is refused for its size (``size`` None: not known, only that it is over)."""
    if size is None:
        return Text("the file is too large; the limit is {limit:.0f} MB.", {"limit": limit / MIB})
    return Text("the file is {size:.1f} MB; the limit is {limit:.0f} MB.", {"size": size / MIB, "limit": limit / MIB})


def check_input_size(size: int | None, *, field: str, limit: int = MAX_INPUT_IMAGE_BYTES) -> None:
    """The input size rule: at most the API's limit. ``size`` None (not known yet) passes."""
    if size is not None and size > limit:
        text = too_large_text(size, limit)
        raise InvalidRequestError(field, text.msgid, **text.params)


def sniff_input(data: bytes, *, field: str = "image", max_bytes: int = MAX_INPUT_IMAGE_BYTES) -> InputImage:
    """Validate an input image by content; return it ready to hand to LiblibAI (GIF → first frame PNG)."""
    if not data:
        raise InvalidRequestError(field, N_("the file is empty."))
    check_input_size(len(data), field=field, limit=max_bytes)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                fmt = probe.format or ""
                width, height = probe.size
                if fmt not in _ALLOWED:
                    raise InvalidRequestError(field, N_("only PNG, JPEG, WebP and GIF images are supported."))
                if width * height > MAX_INPUT_PIXELS or max(width, height) > MAX_INPUT_SIDE:
                    raise InvalidRequestError(
                        field,
                        N_("the image is {width}×{height}; the largest allowed side is {max_input_side} px."),
                        width=width,
                        height=height,
                        max_input_side=MAX_INPUT_SIDE,
                    )
                if min(width, height) < MIN_INPUT_SIDE:
                    raise InvalidRequestError(
                        field,
                        N_("the image is {width}×{height}; each side must be ≥ {min_input_side} px."),
                        width=width,
                        height=height,
                        min_input_side=MIN_INPUT_SIDE,
                    )
                probe.load()  # decode fully: truncated or corrupt files fail here, not at LiblibAI
                if fmt == "GIF":
                    frame = probe.convert("RGBA")
                    out = io.BytesIO()
                    frame.save(out, "PNG")
                    return InputImage(out.getvalue(), "image/png", "png", width, height)
    except InvalidRequestError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidRequestError(field, N_("that file is not a readable image.")) from None
    except (OSError, SyntaxError, ValueError):
        raise InvalidRequestError(field, N_("the image is corrupt or truncated.")) from None
    ext = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}[fmt]
    return InputImage(data, _ALLOWED[fmt], ext, width, height)


def as_png_or_jpeg(image: InputImage) -> InputImage:
    """LiblibAI's upload flow takes jpg/png only: convert WebP to PNG."""
    if image.extension in ("png", "jpg"):
        return image
    with Image.open(io.BytesIO(image.data)) as img:
        out = io.BytesIO()
        img.save(out, "PNG")
    return InputImage(out.getvalue(), "image/png", "png", image.width, image.height)


def as_png_mask(image: InputImage) -> InputImage:
    """An inpaint mask as LiblibAI wants it: a grayscale PNG, white where to repaint (liblib-api.md §5.4)."""
    with Image.open(io.BytesIO(image.data)) as img:
        out = io.BytesIO()
        img.convert("L").save(out, "PNG")
    return InputImage(out.getvalue(), "image/png", "png", image.width, image.height)


def normalize_for_discord(data: bytes, stem: str, *, max_bytes: int) -> ImageFile:
    """Fit a result image into ``max_bytes``: PNG as is when small enough, else JPEG, then downscale."""
    with Image.open(io.BytesIO(data)) as img:
        width, height = img.size
        img.load()  # decode fully: a truncated or corrupt result raises here instead of reaching Discord
        if len(data) <= max_bytes and img.format == "PNG":
            return ImageFile(f"{stem}.png", data, width, height)
        rgb = img.convert("RGB")
    scale = 1.0
    while True:
        frame = rgb if scale == 1.0 else rgb.resize((max(1, int(width * scale)), max(1, int(height * scale))))
        for quality in (92, 85, 75):
            out = io.BytesIO()
            frame.save(out, "JPEG", quality=quality, optimize=True)
            if out.tell() <= max_bytes:
                return ImageFile(f"{stem}.jpg", out.getvalue(), frame.width, frame.height)
        scale *= 0.75
        if scale < 0.05:  # pragma: no cover - only for absurdly small limits
            raise ValueError("cannot fit the image into the upload limit")
