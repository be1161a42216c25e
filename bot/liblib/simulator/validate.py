"""Request classification and parameter validation for the LiblibAI simulator (liblib-api.md §3–§5).

Checks the documented ranges and answers with the real codes: 100000 "参数无效: <field>" for a bad
field, 100050 for missing ``generateParams``. English-only prompts are *not* enforced: the real service
states the rule for Star-3 and webui routes but its enforcement is unverified.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.liblib import endpoints as ep

log = logging.getLogger(__name__)

MSG_INCOMPLETE = "生图参数未通过参数完整度校验，请检查参数配置"

# Extra webui templates a real account may use on the custom-model routes (§4).
_CUSTOM_T2I_TEMPLATES = frozenset(
    {
        ep.TEMPLATE_CUSTOM_TEXT2IMG,
        "6f7c4652458d4802969f8d089cf5b91f",  # F.1 text2img
        "b689de89e8c9407a874acd415b3aa126",  # ControlNet inpaint
        "7d888009f81d4252a7c458c874cd017f",  # InstantID (sources disagree on its route: accept both)
        "bf085132c7134622895b783b520b39ff",  # Qwen-Image
    }
)
_CUSTOM_I2I_TEMPLATES = frozenset(
    {
        ep.TEMPLATE_CUSTOM_IMG2IMG,
        "63b72710c9574457ba303d9d9b8df8bd",  # F.1 img2img
        "74509e1b072a4c45a7f1843a963c8462",  # img2img inpaint
        "7d888009f81d4252a7c458c874cd017f",
    }
)
_QWEN_TEMPLATE = "bf085132c7134622895b783b520b39ff"


class SubmitKind(StrEnum):
    STAR3_T2I = "star3-text2img"
    STAR3_I2I = "star3-img2img"
    CUSTOM_T2I = "custom-text2img"
    CUSTOM_I2I = "custom-img2img"
    KONTEXT_T2I = "kontext-text2img"
    KONTEXT_I2I = "kontext-img2img"
    SEEDREAM = "seedream-v4"
    LIBDREAM = "libdream-text2img"
    IMG1_GENERATE = "img1-generate"
    IMG1_INPAINT = "img1-inpaint"
    COMFY = "comfy-app"  # a ComfyUI workflow (bot/liblib/simulator/comfy.py validates it)

    @property
    def family(self) -> ep.Family:
        return ep.Family(self.value.split("-", 1)[0])

    @property
    def img2img(self) -> bool:
        return self.value.endswith("img2img")


# The newer families' routes each serve one template (liblib-api.md §3).
_NEWER_ROUTES: dict[str, tuple[str, SubmitKind]] = {
    ep.SEEDREAM: (ep.TEMPLATE_SEEDREAM, SubmitKind.SEEDREAM),
    ep.LIBDREAM: (ep.TEMPLATE_LIBDREAM, SubmitKind.LIBDREAM),
    ep.IMG1_GENERATE: (ep.TEMPLATE_IMG1_GENERATE, SubmitKind.IMG1_GENERATE),
    ep.IMG1_INPAINT: (ep.TEMPLATE_IMG1_INPAINT, SubmitKind.IMG1_INPAINT),
}


@dataclass(frozen=True, slots=True)
class Rejection:
    """A business error to answer with (HTTP 200 + envelope)."""

    code: int
    msg: str


class _InvalidError(Exception):
    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


def invalid(field: str) -> Rejection:
    return Rejection(100000, f"参数无效: {field}")


def classify(path: str, template_uuid: object) -> SubmitKind | Rejection:
    """Which kind of task ``templateUuid`` on ``path`` asks for, or why the pair is refused."""
    if not isinstance(template_uuid, str) or not template_uuid:
        return invalid("templateUuid")
    allowed: dict[str, SubmitKind]
    if path == ep.STAR3_TEXT2IMG:
        allowed = {ep.TEMPLATE_STAR3_TEXT2IMG: SubmitKind.STAR3_T2I}
    elif path == ep.STAR3_IMG2IMG:
        allowed = {ep.TEMPLATE_STAR3_IMG2IMG: SubmitKind.STAR3_I2I}
    elif path == ep.KONTEXT_TEXT2IMG:
        allowed = {ep.TEMPLATE_KONTEXT_TEXT2IMG: SubmitKind.KONTEXT_T2I}
    elif path == ep.KONTEXT_IMG2IMG:
        allowed = {ep.TEMPLATE_KONTEXT_IMG2IMG: SubmitKind.KONTEXT_I2I}
    elif path in _NEWER_ROUTES:
        allowed = dict([_NEWER_ROUTES[path]])
    elif path == ep.WEBUI_TEXT2IMG:
        # One app reports Star-3 moved to the plain webui routes with the same uuids (§11.2).
        allowed = dict.fromkeys(_CUSTOM_T2I_TEMPLATES, SubmitKind.CUSTOM_T2I)
        allowed[ep.TEMPLATE_STAR3_TEXT2IMG] = SubmitKind.STAR3_T2I
    elif path == ep.WEBUI_IMG2IMG:
        allowed = dict.fromkeys(_CUSTOM_I2I_TEMPLATES, SubmitKind.CUSTOM_I2I)
        allowed[ep.TEMPLATE_STAR3_IMG2IMG] = SubmitKind.STAR3_I2I
    else:
        return invalid("templateUuid")
    kind = allowed.get(template_uuid)
    if kind is None:
        # PROBE saw a wrong template surface as 100000 with this text rather than 100120.
        return invalid(f"template not found, templateUuid: {template_uuid}")
    return kind


def validate(kind: SubmitKind, params: Mapping[str, Any], template_uuid: str = "") -> Rejection | None:
    """None when ``params`` satisfy §5 for ``kind``; otherwise the rejection naming the first bad field."""
    try:
        seedream = kind is SubmitKind.SEEDREAM
        _check_common(params, max_count=ep.SEEDREAM_MAX_IMAGES if seedream else ep.MAX_IMAGE_COUNT)
        if kind.family is ep.Family.STAR3:
            _check_star3(kind, params)
        elif kind.family is ep.Family.CUSTOM:
            _check_custom(kind, params, qwen=template_uuid == _QWEN_TEMPLATE)
        elif kind.family is ep.Family.KONTEXT:
            _check_kontext(kind, params)
        elif seedream:
            _check_seedream(params)
        elif kind is SubmitKind.LIBDREAM:
            _check_libdream(params)
        else:
            _check_img1(kind, params)
    except _InvalidError as exc:
        return invalid(exc.field)
    return None


def source_urls(kind: SubmitKind, params: Mapping[str, Any]) -> list[str]:
    """Every input image URL the service would download for this (already validated) request."""
    urls: list[str] = []
    if kind in (SubmitKind.STAR3_I2I, SubmitKind.CUSTOM_I2I):
        urls.append(params["sourceImage"])
    if kind.family is ep.Family.STAR3 and isinstance(params.get("controlnet"), dict):
        urls.append(params["controlnet"]["controlImage"])
    if kind.family is ep.Family.CUSTOM:
        for unit in params.get("controlNet") or []:
            urls.append(unit["sourceImage"])
            if isinstance(unit.get("maskImage"), str) and unit["maskImage"]:
                urls.append(unit["maskImage"])
        if params.get("mode") == 4:
            urls.append(params["inpaintParam"]["maskImage"])
    if kind is SubmitKind.KONTEXT_I2I:
        urls.extend(params["image_list"])
    if kind is SubmitKind.SEEDREAM:
        urls.extend(params.get("referenceImages") or [])
    if kind is SubmitKind.IMG1_INPAINT:
        urls.extend([params["image"], params["mask"]])
    if kind.family is ep.Family.IMG1:
        urls.extend(params.get("image_list") or [])
    return urls


def small_sources(kind: SubmitKind, params: Mapping[str, Any]) -> frozenset[str]:
    """Input URLs held to IMG1 inpaint's 4 MB limit (liblib-api.md §9) rather than the usual 10 MB."""
    if kind is SubmitKind.IMG1_INPAINT:
        return frozenset({params["image"], params["mask"]})
    return frozenset()


