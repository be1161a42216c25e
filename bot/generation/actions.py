"""What the buttons under a result do, as pure functions of the original job (no Discord, no I/O).

Reroll: the same request with a new seed. Vary (Subtle) and Vary (Strong): image-to-image from one result image,
staying close to it or straying far (``bot.generation.variation`` says what each means per family).
Upscale: that very image, larger (``bot.generation.upscaling`` says how per mode). Zoom Out, Make Square and Pan:
the image on a larger canvas, the new area painted by the inpainting mode (``bot.generation.outpainting``).
libDream takes no image and IMG1 inpaint needs a mask, so those two offer no Vary.
"""

from __future__ import annotations

from enum import StrEnum

from bot.generation.comfy import workflow_name
from bot.generation.upscaling import upscale_route
from bot.generation.variation import Variation
from bot.media.outpaint import Outpaint
from bot.models import (
    GenerationRequest,
    Job,
    JobKind,
)
from bot.settings import ModelsSettings


class Action(StrEnum):
    REROLL = "reroll"
    VARY = "vary"  # Vary (Subtle); its id is the one Vary had before there were two
    VARY_STRONG = "varystrong"
    UPSCALE = "upscale"
    REMIX = "remix"  # opens a modal: edit the prompt, then reroll or vary
    RESTYLE = "restyle"  # opens the restyle modal on one image of the result
    DELETE = "delete"
    CANCEL = "cancel"
    # Zoom Out, Make Square, Pan (outpainting one image; their ids are the Outpaint values)
    ZOOM_OUT_2 = "zoom2"
    ZOOM_OUT_15 = "zoom15"
    MAKE_SQUARE = "square"
    PAN_LEFT = "panleft"
    PAN_RIGHT = "panright"
    PAN_UP = "panup"
    PAN_DOWN = "pandown"


# Actions that start a new (charged) job; the rest only act on messages or the running job.
NEW_JOB_ACTIONS = frozenset(
    {Action.REROLL, Action.VARY, Action.VARY_STRONG, Action.UPSCALE, Action.REMIX, Action.RESTYLE}
)
JOB_KIND = {
    Action.REROLL: JobKind.REROLL,
    Action.VARY: JobKind.VARY,
    Action.VARY_STRONG: JobKind.VARY,
    Action.UPSCALE: JobKind.UPSCALE,
}
VARIATIONS = {Action.VARY: Variation.SUBTLE, Action.VARY_STRONG: Variation.STRONG}

# -- Zoom Out, Make Square, Pan (issue 20 item 2) --
OUTPAINTS: dict[Action, Outpaint] = {Action(kind.value): kind for kind in Outpaint}
OUTPAINT_JOB_KIND = {
    Outpaint.ZOOM_OUT_2: JobKind.ZOOM_OUT,
    Outpaint.ZOOM_OUT_15: JobKind.ZOOM_OUT,
    Outpaint.SQUARE: JobKind.MAKE_SQUARE,
    Outpaint.PAN_LEFT: JobKind.PAN,
    Outpaint.PAN_RIGHT: JobKind.PAN,
    Outpaint.PAN_UP: JobKind.PAN,
    Outpaint.PAN_DOWN: JobKind.PAN,
}
NEW_JOB_ACTIONS = NEW_JOB_ACTIONS | frozenset(OUTPAINTS)
JOB_KIND.update({action: OUTPAINT_JOB_KIND[kind] for action, kind in OUTPAINTS.items()})


def may_act(action: Action, *, actor_id: int, owner_id: int, is_admin: bool, open_to_everyone: bool) -> bool:
    """The owner and admins always may; everyone else only for new-job actions when opened to everyone."""
    if actor_id == owner_id or is_admin:
        return True
    return open_to_everyone and action in NEW_JOB_ACTIONS


def supports_vary(request: GenerationRequest) -> bool:
    """Modes that take a source image: Star-3, Kontext and custom checkpoints (img2img), Seedream and IMG1
    (a reference image). Not libDream (the prompt only), nor IMG1 inpaint (it needs a mask); a ComfyUI
    workflow has no strength to vary at, so it offers no Vary either (Reroll and Restyle remain)."""
    return workflow_name(request.mode) is None and request.mode not in ("libdream", "img1-inpaint")


def supports_upscale(request: GenerationRequest, models: ModelsSettings) -> bool:
    """Whether a result of ``request`` can be upscaled with the owner's ``models`` settings (not an upscaled one;
    ``bot.generation.upscaling``)."""
    return upscale_route(request, models) is not None


def reroll_request(job: Job) -> GenerationRequest:
    """Same parameters, new seed (a random one: the original's fixed seed, if any, is dropped)."""
    return job.request.with_(seed=None)


def vary_request(job: Job, source_url: str, variation: Variation) -> GenerationRequest:
    """Image-to-image from ``source_url`` (one of the job's results) with the same prompt and count; how far it
    strays is the family's to say at submit (``variation``)."""
    return job.request.with_(
        source_images=(source_url,),
        variation=str(variation),
        strength=None,
        seed=None,
        hires=False,
        mask_image=None,
        control_type=None,
        control_image=None,
    )
