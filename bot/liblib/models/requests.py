"""Request wire models for the LiblibAI open API (liblib-api.md §5): ``generateParams`` per family, the
``SubmitRequest`` that carries them, and builders.

They set ``extra="forbid"`` and validate every documented range client-side, so a bad value is refused with a
human message before any request is made. Python fields are snake_case; on the wire they are camelCase
(``alias_generator=to_camel``), except Kontext's ``guidance_scale`` and ``image_list`` which the API spells in
snake_case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from bot.liblib import endpoints
from bot.liblib.endpoints import Family
from bot.liblib.models._checks import (
    MAX_CONTROLNET_UNITS,
    MAX_LORAS,
    VALID_PREPROCESSORS,
    VALID_UPSCALERS,
    Flag,
    ImageUrl,
    ImgCount,
    NegativePrompt,
    Prompt,
    at_most,
    between,
    check_choice,
    check_nonempty,
    check_sampler,
    check_url,
)
from bot.liblib.models.comfy import ComfyParams

Star3AspectRatio = Literal["square", "portrait", "landscape"]
Star3ControlType = Literal["line", "depth", "pose", "IPAdapter"]
KontextAspectRatio = Literal["1:1", "2:3", "3:2", "3:4", "4:3", "9:16", "16:9", "9:21", "21:9"]
KontextModel = Literal["pro", "max"]


def explain(exc: ValidationError) -> str:
    """One human sentence per problem in a request-model ``ValidationError``, joined with ``"; "``."""
    parts: list[str] = []
    for err in exc.errors(include_url=False):
        msg = str(err.get("msg", "invalid value"))
        loc = ".".join(str(p) for p in err.get("loc", ()))
        if err.get("type") == "value_error":  # our own validators already name the field
            parts.append(msg.removeprefix("Value error, "))
        else:
            parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


class _Request(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class WireParams(_Request):
    """A family's whole ``generateParams``: every family has an image count (each narrows its range)."""

    img_count: int = 1


# --------------------------------------------------------------------------------------------------
# Star-3 Alpha (§5.1, §5.2)
# --------------------------------------------------------------------------------------------------


