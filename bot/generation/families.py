"""Map a GenerationRequest onto a LiblibAI SubmitRequest (route, template, generateParams).

Mode defaults (sampler, CFG, LoRA, hires fix, ControlNet presets) come from the settings; the member's
options override them within the caps the request builder already enforced. The built-in modes and the
family each belongs to are listed here (``BUILTIN_MODES``); any other mode name is a custom checkpoint. A Vary's
strength becomes each family's own lever here (``bot.generation.variation``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from pydantic import ValidationError

from bot.errors import InvalidRequestError
from bot.generation.comfy import comfy_submit, workflow_name
from bot.generation.instructions import upscale_prompt
from bot.generation.sizes import IMG1_SIZES, img1_aspect, libdream_size, seedream_size, size_for_ratio
from bot.generation.variation import Variation, instructed_prompt, variation_of
from bot.i18n import N_
from bot.liblib import endpoints as ep
from bot.liblib import models as lm
from bot.liblib.endpoints import Family
from bot.models import GenerationRequest
from bot.settings import ActionsSettings, CustomModel, Settings

SubmitBuilder = Callable[[GenerationRequest], lm.SubmitRequest]

_STAR3_NAMED = {"1:1": "square", "3:4": "portrait", "16:9": "landscape"}
STAR3_MAX_SIDE = 2048

# Every built-in mode name (as members type it and admins allow it) and its family. "kontext" alone stands
# for the configured default Kontext model.
BUILTIN_MODES: dict[str, Family] = {
    "star3": Family.STAR3,
    "kontext": Family.KONTEXT,
    "kontext-pro": Family.KONTEXT,
    "kontext-max": Family.KONTEXT,
    "seedream": Family.SEEDREAM,
    "seedream-4.5": Family.SEEDREAM,
    "libdream": Family.LIBDREAM,
    "img1": Family.IMG1,
    "img1-inpaint": Family.IMG1,
}
SEEDREAM_MODELS = {"seedream": ep.SEEDREAM_40_MODEL, "seedream-4.5": ep.SEEDREAM_45_MODEL}


def kontext_mode(model: str) -> str:
    """The mode name of a Kontext model ("pro" -> "kontext-pro"), as members type it and admins list it."""
    return f"kontext-{model}"


def mode_name(request: GenerationRequest, kontext_default: str | None = None) -> str:
    """The name members and admins use for the request's model: "star3", "kontext-pro", a custom model's name.

    The builder always names the Kontext model; a request without one (hand-made, or stored long ago) takes
    ``kontext_default`` (the configured default, as its submit does) or, without it, reads "kontext", the
    name members type for that default."""
    workflow = workflow_name(request.mode)
    if workflow is not None:
        return workflow
    if request.mode != "kontext":
        return request.mode
    model = request.kontext_model or kontext_default
    return kontext_mode(model) if model else request.mode


def family_of(mode: str) -> Family:
    if workflow_name(mode) is not None:
        return Family.COMFY
    family = BUILTIN_MODES.get(mode)
    if family is not None:
        return family
    return Family.KONTEXT if mode.startswith("kontext") else Family.CUSTOM


def price_name(request: GenerationRequest, kontext_default: str | None = None) -> str:
    """The [liblib.prices] entry a request is charged at: its mode's name, except Smart IMG1, priced by quality
    ("img1-turbo", "img1-normal", "img1-masterpiece") for generate and inpaint alike."""
    if family_of(request.mode) is Family.IMG1:
        return f"img1-{request.quality or 'normal'}"
    return mode_name(request, kontext_default)


def keeps_source_shape(mode: str) -> bool:
    """Whether a restyle in ``mode`` should take the source image's aspect ratio when the member names none:
    Star-3 img2img follows the source by itself, and IMG1's "auto" follows its images."""
    return family_of(mode) not in (Family.STAR3, Family.IMG1)


def planned_long_side(request: GenerationRequest) -> int | None:
    """The longest side of the output of a newer family, as its submit will ask for it (None: not known here)."""
    family = family_of(request.mode)
    if family is Family.SEEDREAM:
        return max(seedream_size(SEEDREAM_MODELS.get(request.mode, ep.SEEDREAM_40_MODEL), request.aspect_ratio))
    if family is Family.LIBDREAM:
        return max(libdream_size(request.aspect_ratio))
    if family is Family.IMG1:
        return max(IMG1_SIZES.get(img1_aspect(request.aspect_ratio), IMG1_SIZES["portrait"]))
    return None