# --------------------------------------------------------------------------------------------------
# Field checks
# --------------------------------------------------------------------------------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _int(params: Mapping[str, Any], name: str, lo: int, hi: int, *, required: bool = False, label: str = "") -> None:
    value = params.get(name)
    if value is None:
        if required:
            raise _InvalidError(label or name)
        return
    if not _is_int(value) or not lo <= value <= hi:
        raise _InvalidError(label or name)


def _number(params: Mapping[str, Any], name: str, lo: float, hi: float, *, label: str = "") -> None:
    value = params.get(name)
    if value is not None and (not _is_number(value) or not lo <= value <= hi):
        raise _InvalidError(label or name)


def _url(params: Mapping[str, Any], name: str, *, required: bool = True, label: str = "") -> None:
    value = params.get(name)
    if value is None and not required:
        return
    if not isinstance(value, str) or not value.strip():
        raise _InvalidError(label or name)


def _check_common(params: Mapping[str, Any], *, max_count: int) -> None:
    for name in ("prompt", "negativePrompt"):
        value = params.get(name)
        if name == "prompt" and (not isinstance(value, str) or not value.strip()):
            raise _InvalidError("prompt")
        if value is not None and (not isinstance(value, str) or len(value) > ep.PROMPT_MAX_CHARS):
            raise _InvalidError(name)
    # imgCount is documented as required for the webui routes; defaulting to 1 keeps the simulator
    # from failing a client over a point the real service's enforcement of is unknown.
    _int(params, "imgCount", 1, max_count)


