"""Pictures the bot draws from a result before handing it back to LiblibAI: the outpainting canvas and its mask
(Zoom Out, Make Square, Pan; geometry in ``bot.media.outpaint``), and a result enlarged for an Upscale whose
family draws at its source's size (Star-3 image-to-image).

Everything here decodes, resamples and encodes pixels: the async code runs it through
``bot.media.workers.ImageWorkers``, never on the event loop.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from bot.errors import InvalidRequestError
from bot.i18n import N_
from bot.media.codec import InputImage, fit_upload, mask_png
from bot.media.outpaint import CanvasLimits, Outpaint, Placement, place

NEW = 255  # mask value of the area to paint (white)
KEPT = 0  # mask value of the image (black)


@dataclass(frozen=True, slots=True)
class Outpainted:
    """The canvas with the result on it and the mask of its new area, both ready to upload (same size)."""

    canvas: InputImage
    mask: InputImage
    placement: Placement  # before any downscaling to fit the upload limit


def _decoded(data: bytes) -> Image.Image:
    """A result image, fully decoded as RGB (a decompression bomb or a broken file is refused)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                return img.convert("RGB")
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        raise InvalidRequestError("image", N_("that file is not a readable image.")) from None


def draw_outpaint(picture: Image.Image, placement: Placement) -> tuple[Image.Image, Image.Image]:
    """The canvas (new area in the picture's average colour) and the mask (white on the new area only)."""
    size = (placement.image_width, placement.image_height)
    if picture.size != size:
        picture = picture.resize(size, Image.Resampling.LANCZOS)
    average = picture.resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    canvas = Image.new("RGB", (placement.width, placement.height), average)
    canvas.paste(picture, (placement.x, placement.y))
    mask = Image.new("L", canvas.size, NEW)
    mask.paste(KEPT, placement.box)
    return canvas, mask


def render_outpaint(data: bytes, kind: Outpaint, limits: CanvasLimits, *, max_bytes: int) -> Outpainted:
    """Result image ``data`` on the canvas of ``kind`` within ``limits``, and its mask; each within ``max_bytes``
    (Smart IMG1 inpaint takes 4 MB each). A canvas too large for that is sent as a JPEG, downscaled if need be,
    and the mask follows it to the same size."""
    picture = _decoded(data)
    placement = place(kind, picture.width, picture.height, limits)
    canvas, mask = draw_outpaint(picture, placement)
    upload = fit_upload(canvas, max_bytes=max_bytes)
    return Outpainted(upload, mask_png(mask, size=(upload.width, upload.height), max_bytes=max_bytes), placement)


def enlarge(data: bytes, size: tuple[int, int], *, max_bytes: int) -> InputImage:
    """Result image ``data`` resampled to ``size`` (Lanczos), ready to upload within ``max_bytes``."""
    picture = _decoded(data)
    if picture.size != size:
        picture = picture.resize(size, Image.Resampling.LANCZOS)
    return fit_upload(picture, max_bytes=max_bytes)