def make_submit_builder(settings: Settings) -> SubmitBuilder:
    custom = {m.name: m for m in settings.models.custom}
    workflows = {w.name: w for w in settings.models.comfyui}
    ultra = settings.liblib.star3_use_ultra_routes

    def build(request: GenerationRequest) -> lm.SubmitRequest:
        try:
            workflow = workflow_name(request.mode)
            if workflow is not None:
                if workflow not in workflows:
                    raise InvalidRequestError("mode", N_("the model `{mode}` is no longer configured."), mode=workflow)
                return comfy_submit(request, workflows[workflow])
            if request.mode == "star3":
                return _star3(request, ultra=ultra)
            if request.mode == "kontext":
                return _kontext(request, default_model=settings.models.kontext_default_model)
            family = BUILTIN_MODES.get(request.mode)
            if family is Family.SEEDREAM:
                return _seedream(request)
            if family is Family.LIBDREAM:
                return _libdream(request)
            if family is Family.IMG1:
                return _img1(request)
            model = custom.get(request.mode)
            if model is None:
                raise InvalidRequestError("mode", N_("the model `{mode}` is no longer configured."), mode=request.mode)
            return _custom(request, model, settings.actions)
        except ValidationError as exc:
            raise InvalidRequestError("options", lm.explain(exc)) from exc

    return build


def _star3(r: GenerationRequest, *, ultra: bool) -> lm.SubmitRequest:
    if r.is_img2img and variation_of(r.variation) is Variation.STRONG:
        # Star-3's img2img takes no strength: a strong variation draws anew, the image as an IPAdapter reference.
        r = r.with_(source_images=(), control_type="IPAdapter", control_image=r.source_images[0])
    control: dict[str, Any] = {}
    if r.control_type and r.control_image:
        control = {"control_type": r.control_type, "control_image": r.control_image}
    if r.is_img2img:
        return lm.star3_img2img(r.prompt, r.source_images[0], img_count=r.count, steps=r.steps, ultra=ultra, **control)
    if r.hires or (r.aspect_ratio and r.aspect_ratio not in _STAR3_NAMED):
        area = STAR3_MAX_SIDE * STAR3_MAX_SIDE if r.hires else 1024 * 1024
        width, height = size_for_ratio(r.aspect_ratio, area, lo=512, hi=STAR3_MAX_SIDE)
        return lm.star3_text2img(
            r.prompt, width=width, height=height, img_count=r.count, steps=r.steps, ultra=ultra, **control
        )
    named = cast(lm.Star3AspectRatio, _STAR3_NAMED.get(r.aspect_ratio or "1:1", "square"))
    return lm.star3_text2img(
        r.prompt,
        aspect_ratio=named,
        img_count=r.count,
        steps=r.steps,
        ultra=ultra,
        **control,
    )


def _instructed(r: GenerationRequest) -> str:
    """The prompt of a family that follows instructions and takes no strength (Kontext, Seedream, IMG1); a Vary's
    comes after the instruction that says how far to stray from the image, an Upscale's after the one that says to
    keep every detail (``bot.generation.instructions``)."""
    variation = variation_of(r.variation)
    if variation and r.is_img2img:
        return instructed_prompt(r.prompt, variation)
    return upscale_prompt(r.prompt) if r.hires and r.is_img2img else r.prompt


def _kontext(r: GenerationRequest, *, default_model: str) -> lm.SubmitRequest:
    model = cast(lm.KontextModel, r.kontext_model or default_model)
    ratio = cast(lm.KontextAspectRatio, r.aspect_ratio or "1:1")
    if r.is_img2img:
        return lm.kontext_img2img(
            _instructed(r),
            list(r.source_images),
            model=model,
            aspect_ratio=ratio,
            img_count=r.count,
            guidance_scale=r.guidance_scale,
        )
    return lm.kontext_text2img(
        r.prompt,
        model=model,
        aspect_ratio=ratio,
        img_count=r.count,
        guidance_scale=r.guidance_scale,
    )


def _seedream(r: GenerationRequest) -> lm.SubmitRequest:
    model = cast(lm.SeedreamModel, SEEDREAM_MODELS[r.mode])
    # An explicit size (an Upscale's, bot.generation.upscaling) wins over the aspect ratio's.
    width, height = (r.width, r.height) if r.width and r.height else seedream_size(model, r.aspect_ratio)
    return lm.seedream(
        _instructed(r),
        model=model,
        width=width,
        height=height,
        img_count=r.count,
        prompt_magic=r.enhance,
        reference_images=list(r.source_images),
    )


def _libdream(r: GenerationRequest) -> lm.SubmitRequest:
    width, height = libdream_size(r.aspect_ratio)
    return lm.libdream(
        r.prompt,
        width=width,
        height=height,
        img_count=r.count,
        use_pre_llm=r.enhance,
        scale=r.guidance_scale,
        seed=r.seed,
    )