def _check_star3(kind: SubmitKind, params: Mapping[str, Any]) -> None:
    _int(params, "steps", 1, 60)
    if kind is SubmitKind.STAR3_T2I:
        size = params.get("imageSize")
        ratio = params.get("aspectRatio")
        if size is None and ratio is None:
            raise _InvalidError("aspectRatio")
        if ratio is not None and ratio not in ep.STAR3_ASPECT_RATIOS:
            raise _InvalidError("aspectRatio")
        if size is not None:
            if not isinstance(size, dict):
                raise _InvalidError("imageSize")
            _int(size, "width", 512, 2048, required=True, label="imageSize.width")
            _int(size, "height", 512, 2048, required=True, label="imageSize.height")
    else:
        _url(params, "sourceImage")
    control = params.get("controlnet")
    if control is not None:
        if not isinstance(control, dict):
            raise _InvalidError("controlnet")
        if control.get("controlType") not in (*ep.STAR3_CONTROL_TYPES, "subject"):
            raise _InvalidError("controlnet.controlType")
        _url(control, "controlImage", label="controlnet.controlImage")


def _check_custom(kind: SubmitKind, params: Mapping[str, Any], *, qwen: bool) -> None:
    if kind is SubmitKind.CUSTOM_T2I:
        top = 2048 if qwen else 1536
        _int(params, "width", 128, top, required=True)
        _int(params, "height", 128, top, required=True)
        hires = params.get("hiResFixInfo")
        if hires is not None:
            if not isinstance(hires, dict):
                raise _InvalidError("hiResFixInfo")
            _int(hires, "hiresSteps", 1, 30, label="hiResFixInfo.hiresSteps")
            _number(hires, "hiresDenoisingStrength", 0, 1, label="hiResFixInfo.hiresDenoisingStrength")
            _int(hires, "upscaler", 0, 26, label="hiResFixInfo.upscaler")
            _int(hires, "resizedWidth", 128, 2048, label="hiResFixInfo.resizedWidth")
            _int(hires, "resizedHeight", 128, 2048, label="hiResFixInfo.resizedHeight")
    else:
        _url(params, "sourceImage")
        _int(params, "mode", 0, 4)
        if params.get("mode", 0) not in (0, 4):
            raise _InvalidError("mode")
        _number(params, "denoisingStrength", 0, 1)
        _int(params, "resizeMode", 0, 2)
        _int(params, "resizedWidth", 128, 2048)
        _int(params, "resizedHeight", 128, 2048)
        if params.get("mode") == 4:
            inpaint = params.get("inpaintParam")
            if not isinstance(inpaint, dict):
                raise _InvalidError("inpaintParam")
            _url(inpaint, "maskImage", label="inpaintParam.maskImage")
            _int(inpaint, "maskBlur", 0, 64, label="inpaintParam.maskBlur")
            _int(inpaint, "maskPadding", 0, 256, label="inpaintParam.maskPadding")
            _int(inpaint, "maskMode", 0, 1, label="inpaintParam.maskMode")
            _int(inpaint, "inpaintArea", 0, 1, label="inpaintParam.inpaintArea")
            _int(inpaint, "inpaintingFill", 0, 3, label="inpaintParam.inpaintingFill")
    _int(params, "steps", 1, 60)
    _number(params, "cfgScale", 1, 15)
    _int(params, "clipSkip", 1, 12)
    _int(params, "randnSource", 0, 1)
    _int(params, "restoreFaces", 0, 1)
    _int(params, "seed", -1, ep.SEED_MAX)
    sampler = params.get("sampler")
    if sampler is not None and (not _is_int(sampler) or sampler not in ep.VALID_SAMPLERS):
        raise _InvalidError("sampler")
    for name in ("checkPointId", "vaeId"):
        if name in params and not isinstance(params[name], str):
            raise _InvalidError(name)
    loras = params.get("additionalNetwork")
    if loras is not None:
        if not isinstance(loras, list) or len(loras) > 5:
            raise _InvalidError("additionalNetwork")
        for lora in loras:
            if not isinstance(lora, dict) or not isinstance(lora.get("modelId"), str) or not lora["modelId"]:
                raise _InvalidError("additionalNetwork.modelId")
            _number(lora, "weight", -4, 4, label="additionalNetwork.weight")
    units = params.get("controlNet")
    if units is not None:
        if not isinstance(units, list) or len(units) > 4:
            raise _InvalidError("controlNet")
        for unit in units:
            if not isinstance(unit, dict):
                raise _InvalidError("controlNet")
            _url(unit, "sourceImage", label="controlNet.sourceImage")
            _url(unit, "maskImage", required=False, label="controlNet.maskImage")
            _int(unit, "width", 1, 4096, label="controlNet.width")
            _int(unit, "height", 1, 4096, label="controlNet.height")
            _number(unit, "controlWeight", 0, 2, label="controlNet.controlWeight")
            _number(unit, "startingControlStep", 0, 1, label="controlNet.startingControlStep")
            _number(unit, "endingControlStep", 0, 1, label="controlNet.endingControlStep")
            _int(unit, "controlMode", 0, 2, label="controlNet.controlMode")