def _require_pair(first: str, second: str, message: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if isinstance(value, dict):
            names = {first: (first, to_camel(first)), second: (second, to_camel(second))}
            missing = [n for n, keys in names.items() if all(value.get(k) is None for k in keys)]
            if missing:
                raise ValueError(message)
        return value

    return check


class Star3ImageSize(_Request):
    width: Annotated[int, between("width", 512, 2048)]
    height: Annotated[int, between("height", 512, 2048)]

    _both = model_validator(mode="before")(_require_pair("width", "height", "give both a width and a height"))


class Star3ControlNet(_Request):
    """The single Star-3 ``controlnet`` object (lowercase n)."""

    control_type: Star3ControlType
    control_image: Annotated[str, check_url("control image")]

    _both = model_validator(mode="before")(
        _require_pair("control_type", "control_image", "a control needs both a control type and a control image")
    )


class Star3Text2ImgParams(WireParams):
    prompt: Prompt
    aspect_ratio: Star3AspectRatio | None = None
    image_size: Star3ImageSize | None = None
    img_count: ImgCount = 1
    steps: Annotated[int, between("steps", 1, 60)] | None = None
    controlnet: Star3ControlNet | None = None
    prompt_magic: Flag | None = None

    @model_validator(mode="after")
    def _one_size(self) -> Star3Text2ImgParams:
        if (self.aspect_ratio is None) == (self.image_size is None):
            raise ValueError("give exactly one of aspect ratio or image size")
        return self


class Star3Img2ImgParams(WireParams):
    prompt: Prompt
    source_image: Annotated[str, check_url("source image")]
    img_count: ImgCount = 1
    steps: Annotated[int, between("steps", 1, 60)] | None = None
    controlnet: Star3ControlNet | None = None


# --------------------------------------------------------------------------------------------------
# Custom checkpoint ("webui") (§5.3–§5.5)
# --------------------------------------------------------------------------------------------------


class AdditionalNetwork(_Request):
    """One LoRA: ``{modelId, weight}``."""

    model_id: Annotated[str, check_nonempty("LoRA model id")]
    weight: Annotated[float, between("LoRA weight", -4, 4)] = 0.8


class HiResFixInfo(_Request):
    hires_steps: Annotated[int, between("hires steps", 1, 30)] = 20
    hires_denoising_strength: Annotated[float, between("hires denoising strength", 0, 1)] = 0.35
    upscaler: Annotated[int, check_choice("upscaler", VALID_UPSCALERS)] = 10
    resized_width: Annotated[int, between("hires width", 128, 2048)]
    resized_height: Annotated[int, between("hires height", 128, 2048)]


class ControlNetUnit(_Request):
    """One ``controlNet[]`` unit of the custom-model routes."""

    unit_order: Annotated[int, between("ControlNet unit order", 0, 4)] = 1
    source_image: Annotated[str, check_url("ControlNet source image")]
    width: Annotated[int, between("ControlNet image width", 1, 4096)]
    height: Annotated[int, between("ControlNet image height", 1, 4096)]
    preprocessor: Annotated[int, check_choice("ControlNet preprocessor", VALID_PREPROCESSORS)] = 0
    annotation_parameters: dict[str, Any] | None = None  # keyed by the preprocessor's name; sent verbatim
    model: Annotated[str, check_nonempty("ControlNet model id")]
    control_weight: Annotated[float, between("ControlNet weight", 0, 2)] = 1.0
    starting_control_step: Annotated[float, between("ControlNet starting step", 0, 1)] = 0.0
    ending_control_step: Annotated[float, between("ControlNet ending step", 0, 1)] = 1.0
    pixel_perfect: Flag = 1
    control_mode: Annotated[int, between("ControlNet control mode", 0, 2)] = 0
    resize_mode: Annotated[int, between("ControlNet resize mode", 0, 2)] = 1
    mask_image: Annotated[str, check_url("ControlNet mask image")] | None = None

    @model_validator(mode="after")
    def _steps_ordered(self) -> ControlNetUnit:
        if self.starting_control_step > self.ending_control_step:
            raise ValueError("ControlNet starting step must not be after its ending step")
        return self


class InpaintParam(_Request):
    mask_image: Annotated[str, check_url("mask image")]
    mask_blur: Annotated[int, between("mask blur", 0, 64)] = 4
    mask_padding: Annotated[int, between("mask padding", 0, 256)] = 32
    mask_mode: Annotated[int, between("mask mode", 0, 1)] = 0
    inpaint_area: Annotated[int, between("inpaint area", 0, 1)] = 0
    inpainting_fill: Annotated[int, between("inpainting fill", 0, 3)] = 1


class _CustomCommon(WireParams):
    check_point_id: Annotated[str, check_nonempty("checkpoint id")]
    vae_id: str | None = None  # "" = the checkpoint's own VAE
    prompt: Prompt
    negative_prompt: NegativePrompt | None = None
    clip_skip: Annotated[int, between("clip skip", 1, 12)] = 2
    sampler: Annotated[int, AfterValidator(check_sampler)] = 15
    steps: Annotated[int, between("steps", 1, 60)] = 25
    cfg_scale: Annotated[float, between("CFG scale", 1, 15)] = 7.0
    img_count: ImgCount = 1
    randn_source: Annotated[int, between("random source", 0, 1)] = 0
    seed: Annotated[int, between("seed", -1, endpoints.SEED_MAX)] = -1
    restore_faces: Flag = 0
    additional_network: Annotated[list[AdditionalNetwork] | None, at_most(MAX_LORAS, "LoRAs")] = None
    control_net: Annotated[list[ControlNetUnit] | None, at_most(MAX_CONTROLNET_UNITS, "ControlNet units")] = None


class CustomText2ImgParams(_CustomCommon):
    width: Annotated[int, between("width", 128, 1536)] = 1024
    height: Annotated[int, between("height", 128, 1536)] = 1024
    hi_res_fix_info: HiResFixInfo | None = None


class CustomImg2ImgParams(_CustomCommon):
    source_image: Annotated[str, check_url("source image")]
    resize_mode: Annotated[int, between("resize mode", 0, 2)] = 0
    resized_width: Annotated[int, between("resized width", 128, 2048)]
    resized_height: Annotated[int, between("resized height", 128, 2048)]
    mode: Literal[0, 4] = 0
    denoising_strength: Annotated[float, between("denoising strength", 0, 1)] = 0.75
    inpaint_param: InpaintParam | None = None

    @model_validator(mode="after")
    def _inpaint_needs_mask(self) -> CustomImg2ImgParams:
        if self.mode == 4 and self.inpaint_param is None:
            raise ValueError("inpainting (mode 4) needs a mask (inpaintParam)")
        if self.mode == 0 and self.inpaint_param is not None:
            raise ValueError("a mask (inpaintParam) is only used with inpainting (mode 4)")
        return self


# --------------------------------------------------------------------------------------------------
# F.1 Kontext (§5.7): guidance_scale and image_list are snake_case on the wire
# --------------------------------------------------------------------------------------------------


class KontextText2ImgParams(WireParams):
    model: KontextModel = "max"
    prompt: Prompt
    aspect_ratio: KontextAspectRatio = "1:1"
    img_count: ImgCount = 1
    guidance_scale: Annotated[float, between("guidance scale", 1, 20)] | None = Field(
        default=None, alias="guidance_scale"
    )


class KontextImg2ImgParams(KontextText2ImgParams):
    image_list: list[ImageUrl] = Field(alias="image_list")

    @field_validator("image_list")
    @classmethod
    def _count_refs(cls, value: list[str]) -> list[str]:
        if not 1 <= len(value) <= endpoints.KONTEXT_MAX_REFERENCES:
            raise ValueError(
                f"Kontext needs 1 to {endpoints.KONTEXT_MAX_REFERENCES} reference images (got {len(value)})"
            )
        return value

    @model_validator(mode="after")
    def _pro_single_ref(self) -> KontextImg2ImgParams:
        if self.model == "pro" and len(self.image_list) > 1:
            raise ValueError("Kontext pro takes a single reference image; use max for several")
        return self


# Every family's generateParams model derives from WireParams; a ComfyUI workflow's is its node map.
GenerateParams = WireParams | ComfyParams


@dataclass(frozen=True, slots=True)
class SubmitRequest:
    """One generation submit: where it goes, which template, and the validated ``generateParams``."""

    family: Family
    path: str
    template_uuid: str
    params: GenerateParams

    def __post_init__(self) -> None:
        if not self.path.startswith("/"):
            raise ValueError(f"submit path must start with '/': {self.path!r}")
        if not self.template_uuid:
            raise ValueError("a templateUuid is required")

    @property
    def img_count(self) -> int:
        return self.params.img_count

    def to_body(self) -> dict[str, Any]:
        """``{"templateUuid": ..., "generateParams": {...}}`` with wire names, ``None`` fields left out."""
        return {
            "templateUuid": self.template_uuid,
            "generateParams": self.params.model_dump(by_alias=True, exclude_none=True, mode="json"),
        }


# Builders -----------------------------------------------------------------------------------------


def star3_text2img(
    prompt: str,
    *,
    aspect_ratio: Star3AspectRatio | None = None,
    width: int | None = None,
    height: int | None = None,
    img_count: int = 1,
    steps: int | None = None,
    control_type: Star3ControlType | None = None,
    control_image: str | None = None,
    ultra: bool = True,
) -> SubmitRequest:
    """Star-3 Alpha text2img. Give ``aspect_ratio`` or ``width`` + ``height`` (default: square).

    ``ultra=False`` posts to ``/webui/text2img`` instead of the ``/ultra`` route (settings.star3_use_ultra_routes).
    Raises ``pydantic.ValidationError`` (a ``ValueError``; see ``explain``) on bad values.
    """
    sized = width is not None or height is not None
    params = Star3Text2ImgParams.model_validate(
        {
            "prompt": prompt,
            "aspect_ratio": aspect_ratio if aspect_ratio is not None or sized else "square",
            "image_size": {"width": width, "height": height} if sized else None,
            "img_count": img_count,
            "steps": steps,
            "controlnet": _star3_control(control_type, control_image),
        }
    )
    path = endpoints.STAR3_TEXT2IMG if ultra else endpoints.WEBUI_TEXT2IMG
    return SubmitRequest(Family.STAR3, path, endpoints.TEMPLATE_STAR3_TEXT2IMG, params)


def star3_img2img(
    prompt: str,
    source_image: str,
    *,
    img_count: int = 1,
    steps: int | None = None,
    control_type: Star3ControlType | None = None,
    control_image: str | None = None,
    ultra: bool = True,
) -> SubmitRequest:
    """Star-3 Alpha img2img from a public image URL."""
    params = Star3Img2ImgParams.model_validate(
        {
            "prompt": prompt,
            "source_image": source_image,
            "img_count": img_count,
            "steps": steps,
            "controlnet": _star3_control(control_type, control_image),
        }
    )
    path = endpoints.STAR3_IMG2IMG if ultra else endpoints.WEBUI_IMG2IMG
    return SubmitRequest(Family.STAR3, path, endpoints.TEMPLATE_STAR3_IMG2IMG, params)


def _star3_control(control_type: str | None, control_image: str | None) -> dict[str, Any] | None:
    if control_type is None and control_image is None:
        return None
    return {"control_type": control_type, "control_image": control_image}


def custom_text2img(
    params: CustomText2ImgParams, *, template_uuid: str = endpoints.TEMPLATE_CUSTOM_TEXT2IMG
) -> SubmitRequest:
    return SubmitRequest(Family.CUSTOM, endpoints.WEBUI_TEXT2IMG, template_uuid, params)


def custom_img2img(
    params: CustomImg2ImgParams, *, template_uuid: str = endpoints.TEMPLATE_CUSTOM_IMG2IMG
) -> SubmitRequest:
    return SubmitRequest(Family.CUSTOM, endpoints.WEBUI_IMG2IMG, template_uuid, params)


def kontext_text2img(
    prompt: str,
    *,
    model: KontextModel = "max",
    aspect_ratio: KontextAspectRatio = "1:1",
    img_count: int = 1,
    guidance_scale: float | None = None,
) -> SubmitRequest:
    params = KontextText2ImgParams(
        model=model, prompt=prompt, aspect_ratio=aspect_ratio, img_count=img_count, guidance_scale=guidance_scale
    )
    return SubmitRequest(Family.KONTEXT, endpoints.KONTEXT_TEXT2IMG, endpoints.TEMPLATE_KONTEXT_TEXT2IMG, params)


def kontext_img2img(
    prompt: str,
    image_list: list[str],
    *,
    model: KontextModel = "max",
    aspect_ratio: KontextAspectRatio = "1:1",
    img_count: int = 1,
    guidance_scale: float | None = None,
) -> SubmitRequest:
    params = KontextImg2ImgParams(
        model=model,
        prompt=prompt,
        aspect_ratio=aspect_ratio,
        img_count=img_count,
        guidance_scale=guidance_scale,
        image_list=image_list,
    )
    return SubmitRequest(Family.KONTEXT, endpoints.KONTEXT_IMG2IMG, endpoints.TEMPLATE_KONTEXT_IMG2IMG, params)