def _img1(r: GenerationRequest) -> lm.SubmitRequest:
    quality = cast(lm.Img1Quality, r.quality or "normal")
    ratio = cast(lm.Img1AspectRatio, img1_aspect(r.aspect_ratio))
    if r.mode != "img1-inpaint":
        return lm.img1_generate(
            _instructed(r), aspect_ratio=ratio, img_count=r.count, quality=quality, image_list=list(r.source_images)
        )
    if not r.source_images or not r.mask_image:
        raise InvalidRequestError("mask", N_("img1-inpaint repaints part of an image: give an image and a mask."))
    return lm.img1_inpaint(
        r.prompt,
        r.source_images[0],
        r.mask_image,
        aspect_ratio=ratio,
        img_count=r.count,
        quality=quality,
        image_list=list(r.source_images[1:]),
    )


def _denoising(r: GenerationRequest, actions: ActionsSettings) -> float:
    """A custom model's img2img strength: the member's (a restyle), else the Vary's configured one, else 0.75."""
    if r.strength is not None:
        return r.strength
    variation = variation_of(r.variation)
    if variation is Variation.SUBTLE:
        return actions.vary_strength
    if variation is Variation.STRONG:
        return actions.vary_strong_strength
    return 0.75


def _loras(r: GenerationRequest, m: CustomModel) -> list[dict[str, Any]] | None:
    """The request's LoRAs (a style's preset) when it names them, else the model's configured ones."""
    pairs = r.loras if r.loras is not None else tuple((lo.model_id, lo.weight) for lo in m.loras)
    return [{"model_id": model_id, "weight": weight} for model_id, weight in pairs] or None


def _custom(r: GenerationRequest, m: CustomModel, actions: ActionsSettings) -> lm.SubmitRequest:
    width, height = (m.width, m.height)
    if r.aspect_ratio:
        width, height = size_for_ratio(r.aspect_ratio, m.width * m.height, lo=128, hi=1536)
    common: dict[str, Any] = {
        "check_point_id": m.checkpoint_id,
        "vae_id": m.vae_id,
        "prompt": r.prompt,
        "negative_prompt": r.negative_prompt,
        "clip_skip": m.clip_skip,
        "sampler": r.sampler if r.sampler is not None else m.sampler,
        "steps": r.steps or m.steps,
        "cfg_scale": r.cfg_scale or m.cfg_scale,
        "img_count": r.count,
        "seed": r.seed if r.seed is not None else -1,
        "additional_network": _loras(r, m),
    }
    if r.control_type and r.control_image:
        preset = next((c for c in m.controlnets if c.name == r.control_type), None)
        if preset is None:
            raise InvalidRequestError(
                "control_type",
                N_("`{control_type}` is not configured for {name}."),
                control_type=r.control_type,
                name=m.name,
            )
        common["control_net"] = [
            {
                "unit_order": 1,
                "source_image": r.control_image,
                "width": width,
                "height": height,
                "preprocessor": preset.preprocessor,
                "model": preset.model,
                "control_weight": preset.control_weight,
            }
        ]
    if r.is_img2img:
        if r.width and r.height:  # an explicit size: an Upscale's or an outpainting canvas's
            width, height = r.width, r.height
        elif r.hires:  # (an Upscale stored before it had a size) img2img has no hires fix, so render at 2x
            width, height = min(2048, width * 2 // 8 * 8), min(2048, height * 2 // 8 * 8)
        params = lm.CustomImg2ImgParams.model_validate(
            {
                **common,
                "source_image": r.source_images[0],
                "resized_width": width,
                "resized_height": height,
                "denoising_strength": _denoising(r, actions),
                "mode": 4 if r.mask_image else 0,
                "inpaint_param": {"mask_image": r.mask_image} if r.mask_image else None,
            }
        )
        return lm.custom_img2img(params, template_uuid=m.img2img_template_uuid)
    hires = None
    if m.hires_fix or r.hires:
        scale = 2.0 if r.hires else 1.5
        hires = {
            "hires_steps": m.hires_steps,
            "hires_denoising_strength": m.hires_denoising,
            "upscaler": m.hires_upscaler,
            "resized_width": min(2048, int(width * scale) // 8 * 8),
            "resized_height": min(2048, int(height * scale) // 8 * 8),
        }
    text_params = lm.CustomText2ImgParams.model_validate(
        {**common, "width": width, "height": height, "hi_res_fix_info": hires}
    )
    return lm.custom_text2img(text_params, template_uuid=m.template_uuid)
