"""U1–U4: that very image, larger. The source is always the chosen result's pixels (the stored result, or the
image as posted on Discord once LiblibAI's URL has expired), never a new seed of the prompt; the target is twice
its size, capped by the limits of the family that draws it (``upscale_size``).

Which family draws it (``upscale_route``), by what the API allows (liblib-api.md §5):

* **an owner's ComfyUI upscale workflow** (``[models] upscale_workflow``), when one is set, for every mode: the
  image goes to its ``image_input`` (and 2× to its size inputs, if it has them);
* **custom checkpoints:** their own img2img (``/webui/img2img``) at 2× (``resizedWidth``/``resizedHeight`` up to
  2048) and a low denoising strength (``[actions] upscale_strength``), on the image's own seed;
* **Star-3 Alpha:** its img2img takes neither a size nor a strength and draws at its source's size, so the image
  is enlarged to 2× (up to 2048 a side, Lanczos, on the image workers) and Star-3 redraws it at that size;
* **every other mode** (Kontext, Seedream, libDream, IMG1, workflows), which cannot draw a given image larger:
  ``[models] upscale_reference_mode`` (Seedream 4.5 by default, up to 4096²) takes the image as its reference,
  with an instruction to keep every detail (``bot.generation.instructions``), at 2× within its size rules.

An upscaled result (``hires``) is not offered another Upscale.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.generation.comfy import SIZE_LIMITS as COMFY_SIDES
from bot.generation.comfy import comfy_mode
from bot.generation.families import SEEDREAM_MODELS, family_of
from bot.generation.sizes import SEEDREAM_40, SEEDREAM_45, PixelRules, scaled_size
from bot.liblib import endpoints as ep
from bot.liblib.endpoints import Family
from bot.models import GenerationRequest, Job, result_image
from bot.settings import ModelsSettings

FACTOR = 2.0
MIN_GAIN = 1.2  # an Upscale must add at least this share of pixels, else the image is already as large as it gets
_SIDE_2048 = PixelRules(area=0, side=(128, 2048), pixels=(1, 2048 * 2048))
STAR3_RULES = PixelRules(area=0, side=(512, 2048), pixels=(1, 2048 * 2048))  # Star-3 img2img follows its source
COMFY_RULES = PixelRules(area=0, side=COMFY_SIDES, pixels=(1, COMFY_SIDES[1] ** 2))


class Route(StrEnum):
    WORKFLOW = "workflow"  # the owner's ComfyUI upscale workflow
    IMG2IMG = "img2img"  # a custom checkpoint's img2img at 2x and a low strength
    ENLARGED = "enlarged"  # Star-3 img2img from the image enlarged to 2x
    REFERENCE = "reference"  # Seedream with the image as its reference and the keep-every-detail instruction


@dataclass(frozen=True, slots=True)
class UpscaleRoute:
    mode: str  # the request mode that draws it ("star3", a custom model's name, "seedream-4.5", "comfy:<name>")
    how: Route


def upscale_route(request: GenerationRequest, models: ModelsSettings) -> UpscaleRoute | None:
    """How a result of ``request`` is upscaled (see the module docstring), or None when it cannot be."""
    if request.hires:
        return None  # already upscaled
    if models.upscale_workflow:
        return UpscaleRoute(comfy_mode(models.upscale_workflow), Route.WORKFLOW)
    family = family_of(request.mode)
    if family is Family.STAR3:
        return UpscaleRoute("star3", Route.ENLARGED)
    if family is Family.CUSTOM and any(m.name == request.mode for m in models.custom):
        return UpscaleRoute(request.mode, Route.IMG2IMG)
    if models.upscale_reference_mode:
        return UpscaleRoute(models.upscale_reference_mode, Route.REFERENCE)
    return None


def _rules(route: UpscaleRoute) -> PixelRules:
    if route.how is Route.REFERENCE:
        return SEEDREAM_45 if SEEDREAM_MODELS.get(route.mode) == ep.SEEDREAM_45_MODEL else SEEDREAM_40
    return {Route.ENLARGED: STAR3_RULES, Route.IMG2IMG: _SIDE_2048, Route.WORKFLOW: COMFY_RULES}[route.how]


def upscale_size(route: UpscaleRoute, width: int, height: int) -> tuple[int, int] | None:
    """The size a ``width`` x ``height`` image is upscaled to through ``route``: 2x, capped by that family's limits
    (the ratio kept); None when that adds too little (the image is already about as large as the family draws)."""
    target = scaled_size(width, height, FACTOR, _rules(route))
    if target is None or target[0] * target[1] < MIN_GAIN * width * height:
        return None
    return target


def upscale_request(parent: Job, index: int, route: UpscaleRoute, *, strength: float) -> GenerationRequest:
    """The Upscale of ``parent``'s image ``index`` (no I/O): its source stands as the result URL, and its size is
    unknown, until ``bot.generation.result_edits.Upscaler`` has the image."""
    source = (result_image(parent, index).url,)
    if route.how in (Route.IMG2IMG, Route.ENLARGED):  # the same mode, the same options; one image from the source
        same = parent.request.with_(
            variation=None,
            count=1,
            hires=True,
            source_images=source,
            mask_image=None,
            control_type=None,
            control_image=None,
            aspect_ratio=None,
            width=None,
            height=None,
            routed_from=None,  # the parent's routing note is the parent's
            routed_language=None,
        )
        if route.how is Route.ENLARGED:
            return same.with_(strength=None, seed=None)
        return same.with_(strength=strength, seed=result_image(parent, index).seed)
    # Another mode: only the prompt carries over.
    return GenerationRequest(
        mode=route.mode,
        prompt=parent.request.prompt,
        count=1,
        hires=True,
        source_images=source,
        simulated=parent.request.simulated,
    )
