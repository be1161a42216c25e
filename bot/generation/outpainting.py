"""Zoom Out 2× / 1.5×, Make Square and Pan ⬅️ ➡️ ⬆️ ⬇️ (Midjourney's set): outpainting a result through the
configured inpainting mode (``[models] outpaint_mode``), pure rules (no I/O).

The result is placed on a larger canvas with a mask over the new area (``bot.media.outpaint``), both uploaded, and
the inpainting mode paints the new area from the original prompt (editable through Remix):

* **Smart IMG1 inpaint** (``img1-inpaint``, the default): ``image`` and ``mask`` at most 4 MB each (the canvas is
  encoded, and downscaled if need be, to fit), the canvas up to 2048 a side; its "auto" size follows the canvas;
* **a custom checkpoint** (its name): img2img inpaint (``mode`` 4) with the mask, ``resizedWidth``/``Height`` the
  canvas (up to 2048 a side), denoising 1 (the new area is drawn anew; the mask keeps the rest).

They are offered on a result of one image (Discord's five rows of buttons are full on a larger one), as Midjourney
offers them after U1–U4; Make Square not on a result known to be square.
"""

from __future__ import annotations

from bot.generation.families import family_of
from bot.generation.sizes import parse_ratio
from bot.liblib.endpoints import IMG1_INPAINT_MAX_BYTES, MAX_INPUT_IMAGE_BYTES, Family
from bot.media.outpaint import CanvasLimits, Outpaint
from bot.models import GenerationRequest, Job, result_image_count

IMG1_INPAINT = "img1-inpaint"
OUTPAINT_STRENGTH = 1.0  # a custom model's denoising: the masked (new) area is drawn from scratch
CANVAS_LIMITS = CanvasLimits(max_side=2048, max_pixels=2048 * 2048)  # IMG1's "auto" and webui's resized sides
# Families whose text-to-image output is square when no aspect ratio was asked for.
_SQUARE_BY_DEFAULT = frozenset({Family.STAR3, Family.KONTEXT, Family.SEEDREAM, Family.LIBDREAM})


def upload_limit(mode: str) -> int:
    """The largest canvas (and mask) upload ``mode`` takes, in bytes."""
    return IMG1_INPAINT_MAX_BYTES if mode == IMG1_INPAINT else MAX_INPUT_IMAGE_BYTES


def known_square(request: GenerationRequest) -> bool:
    """Whether a result of ``request`` is square, as far as the request tells (no I/O): its size or aspect ratio,
    or a family that draws squares by default. Unknown (image-to-image, IMG1's "auto", custom sizes) is False."""
    if request.width and request.height:
        return request.width == request.height
    if request.aspect_ratio is not None:
        width, height = parse_ratio(request.aspect_ratio)
        return width == height
    return not request.is_img2img and family_of(request.mode) in _SQUARE_BY_DEFAULT


def outpaint_kinds(job: Job, mode: str) -> list[Outpaint]:
    """The outpaintings offered under ``job``'s result with ``mode`` configured (``""``: none)."""
    if not mode or result_image_count(job) != 1:
        return []
    return [kind for kind in Outpaint if not (kind is Outpaint.SQUARE and known_square(job.request))]
