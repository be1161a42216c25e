"""What the buttons under a result do, as pure functions of the original job (no Discord, no I/O).

Reroll: the same request with a new seed. Vary (Subtle) and Vary (Strong): image-to-image from one result image,
staying close to it or straying far (``bot.generation.variation`` says what each means per family).
Upscale: a larger render of one image through the mode's high-resolution option, up to the API's size
limit (Star-3: ``imageSize`` up to 2048; custom checkpoints: hires fix at 2x, up to 2048, on the image's
own seed so the picture stays the same; image-to-image results: an img2img pass at 2x and a low strength).
F.1 Kontext and the newer families (Seedream, libDream, IMG1) have no such option, so they offer no Upscale;
libDream takes no image and IMG1 inpaint needs a mask, so those two offer no Vary.
"""

from __future__ import annotations

from enum import StrEnum

from bot.generation.comfy import workflow_name
from bot.generation.families import family_of
from bot.generation.variation import Variation
from bot.liblib.endpoints import Family
from bot.models import (
    GenerationRequest,
    Job,
    JobKind,
    result_image,
)


class Action(StrEnum):
    REROLL = "reroll"
    VARY = "vary"  # Vary (Subtle); its id is the one Vary had before there were two
    VARY_STRONG = "varystrong"
    UPSCALE = "upscale"
    REMIX = "remix"  # opens a modal: edit the prompt, then reroll or vary
    RESTYLE = "restyle"  # opens the restyle modal on one image of the result
    DELETE = "delete"
    CANCEL = "cancel"


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


def supports_upscale(request: GenerationRequest) -> bool:
    """Star-3 and custom checkpoints: Kontext, the newer families and workflows have no high-resolution option."""
    if request.hires:
        return False  # already rendered at the high-resolution size
    family = family_of(request.mode)
    if family is Family.STAR3:
        return not request.is_img2img  # Star-3 img2img has no size option: it follows the source
    return family is Family.CUSTOM


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


def upscale_request(job: Job, index: int, source_url: str, *, strength: float) -> GenerationRequest:
    """One image, larger: see the module docstring for what each mode does."""
    request = job.request.with_(variation=None)  # an Upscale keeps the picture: no variation of it
    image = result_image(job, index)
    seed = image.seed if request.mode not in ("star3", "kontext") else None
    if request.is_img2img:
        return request.with_(
            source_images=(source_url,), strength=strength, count=1, hires=True, seed=seed, mask_image=None
        )
    return request.with_(count=1, hires=True, seed=seed)
