"""Turn what a member typed into a validated GenerationRequest, before any I/O.

Every refusal is an InvalidRequestError with a friendly message naming the option and the limit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from bot.errors import InvalidRequestError
from bot.generation.comfy import comfy_mode
from bot.generation.families import kontext_mode
from bot.generation.language import request_language
from bot.generation.prompt_text import clean_prompt
from bot.generation.upscaling import upscale_route
from bot.i18n import N_
from bot.liblib import endpoints as ep
from bot.liblib.endpoints import (
    KONTEXT_ASPECT_RATIOS,
    MAX_IMAGE_COUNT,
    PROMPT_MAX_CHARS,
    SEED_MAX,
    STAR3_CONTROL_TYPES,
)
from bot.models import GenerationRequest
from bot.settings import ComfyWorkflow, CustomModel, ModelsSettings

ASPECT_RATIOS = KONTEXT_ASPECT_RATIOS


@dataclass(frozen=True, slots=True)
class ModeInfo:
    name: str
    label: str
    supports_negative: bool
    supports_steps: bool
    supports_seed: bool
    supports_control: bool
    english_only: bool
    max_references: int  # input images in all
    supports_strength: bool = False  # img2img denoising strength (custom models)
    description: str = ""  # shown by /models and the mode autocomplete
    takes_image: bool = True  # a source image (image-to-image, restyle)
    needs_image: bool = False  # refused without one
    max_count: int = MAX_IMAGE_COUNT  # images per request
    workflow: bool = False  # an owner-registered ComfyUI workflow
    video: bool = False  # makes a video rather than pictures
    supports_aspect: bool = True
    supports_mask: bool = False  # inpainting with a mask over the source image
    needs_mask: bool = False  # an inpaint-only mode: a source image and a mask are required
    supports_enhance: bool = False  # LiblibAI may rewrite the prompt first (the "enhance" option)
    qualities: tuple[str, ...] = ()  # the "quality" option's values (Smart IMG1)
    max_total_images: int | None = None  # references and outputs together (Seedream: 15)
    seed_max: int = SEED_MAX
    supports_vary: bool = True
    supports_upscale: bool = True  # set by ``RequestBuilder.modes`` from the settings (bot.generation.upscaling)


def _newer_modes() -> list[ModeInfo]:
    """The built-in modes of LiblibAI's newer families (liblib-api.md §5.8); none is English-only."""
    refs = ep.SEEDREAM_MAX_REFERENCES
    seedream = [
        ModeInfo(
            name,
            label,
            False,
            False,
            False,
            False,
            False,
            refs[model],
            supports_enhance=True,
            max_count=ep.SEEDREAM_MAX_IMAGES,
            max_total_images=ep.SEEDREAM_MAX_IMAGES,
        )
        for name, label, model in (
            ("seedream", "Seedream 4.0", ep.SEEDREAM_40_MODEL),
            ("seedream-4.5", "Seedream 4.5", ep.SEEDREAM_45_MODEL),
        )
    ]
    libdream = ModeInfo(
        "libdream",
        "libDream",
        False,
        False,
        True,
        False,
        False,
        0,
        takes_image=False,
        supports_enhance=True,
        seed_max=ep.LIBDREAM_SEED_MAX,
        supports_vary=False,
    )
    img1 = ModeInfo(
        "img1",
        "Smart IMG1",
        False,
        False,
        False,
        False,
        False,
        ep.IMG1_MAX_REFERENCES,
        qualities=ep.IMG1_QUALITIES,
    )
    inpaint = replace(
        img1,
        name="img1-inpaint",
        label="Smart IMG1 inpaint",
        max_references=1 + ep.IMG1_MAX_REFERENCES,  # the image to repaint, then references
        needs_image=True,
        supports_mask=True,
        needs_mask=True,
        supports_vary=False,
    )
    return [*seedream, libdream, img1, inpaint]


