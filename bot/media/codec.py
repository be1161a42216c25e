"""Image bytes handling with Pillow: sniff and validate inputs, fit them into LiblibAI's upload limit, and fit
outputs into Discord's.

Inputs are checked by their real content, never their file name: PNG, JPEG and WebP pass through;
a GIF becomes its first frame as PNG. Decompression bombs and oversized dimensions are refused
before decoding pixels. Everything here but the size rule is CPU-heavy (a 4096×4096 image takes seconds):
the async code calls it through ``bot.media.workers.ImageWorkers``, never on the event loop.
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
    """Validate an input image by content; return it ready to hand to LiblibAI (GIF → first frame PNG).
    Decodes every pixel (CPU-heavy): call it through ``ImageWorkers``."""
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


def as_png_or_jpeg(image: InputImage, *, max_bytes: int = MAX_INPUT_IMAGE_BYTES) -> InputImage:
    """What LiblibAI's upload flow takes (liblib-api.md §7): a PNG or JPEG of at most ``max_bytes``.

    A PNG or JPEG within the limit passes unchanged. Anything else (WebP, a GIF's frame grown past the limit
    as a PNG) is re-encoded: as PNG when it has transparency or was lossless and still fits, else as JPEG
    (a photo: a 4096×4096 WebP is ~50 MB as a PNG), downscaled until it fits. A valid input always fits.
    CPU-heavy: call it through ``ImageWorkers``.
    """
    if image.extension in ("png", "jpg") and len(image.data) <= max_bytes:
        return image
    with Image.open(io.BytesIO(image.data)) as img:
        img.load()
        return _fit_upload(img, max_bytes, lossless_first=image.extension == "png")


def _has_alpha(img: Image.Image) -> bool:
    """Whether any pixel is (partly) transparent; an alpha channel that is all opaque does not count."""
    if img.mode == "P":
        return "transparency" in img.info
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        low = img.getchannel("A").getextrema()[0]  # one band: (min, max)
        return isinstance(low, int | float) and low < 255
    return False


def _encoded(img: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **options)
    return out.getvalue()


def _fit_upload(img: Image.Image, max_bytes: int, *, lossless_first: bool) -> InputImage:
    alpha = _has_alpha(img)
    mode = "RGBA" if alpha else "RGB"
    frame = img if img.mode == mode else img.convert(mode)
    if lossless_first or alpha:
        data = _encoded(frame, "PNG")
        if len(data) <= max_bytes:
            return InputImage(data, "image/png", "png", frame.width, frame.height)
    qualities: tuple[int, ...] = (95, 85, 75)
    scale = 1.0
    while True:
        size = (max(1, round(frame.width * scale)), max(1, round(frame.height * scale)))
        scaled = frame if scale == 1.0 else frame.resize(size, Image.Resampling.LANCZOS)
        if alpha:
            data = _encoded(scaled, "PNG")
        else:
            for quality in qualities:
                data = _encoded(scaled, "JPEG", quality=quality)
                if len(data) <= max_bytes:
                    break
        if len(data) <= max_bytes:
            kind = ("image/png", "png") if alpha else ("image/jpeg", "jpg")
            return InputImage(data, *kind, scaled.width, scaled.height)
        if min(size) <= MIN_INPUT_SIDE:  # pragma: no cover - only for absurdly small limits
            raise ValueError("cannot fit the image into the upload limit")
        # Bytes grow about with the pixel count: aim just under the limit, in steps of 10-50 %.
        scale *= min(0.9, max(0.5, 0.95 * (max_bytes / len(data)) ** 0.5))
        qualities = (85,)


def as_png_mask(
    image: InputImage, *, size: tuple[int, int] | None = None, max_bytes: int = MAX_INPUT_IMAGE_BYTES
) -> InputImage:
    """An inpaint mask as LiblibAI wants it: a grayscale PNG, white where to repaint (liblib-api.md §5.4),
    at ``size`` (the size the source image is uploaded at) and within ``max_bytes``: a mask too detailed
    for that becomes pure black and white (1 bit per pixel, at most ~2 MB at 4096×4096).
    CPU-heavy: call it through ``ImageWorkers``."""
    with Image.open(io.BytesIO(image.data)) as img:
        mask = img.convert("L")
    return mask_png(mask, size=size, max_bytes=max_bytes)


def mask_png(mask: Image.Image, *, size: tuple[int, int] | None = None, max_bytes: int) -> InputImage:
    """A grayscale mask (mode "L") as ``as_png_mask`` uploads it: at ``size``, within ``max_bytes``."""
    if size is not None and mask.size != size:
        mask = mask.resize(size, Image.Resampling.BILINEAR)
    data = _encoded(mask, "PNG")
    if len(data) > max_bytes:
        data = _encoded(mask.convert("1", dither=Image.Dither.NONE), "PNG")
    return InputImage(data, "image/png", "png", mask.width, mask.height)


def fit_upload(img: Image.Image, *, max_bytes: int, lossless: bool = True) -> InputImage:
    """A picture the bot drew (an outpainting canvas, an enlarged source) as LiblibAI's upload takes it: PNG when
    ``lossless`` and it fits, else JPEG, downscaled until it fits ``max_bytes``. CPU-heavy: call it through
    ``ImageWorkers``."""
    return _fit_upload(img, max_bytes, lossless_first=lossless)


def image_size(data: bytes) -> tuple[int, int]:
    """The width and height in an image's header (nothing decoded); InvalidRequestError when it is no image."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise InvalidRequestError("image", N_("that file is not a readable image.")) from None
    return int(width), int(height)


def normalize_for_discord(data: bytes, stem: str, *, max_bytes: int) -> ImageFile:
    """Fit a result image into ``max_bytes``: PNG as is when small enough, else JPEG, then downscale.
    CPU-heavy: call it through ``ImageWorkers``."""
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
            frame.save(out, "JPEG", quality=quality)  # not optimize=True: it holds the GIL while it works
            if out.tell() <= max_bytes:
                return ImageFile(f"{stem}.jpg", out.getvalue(), frame.width, frame.height)
        scale *= 0.75
        if scale < 0.05:  # pragma: no cover - only for absurdly small limits
            raise ValueError("cannot fit the image into the upload limit")