def _check_kontext(kind: SubmitKind, params: Mapping[str, Any]) -> None:
    model = params.get("model", "max")
    if model not in ("pro", "max"):
        raise _InvalidError("model")
    ratio = params.get("aspectRatio")
    if ratio is not None and ratio not in ep.KONTEXT_ASPECT_RATIOS:
        raise _InvalidError("aspectRatio")
    _number(params, "guidance_scale", 1, 20)
    if kind is SubmitKind.KONTEXT_I2I:
        images = params.get("image_list")
        if not isinstance(images, list) or not 1 <= len(images) <= ep.KONTEXT_MAX_REFERENCES:
            raise _InvalidError("image_list")
        if any(not isinstance(url, str) or not url.strip() for url in images):
            raise _InvalidError("image_list")
        if model == "pro" and len(images) > 1:  # DOC: pro has no multi-image reference
            raise _InvalidError("image_list")


def _size(params: Mapping[str, Any], lo: int, hi: int) -> tuple[int, int] | None:
    """Both of ``width`` and ``height`` (each within [lo, hi]) or neither."""
    if params.get("width") is None and params.get("height") is None:
        return None
    _int(params, "width", lo, hi, required=True)
    _int(params, "height", lo, hi, required=True)
    return int(params["width"]), int(params["height"])


def _urls(params: Mapping[str, Any], name: str, lo: int, hi: int) -> list[str]:
    """An optional list of ``lo``..``hi`` non-empty URL strings."""
    value = params.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not lo <= len(value) <= hi:
        raise _InvalidError(name)
    if any(not isinstance(url, str) or not url.strip() for url in value):
        raise _InvalidError(name)
    return value


def _check_seedream(params: Mapping[str, Any]) -> None:
    model = params.get("model", ep.SEEDREAM_40_MODEL)
    if model not in ep.SEEDREAM_MODELS:
        raise _InvalidError("model")
    _int(params, "promptMagic", 0, 1)
    sequential = params.get("sequentialImageGeneration")
    if sequential is not None and sequential not in ep.SEEDREAM_SEQUENTIAL:
        raise _InvalidError("sequentialImageGeneration")
    if model == ep.SEEDREAM_45_MODEL:  # 4.5: a rule on the total pixels only
        size = _size(params, 1, ep.SEEDREAM_45_PIXELS[1])
        if size is not None and not ep.SEEDREAM_45_PIXELS[0] <= size[0] * size[1] <= ep.SEEDREAM_45_PIXELS[1]:
            raise _InvalidError("width*height")
    else:
        size = _size(params, *ep.SEEDREAM_40_SIDE)
        if size is not None and size[0] * size[1] > ep.SEEDREAM_40_MAX_PIXELS:
            raise _InvalidError("width*height")
    references = _urls(params, "referenceImages", 1, ep.SEEDREAM_MAX_REFERENCES[model])
    if len(references) + int(params.get("imgCount", 1)) > ep.SEEDREAM_MAX_IMAGES:
        raise _InvalidError("imgCount")


def _check_libdream(params: Mapping[str, Any]) -> None:
    if "usePreLlm" in params and not isinstance(params["usePreLlm"], bool):
        raise _InvalidError("usePreLlm")
    size = _size(params, *ep.LIBDREAM_SIDE)
    if size is not None and size[0] * size[1] > ep.LIBDREAM_MAX_PIXELS:
        raise _InvalidError("width*height")
    _number(params, "scale", *ep.LIBDREAM_SCALE)
    _int(params, "seed", -1, ep.SEED_MAX)


def _check_img1(kind: SubmitKind, params: Mapping[str, Any]) -> None:
    ratio = params.get("aspectRatio")
    if ratio is not None and ratio not in ep.IMG1_ASPECT_RATIOS:
        raise _InvalidError("aspectRatio")
    quality = params.get("quality")
    if quality is not None and quality not in ep.IMG1_QUALITIES:
        raise _InvalidError("quality")
    _urls(params, "image_list", 0, ep.IMG1_MAX_REFERENCES)
    if kind is SubmitKind.IMG1_INPAINT:
        _url(params, "image")
        _url(params, "mask")
