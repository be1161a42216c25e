"""Pydantic wire models for the LiblibAI open API (liblib-api.md §5–§8).

Request models (``extra="forbid"``) validate every documented range client-side, so a bad value is refused
with a human message before any request is made. Response models (``extra="allow"``) parse leniently:
unknown keys are kept but ignored, and missing optional fields are fine.

Python fields are snake_case; on the wire they are camelCase (``alias_generator=to_camel``), except
Kontext's ``guidance_scale`` and ``image_list`` which the API spells in snake_case.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from bot.liblib import endpoints
from bot.liblib.endpoints import AuditStatus, Family, GenerateStatus

# --------------------------------------------------------------------------------------------------
# Validation helpers (human messages)
# --------------------------------------------------------------------------------------------------

SEED_MAX = 9_999_999_999
MAX_LORAS = 5
MAX_CONTROLNET_UNITS = 4
UPLOAD_NAME_MAX_CHARS = 100
# ControlNet preprocessor values (liblib-api.md §5.6): 24, 46, 47 and 67 are unused.
VALID_PREPROCESSORS = frozenset(set(range(24)) | set(range(25, 46)) | set(range(48, 67)) | {68})
VALID_UPSCALERS = frozenset(range(27))


def _between(label: str, lo: float, hi: float) -> AfterValidator:
    def check(value: float) -> float:
        if value < lo or value > hi:
            raise ValueError(f"{label} must be between {_num(lo)} and {_num(hi)} (got {_num(value)})")
        return value

    return AfterValidator(check)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _check_prompt(label: str) -> AfterValidator:
    def check(value: str) -> str:
        if not value.strip():
            raise ValueError(f"{label} must not be empty")
        if len(value) > endpoints.PROMPT_MAX_CHARS:
            raise ValueError(f"{label} is {len(value)} characters long; the limit is {endpoints.PROMPT_MAX_CHARS}")
        return value

    return AfterValidator(check)


def _check_optional_text(label: str) -> AfterValidator:
    def check(value: str) -> str:
        if len(value) > endpoints.PROMPT_MAX_CHARS:
            raise ValueError(f"{label} is {len(value)} characters long; the limit is {endpoints.PROMPT_MAX_CHARS}")
        return value

    return AfterValidator(check)


def _check_url(label: str) -> AfterValidator:
    def check(value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{label} must be a full public http(s) URL (got {value[:80]!r})")
        return value

    return AfterValidator(check)


def _check_choice(label: str, allowed: frozenset[int]) -> AfterValidator:
    def check(value: int) -> int:
        if value not in allowed:
            raise ValueError(f"{label} {value} is not a valid value")
        return value

    return AfterValidator(check)


def _check_sampler(value: int) -> int:
    if value not in endpoints.VALID_SAMPLERS:
        raise ValueError(f"sampler {value} is not valid (use 0–21, 24, 25 or 27–30; 22, 23 and 26 do not exist)")
    return value


def _check_nonempty(label: str) -> AfterValidator:
    def check(value: str) -> str:
        if not value.strip():
            raise ValueError(f"{label} must not be empty")
        return value

    return AfterValidator(check)


Prompt = Annotated[str, _check_prompt("prompt")]
NegativePrompt = Annotated[str, _check_optional_text("negative prompt")]
ImageUrl = Annotated[str, _check_url("image address")]
ImgCount = Annotated[int, _between("image count", 1, endpoints.MAX_IMAGE_COUNT)]
Flag = Annotated[int, _between("flag", 0, 1)]

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


class _Response(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


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
    width: Annotated[int, _between("width", 512, 2048)]
    height: Annotated[int, _between("height", 512, 2048)]

    _both = model_validator(mode="before")(_require_pair("width", "height", "give both a width and a height"))


class Star3ControlNet(_Request):
    """The single Star-3 ``controlnet`` object (lowercase n)."""

    control_type: Star3ControlType
    control_image: Annotated[str, _check_url("control image")]

    _both = model_validator(mode="before")(
        _require_pair("control_type", "control_image", "a control needs both a control type and a control image")
    )


class Star3Text2ImgParams(_Request):
    prompt: Prompt
    aspect_ratio: Star3AspectRatio | None = None
    image_size: Star3ImageSize | None = None
    img_count: ImgCount = 1
    steps: Annotated[int, _between("steps", 1, 60)] | None = None
    controlnet: Star3ControlNet | None = None
    prompt_magic: Flag | None = None

    @model_validator(mode="after")
    def _one_size(self) -> Star3Text2ImgParams:
        if (self.aspect_ratio is None) == (self.image_size is None):
            raise ValueError("give exactly one of aspect ratio or image size")
        return self


class Star3Img2ImgParams(_Request):
    prompt: Prompt
    source_image: Annotated[str, _check_url("source image")]
    img_count: ImgCount = 1
    steps: Annotated[int, _between("steps", 1, 60)] | None = None
    controlnet: Star3ControlNet | None = None


# --------------------------------------------------------------------------------------------------
# Custom checkpoint ("webui") (§5.3–§5.5)
# --------------------------------------------------------------------------------------------------


class AdditionalNetwork(_Request):
    """One LoRA: ``{modelId, weight}``."""

    model_id: Annotated[str, _check_nonempty("LoRA model id")]
    weight: Annotated[float, _between("LoRA weight", -4, 4)] = 0.8


class HiResFixInfo(_Request):
    hires_steps: Annotated[int, _between("hires steps", 1, 30)] = 20
    hires_denoising_strength: Annotated[float, _between("hires denoising strength", 0, 1)] = 0.35
    upscaler: Annotated[int, _check_choice("upscaler", VALID_UPSCALERS)] = 10
    resized_width: Annotated[int, _between("hires width", 128, 2048)]
    resized_height: Annotated[int, _between("hires height", 128, 2048)]


class ControlNetUnit(_Request):
    """One ``controlNet[]`` unit of the custom-model routes."""

    unit_order: Annotated[int, _between("ControlNet unit order", 0, 4)] = 1
    source_image: Annotated[str, _check_url("ControlNet source image")]
    width: Annotated[int, _between("ControlNet image width", 1, 4096)]
    height: Annotated[int, _between("ControlNet image height", 1, 4096)]
    preprocessor: Annotated[int, _check_choice("ControlNet preprocessor", VALID_PREPROCESSORS)] = 0
    annotation_parameters: dict[str, Any] | None = None  # keyed by the preprocessor's name; sent verbatim
    model: Annotated[str, _check_nonempty("ControlNet model id")]
    control_weight: Annotated[float, _between("ControlNet weight", 0, 2)] = 1.0
    starting_control_step: Annotated[float, _between("ControlNet starting step", 0, 1)] = 0.0
    ending_control_step: Annotated[float, _between("ControlNet ending step", 0, 1)] = 1.0
    pixel_perfect: Flag = 1
    control_mode: Annotated[int, _between("ControlNet control mode", 0, 2)] = 0
    resize_mode: Annotated[int, _between("ControlNet resize mode", 0, 2)] = 1
    mask_image: Annotated[str, _check_url("ControlNet mask image")] | None = None

    @model_validator(mode="after")
    def _steps_ordered(self) -> ControlNetUnit:
        if self.starting_control_step > self.ending_control_step:
            raise ValueError("ControlNet starting step must not be after its ending step")
        return self


class InpaintParam(_Request):
    mask_image: Annotated[str, _check_url("mask image")]
    mask_blur: Annotated[int, _between("mask blur", 0, 64)] = 4
    mask_padding: Annotated[int, _between("mask padding", 0, 256)] = 32
    mask_mode: Annotated[int, _between("mask mode", 0, 1)] = 0
    inpaint_area: Annotated[int, _between("inpaint area", 0, 1)] = 0
    inpainting_fill: Annotated[int, _between("inpainting fill", 0, 3)] = 1


class _CustomCommon(_Request):
    check_point_id: Annotated[str, _check_nonempty("checkpoint id")]
    vae_id: str | None = None  # "" = the checkpoint's own VAE
    prompt: Prompt
    negative_prompt: NegativePrompt | None = None
    clip_skip: Annotated[int, _between("clip skip", 1, 12)] = 2
    sampler: Annotated[int, AfterValidator(_check_sampler)] = 15
    steps: Annotated[int, _between("steps", 1, 60)] = 25
    cfg_scale: Annotated[float, _between("CFG scale", 1, 15)] = 7.0
    img_count: ImgCount = 1
    randn_source: Annotated[int, _between("random source", 0, 1)] = 0
    seed: Annotated[int, _between("seed", -1, SEED_MAX)] = -1
    restore_faces: Flag = 0
    additional_network: list[AdditionalNetwork] | None = None
    control_net: list[ControlNetUnit] | None = None

    @field_validator("additional_network")
    @classmethod
    def _max_loras(cls, value: list[AdditionalNetwork] | None) -> list[AdditionalNetwork] | None:
        if value is not None and len(value) > MAX_LORAS:
            raise ValueError(f"at most {MAX_LORAS} LoRAs may be used (got {len(value)})")
        return value

    @field_validator("control_net")
    @classmethod
    def _max_units(cls, value: list[ControlNetUnit] | None) -> list[ControlNetUnit] | None:
        if value is not None and len(value) > MAX_CONTROLNET_UNITS:
            raise ValueError(f"at most {MAX_CONTROLNET_UNITS} ControlNet units may be used (got {len(value)})")
        return value


class CustomText2ImgParams(_CustomCommon):
    width: Annotated[int, _between("width", 128, 1536)] = 1024
    height: Annotated[int, _between("height", 128, 1536)] = 1024
    hi_res_fix_info: HiResFixInfo | None = None


class CustomImg2ImgParams(_CustomCommon):
    source_image: Annotated[str, _check_url("source image")]
    resize_mode: Annotated[int, _between("resize mode", 0, 2)] = 0
    resized_width: Annotated[int, _between("resized width", 128, 2048)]
    resized_height: Annotated[int, _between("resized height", 128, 2048)]
    mode: Literal[0, 4] = 0
    denoising_strength: Annotated[float, _between("denoising strength", 0, 1)] = 0.75
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


class KontextText2ImgParams(_Request):
    model: KontextModel = "max"
    prompt: Prompt
    aspect_ratio: KontextAspectRatio = "1:1"
    img_count: ImgCount = 1
    guidance_scale: Annotated[float, _between("guidance scale", 1, 20)] | None = Field(
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


GenerateParams = (
    Star3Text2ImgParams
    | Star3Img2ImgParams
    | CustomText2ImgParams
    | CustomImg2ImgParams
    | KontextText2ImgParams
    | KontextImg2ImgParams
)


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


# --------------------------------------------------------------------------------------------------
# Responses (lenient)
# --------------------------------------------------------------------------------------------------


def _lenient_int(value: Any) -> int | None:
    """An int from int/float/str, or None for null or anything unparseable."""
    if value is None:
        return None
    if isinstance(value, int):  # bool included
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            try:
                as_float = float(value)
            except ValueError:
                return None
            return int(as_float) if math.isfinite(as_float) and as_float.is_integer() else None
    return None


def _lenient_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def _none_to(default: Callable[[], Any]) -> BeforeValidator:
    return BeforeValidator(lambda v: default() if v is None else v)


def _to_str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


LenientInt = Annotated[int | None, BeforeValidator(_lenient_int)]
LenientFloat = Annotated[float | None, BeforeValidator(_lenient_float)]


class TaskImage(_Response):
    image_url: str
    seed: LenientInt = None
    audit_status: LenientInt = None

    @property
    def passed(self) -> bool:
        """Usable: audit passed, or no audit status reported (the API lists only passed images)."""
        return self.audit_status is None or self.audit_status == AuditStatus.PASSED

    @property
    def blocked(self) -> bool:
        return self.audit_status in (AuditStatus.BLOCKED, AuditStatus.FAILED)


class TaskStatus(_Response):
    """The ``data`` of a status response (§6.2)."""

    generate_uuid: Annotated[str, _none_to(str)] = ""
    generate_status: int
    percent_completed: LenientFloat = None
    generate_msg: Annotated[str, _none_to(str)] = ""
    points_cost: LenientInt = None
    account_balance: LenientInt = None
    images: Annotated[list[TaskImage], _none_to(list)] = Field(default_factory=list)

    @property
    def status(self) -> GenerateStatus | None:
        """The known status, or None for a value outside 1–7 (treated as "keep polling")."""
        try:
            return GenerateStatus(self.generate_status)
        except ValueError:
            return None

    @property
    def is_terminal(self) -> bool:
        status = self.status
        return status is not None and status.terminal

    @property
    def progress(self) -> float | None:
        """``percentCompleted`` normalised to 0–1 (a value above 1 is read as a percentage)."""
        p = self.percent_completed
        if p is None or p < 0:
            return None
        if p > 1:
            p = p / 100
        return min(p, 1.0)

    @property
    def passed_images(self) -> list[TaskImage]:
        return [image for image in self.images if image.passed]

    @property
    def blocked_count(self) -> int:
        return sum(1 for image in self.images if image.blocked)


@dataclass(frozen=True, slots=True)
class TaskResult:
    """A finished task: only images that passed audit, plus what it cost."""

    generate_uuid: str
    images: tuple[TaskImage, ...]
    points_cost: int | None = None
    account_balance: int | None = None
    blocked_count: int = 0
    status: TaskStatus | None = field(default=None, compare=False, repr=False)

    @property
    def seeds(self) -> tuple[int | None, ...]:
        return tuple(image.seed for image in self.images)

    @property
    def image_urls(self) -> tuple[str, ...]:
        return tuple(image.image_url for image in self.images)

    @classmethod
    def from_status(cls, status: TaskStatus) -> TaskResult:
        return cls(
            generate_uuid=status.generate_uuid,
            images=tuple(status.passed_images),
            points_cost=status.points_cost,
            account_balance=status.account_balance,
            blocked_count=status.blocked_count,
            status=status,
        )


def _oss(camel: str, snake: str) -> Any:
    js = "xoss" + camel[4:]  # the JS SDK spells xOssDate as xossDate (§11.2)
    return Field(validation_alias=AliasChoices(camel, js, snake))


_ExpiresStr = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int | float) else v)]


class UploadSignature(_Response):
    """The ``data`` of ``/api/generate/upload/signature`` (§7). Accepts ``xOssDate`` and ``xossDate``."""

    key: str
    policy: str
    post_url: str = Field(validation_alias=AliasChoices("postUrl", "post_url"))
    x_oss_date: str = _oss("xOssDate", "x_oss_date")
    x_oss_expires: _ExpiresStr = _oss("xOssExpires", "x_oss_expires")
    x_oss_signature: str = _oss("xOssSignature", "x_oss_signature")
    x_oss_credential: str = _oss("xOssCredential", "x_oss_credential")
    x_oss_signature_version: str = _oss("xOssSignatureVersion", "x_oss_signature_version")

    @property
    def public_url(self) -> str:
        """Where the uploaded file is served: ``postUrl + "/" + key``."""
        return self.post_url.rstrip("/") + "/" + self.key.lstrip("/")

    def form_fields(self) -> list[tuple[str, str]]:
        """The OSS PostObject form fields in the documented order (the file goes after these)."""
        return [
            ("key", self.key),
            ("policy", self.policy),
            ("x-oss-date", self.x_oss_date),
            ("x-oss-expires", self.x_oss_expires),
            ("x-oss-signature", self.x_oss_signature),
            ("x-oss-credential", self.x_oss_credential),
            ("x-oss-signature-version", self.x_oss_signature_version),
        ]


_StrOrNone = Annotated[str | None, BeforeValidator(_to_str_or_none)]


def _lenient_bool(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes"):
        return True
    if text in ("0", "false", "no"):
        return False
    return None


class ModelVersion(_Response):
    """``/api/model/version/get`` (§8): the enveloped camelCase form or the bare snake_case form."""

    version_uuid: str = Field(default="", validation_alias=AliasChoices("versionUuid", "version_uuid"))
    model_name: _StrOrNone = Field(default=None, validation_alias=AliasChoices("modelName", "model_name"))
    version_name: _StrOrNone = Field(default=None, validation_alias=AliasChoices("versionName", "version_name"))
    base_algo: _StrOrNone = Field(
        default=None, validation_alias=AliasChoices("baseAlgo", "baseAlgoName", "base_algo", "base_algo_name")
    )
    show_type: _StrOrNone = Field(default=None, validation_alias=AliasChoices("showType", "show_type"))
    commercial_use: Annotated[bool | None, BeforeValidator(_lenient_bool)] = Field(
        default=None, validation_alias=AliasChoices("commercialUse", "commercial_use")
    )
    model_url: _StrOrNone = Field(default=None, validation_alias=AliasChoices("modelUrl", "model_url"))

    @model_validator(mode="before")
    @classmethod
    def _unwrap_envelope(cls, value: Any) -> Any:
        if isinstance(value, dict) and "code" in value and isinstance(value.get("data"), dict):
            return value["data"]
        return value


__all__ = [
    "AdditionalNetwork",
    "ControlNetUnit",
    "CustomImg2ImgParams",
    "CustomText2ImgParams",
    "GenerateParams",
    "HiResFixInfo",
    "InpaintParam",
    "KontextAspectRatio",
    "KontextImg2ImgParams",
    "KontextModel",
    "KontextText2ImgParams",
    "ModelVersion",
    "Star3AspectRatio",
    "Star3ControlNet",
    "Star3ControlType",
    "Star3ImageSize",
    "Star3Img2ImgParams",
    "Star3Text2ImgParams",
    "SubmitRequest",
    "TaskImage",
    "TaskResult",
    "TaskStatus",
    "UploadSignature",
    "custom_img2img",
    "custom_text2img",
    "explain",
    "kontext_img2img",
    "kontext_text2img",
    "star3_img2img",
    "star3_text2img",
]