def workflow_mode(w: ComfyWorkflow) -> ModeInfo:
    """What a ComfyUI workflow offers: the options its configured node inputs take, nothing more."""
    return ModeInfo(
        w.name,
        w.label or w.name,
        supports_negative=w.negative_prompt_input is not None,
        supports_steps=False,
        supports_seed=w.seed_input is not None,
        supports_control=False,
        english_only=w.english_only,
        max_references=1 if w.image_input is not None else 0,
        description=w.description,
        takes_image=w.image_input is not None,
        needs_image=w.image_input is not None and w.image_required,
        max_count=MAX_IMAGE_COUNT if w.count_input is not None else 1,
        workflow=True,
        video=w.video,
        supports_aspect=w.width_input is not None,
        supports_vary=False,  # no strength to vary at
    )


class RequestBuilder:
    def __init__(self, models: ModelsSettings, *, simulated: bool | Callable[[], bool] = False) -> None:
        """``simulated``: whether requests go to a simulator, or a callable asked at each build (the client
        learns it from the simulator's answers)."""
        self._models = models
        self._custom = {m.name: m for m in models.custom}
        self._workflows = {w.name: w for w in models.comfyui}
        self._simulated = simulated

    @property
    def simulated(self) -> bool:
        return self._simulated() if callable(self._simulated) else self._simulated

    # -- modes -------------------------------------------------------------------------------------

    def modes(self) -> list[ModeInfo]:
        out = [
            ModeInfo("star3", "Star-3 Alpha", False, True, False, True, True, 1),
            ModeInfo("kontext-pro", "F.1 Kontext pro", False, False, False, False, False, 1),
            ModeInfo("kontext-max", "F.1 Kontext max", False, False, False, False, False, 4),
            *_newer_modes(),
        ]
        for m in self._models.custom:
            out.append(
                ModeInfo(
                    m.name,
                    m.label or m.name,
                    True,
                    True,
                    True,
                    bool(m.controlnets),
                    m.english_only,
                    1,
                    supports_strength=True,
                    supports_mask=True,
                )
            )
        out.extend(workflow_mode(w) for w in self._models.comfyui)
        return [replace(m, supports_upscale=self._upscalable(m)) for m in out]

    def _upscalable(self, mode: ModeInfo) -> bool:
        """Whether U1–U4 are offered on this mode's results (a video workflow's have no image)."""
        name = comfy_mode(mode.name) if mode.workflow else mode.name
        return not mode.video and upscale_route(GenerationRequest(mode=name, prompt=""), self._models) is not None

    def imagine_modes(self) -> list[ModeInfo]:
        """The modes /imagine offers: all but the inpaint-only ones (they need a mask; /restyle takes one)."""
        return [m for m in self.modes() if not m.needs_mask]

    def restyle_modes(self, *, with_mask: bool = True) -> list[ModeInfo]:
        """The modes that start from an image (and, without ``with_mask``, need no mask)."""
        return [m for m in self.modes() if m.takes_image and (with_mask or not m.needs_mask)]

    def mode_info(self, name: str) -> ModeInfo:
        for info in self.modes():
            if info.name == name:
                return info
        known = ", ".join(m.name for m in self.modes())
        raise InvalidRequestError("mode", N_("unknown mode `{name}`. Available: {known}."), name=name, known=known)

    def resolve_mode(self, mode: str | None) -> str:
        """The mode name a member's choice stands for (the default, and plain "kontext", resolved)."""
        name = (mode or self._models.default_mode).strip().lower()
        return kontext_mode(self._models.kontext_default_model) if name == "kontext" else name

    def custom_model(self, name: str) -> CustomModel | None:
        return self._custom.get(name)

    def control_types(self, mode: str) -> list[str]:
        if mode == "star3":
            return list(STAR3_CONTROL_TYPES)
        model = self._custom.get(mode)
        return [c.name for c in model.controlnets] if model else []

    # -- building ----------------------------------------------------------------------------------

    def build(
        self,
        prompt: str | None,
        *,
        mode: str | None = None,
        negative_prompt: str | None = None,
        aspect_ratio: str | None = None,
        count: int | None = None,
        seed: int | None = None,
        steps: int | None = None,
        has_image: bool = False,
        reference_count: int = 0,
        control_type: str | None = None,
        has_control_image: bool = False,
        strength: float | None = None,
        has_mask: bool = False,
        enhance: bool = False,
        quality: str | None = None,
        max_count: int = ep.MAX_IMAGES_ANY_FAMILY,
        max_steps: int | None = None,
    ) -> GenerationRequest:
        """Validate and normalise; image URLs are filled in later (after the defer)."""
        text = clean_prompt(prompt)
        if not text:
            raise InvalidRequestError("prompt", N_("the prompt is empty. Describe what you want to see."))
        if len(text) > PROMPT_MAX_CHARS:
            raise InvalidRequestError(
                "prompt",
                N_("the prompt is {length} characters; the limit is {limit}."),
                length=len(text),
                limit=PROMPT_MAX_CHARS,
            )
        mode_name = self.resolve_mode(mode)
        info = self.mode_info(mode_name)
        negative = clean_prompt(negative_prompt) or None
        if negative and len(negative) > PROMPT_MAX_CHARS:
            raise InvalidRequestError(
                "negative", N_("the negative prompt is limited to {limit} characters."), limit=PROMPT_MAX_CHARS
            )
        if negative and not info.supports_negative:
            raise InvalidRequestError(
                "negative", N_("{label} does not take a negative prompt; try a custom model."), label=info.label
            )
        if info.english_only and not request_language(text, negative).is_english:
            raise InvalidRequestError(
                "prompt",
                N_("{label} understands English prompts only. Use `kontext-pro` for Chinese prompts."),
                label=info.label,
            )
        if aspect_ratio is not None and aspect_ratio not in ASPECT_RATIOS:
            raise InvalidRequestError("aspect", N_("choose one of {choices}."), choices=", ".join(ASPECT_RATIOS))
        if aspect_ratio is not None and not info.supports_aspect:
            raise InvalidRequestError("aspect", N_("{label} makes pictures of one size only."), label=info.label)
        images = reference_count + (1 if has_image else 0)
        self._check_images(info, images, has_image=has_image, has_mask=has_mask)
        n = 1 if count is None else count
        if n > 1 and info.max_count == 1:
            raise InvalidRequestError("count", N_("{label} makes one image per request."), label=info.label)
        self._check_count(info, n, images, max_count)
        if seed is not None and not 0 <= seed <= info.seed_max:
            raise InvalidRequestError("seed", N_("the seed must be between 0 and {limit}."), limit=info.seed_max)
        if seed is not None and not info.supports_seed:
            raise InvalidRequestError(
                "seed",
                N_("{label} does not accept a seed."),
                label=info.label,
            )
        step_cap = min(max_steps or self._models.max_steps, 60)
        if steps is not None:
            if not info.supports_steps:
                raise InvalidRequestError("steps", N_("{label} does not take a step count."), label=info.label)
            if not 1 <= steps <= step_cap:
                raise InvalidRequestError("steps", N_("steps must be between 1 and {step_cap}."), step_cap=step_cap)
        if control_type is not None or has_control_image:
            if not info.supports_control:
                raise InvalidRequestError(
                    "control", N_("{label} does not support structure control."), label=info.label
                )
            if control_type is None or not has_control_image:
                raise InvalidRequestError("control", N_("give both a control image and a control type."))
            if control_type not in self.control_types(mode_name):
                raise InvalidRequestError(
                    "control_type", N_("choose one of {choices}."), choices=", ".join(self.control_types(mode_name))
                )
        if strength is not None and not 0.0 <= strength <= 1.0:
            raise InvalidRequestError("strength", N_("strength must be between 0 and 1."))
        self._check_extras(info, enhance=enhance, quality=quality)
        base, _, variant = mode_name.partition("-")
        is_kontext = base == "kontext"
        return GenerationRequest(
            mode=comfy_mode(mode_name) if info.workflow else "kontext" if is_kontext else mode_name,
            prompt=text,
            negative_prompt=negative,
            aspect_ratio=aspect_ratio,
            count=n,
            seed=seed,
            steps=steps,
            kontext_model=variant if is_kontext else None,
            control_type=control_type,
            strength=strength,
            simulated=self.simulated,
            enhance=enhance,
            quality=quality,
        )

    def in_mode(self, request: GenerationRequest, mode: str) -> GenerationRequest:
        """``request`` (a stored job's, or one derived from it) in another mode, checked as a member's own would
        be: InvalidRequestError when that mode cannot take it (its images, options or language)."""
        images = len(request.source_images)
        rebuilt = self.build(
            request.prompt,
            mode=mode,
            negative_prompt=request.negative_prompt,
            aspect_ratio=request.aspect_ratio,
            count=request.count,
            seed=request.seed,
            steps=request.steps,
            has_image=images > 0,
            reference_count=max(images - 1, 0),
            control_type=request.control_type,
            has_control_image=request.control_image is not None,
            strength=request.strength,
            has_mask=request.mask_image is not None,
            enhance=request.enhance,
            quality=request.quality,
        )
        return rebuilt.with_(
            source_images=request.source_images,
            mask_image=request.mask_image,
            control_image=request.control_image,
            variation=request.variation,  # a Vary stays as strong in the other mode's own terms
        )

    def _check_count(self, info: ModeInfo, count: int, images: int, max_count: int) -> None:
        limit = min(max_count, info.max_count)
        if not 1 <= count <= limit:
            raise InvalidRequestError("count", N_("the image count must be between 1 and {limit}."), limit=limit)
        total = info.max_total_images
        if total is not None and images + count > total:
            raise InvalidRequestError(
                "count",
                N_(
                    "{label} takes at most {total} images in all, references and results together: "
                    "with {references} reference image(s), ask for at most {limit}."
                ),
                label=info.label,
                total=total,
                references=images,
                limit=max(0, total - images),
            )

    @staticmethod
    def _check_images(info: ModeInfo, images: int, *, has_image: bool, has_mask: bool) -> None:
        if has_image and not info.takes_image:
            raise InvalidRequestError("image", N_("{label} does not take an input image."), label=info.label)
        if info.needs_image and not has_image and not info.needs_mask:
            raise InvalidRequestError(
                "image", N_("{label} needs an input image: attach one with `image:` or use /restyle."), label=info.label
            )
        if images > max(1, info.max_references):
            raise InvalidRequestError(
                "image",
                N_("{label} takes at most {max_references} reference image(s)."),
                label=info.label,
                max_references=info.max_references,
            )
        if has_mask and not (info.supports_mask and has_image):
            raise InvalidRequestError(
                "mask",
                N_("masks (inpainting) work with a source image in custom models and `img1-inpaint` only."),
            )
        if info.needs_mask and not (has_mask and has_image):
            raise InvalidRequestError(
                "mask",
                N_(
                    "{label} repaints part of an image: use `/restyle` with the image and a mask "
                    "(white where to paint)."
                ),
                label=info.label,
            )

    def _check_extras(self, info: ModeInfo, *, enhance: bool, quality: str | None) -> None:
        if enhance and not info.supports_enhance:
            able = ", ".join(m.name for m in self.modes() if m.supports_enhance)
            raise InvalidRequestError(
                "enhance", N_("{label} cannot enhance prompts. Modes that can: {modes}."), label=info.label, modes=able
            )
        if quality is not None and not info.qualities:
            able = ", ".join(m.name for m in self.modes() if m.qualities)
            raise InvalidRequestError(
                "quality", N_("{label} has no quality setting. Modes that have: {modes}."), label=info.label, modes=able
            )
        if quality is not None and quality not in info.qualities:
            raise InvalidRequestError("quality", N_("choose one of {choices}."), choices=", ".join(info.qualities))
