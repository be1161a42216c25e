"""Request wire models of LiblibAI's newer families (liblib-api.md §3, §5.8): Seedream 4.0 / 4.5 on
``/seedreamV4``, libDream, and Smart IMG1 generate and inpaint. All poll ``/api/generate/status`` (§6.1).

Like the older families' models they forbid unknown keys and check every documented range client-side, so a
bad value is refused with a sentence naming the field before anything is sent. Wire names are camelCase
except IMG1's ``image_list``, which the API spells in snake_case as Kontext does.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from bot.liblib import endpoints as ep
from bot.liblib.endpoints import Family
from bot.liblib.models._checks import Flag, ImageUrl, ImgCount, Prompt, between, check_url
from bot.liblib.models.requests import SubmitRequest, WireParams

SeedreamModel = Literal["doubao-seedream-4-0-250828", "doubao-seedream-4-5-251128"]
SeedreamSequential = Literal["disabled", "auto"]
Img1AspectRatio = Literal["auto", "square", "portrait", "landscape"]
Img1Quality = Literal["turbo", "normal", "masterpiece"]


# --------------------------------------------------------------------------------------------------
# Size rules, shared with the generation layer's aspect-ratio mapping (and its tests)
# --------------------------------------------------------------------------------------------------


def seedream_size_problem(model: str, width: int, height: int) -> str | None:
    """Why ``width`` x ``height`` breaks the model's documented pixel rules, or None when it fits."""
    if model == ep.SEEDREAM_45_MODEL:
        lo, hi = ep.SEEDREAM_45_PIXELS
        if not lo <= width * height <= hi:
            return f"Seedream 4.5 needs {lo:,} to {hi:,} pixels in all (got {width}×{height} = {width * height:,})"
        return None
    side_lo, side_hi = ep.SEEDREAM_40_SIDE
    if not (side_lo <= width <= side_hi and side_lo <= height <= side_hi):
        return f"Seedream 4.0 sides must be between {side_lo} and {side_hi} (got {width}×{height})"
    if width * height > ep.SEEDREAM_40_MAX_PIXELS:
        return f"Seedream 4.0 takes at most 2048×2048 pixels in all (got {width}×{height} = {width * height:,})"
    return None


def libdream_size_problem(width: int, height: int) -> str | None:
    lo, hi = ep.LIBDREAM_SIDE
    if not (lo <= width <= hi and lo <= height <= hi):
        return f"libDream sides must be between {lo} and {hi} (got {width}×{height})"
    if width * height > ep.LIBDREAM_MAX_PIXELS:
        return f"libDream takes at most 2048×2048 pixels in all (got {width}×{height} = {width * height:,})"
    return None


# --------------------------------------------------------------------------------------------------
# Seedream 4.0 / 4.5
# --------------------------------------------------------------------------------------------------


class SeedreamParams(WireParams):
    model: SeedreamModel = ep.SEEDREAM_40_MODEL
    prompt: Prompt
    prompt_magic: Flag | None = None
    sequential_image_generation: SeedreamSequential | None = None
    width: int | None = None
    height: int | None = None
    img_count: Annotated[int, between("image count", 1, ep.SEEDREAM_MAX_IMAGES)] = 1
    reference_images: list[ImageUrl] | None = None

    @model_validator(mode="after")
    def _rules(self) -> SeedreamParams:
        if (self.width is None) != (self.height is None):
            raise ValueError("give both a width and a height")
        if self.width is not None and self.height is not None:
            problem = seedream_size_problem(self.model, self.width, self.height)
            if problem:
                raise ValueError(problem)
        refs = len(self.reference_images or ())
        most = ep.SEEDREAM_MAX_REFERENCES[self.model]
        if self.reference_images is not None and not 1 <= refs <= most:
            raise ValueError(f"{self.model} takes 1 to {most} reference images (got {refs})")
        if refs + self.img_count > ep.SEEDREAM_MAX_IMAGES:
            raise ValueError(
                f"Seedream takes at most {ep.SEEDREAM_MAX_IMAGES} images in all, references and outputs "
                f"(got {refs} + {self.img_count})"
            )
        return self


def seedream(
    prompt: str,
    *,
    model: SeedreamModel = ep.SEEDREAM_40_MODEL,
    width: int | None = None,
    height: int | None = None,
    img_count: int = 1,
    prompt_magic: bool = False,
    reference_images: list[str] | None = None,
) -> SubmitRequest:
    """Seedream 4.x text-to-image, with reference images when given. Several outputs are asked for as a
    sequential (group) generation."""
    params = SeedreamParams.model_validate(
        {
            "model": model,
            "prompt": prompt,
            "prompt_magic": 1 if prompt_magic else None,
            "sequential_image_generation": "auto" if img_count > 1 else "disabled",
            "width": width,
            "height": height,
            "img_count": img_count,
            "reference_images": reference_images or None,
        }
    )
    return SubmitRequest(Family.SEEDREAM, ep.SEEDREAM, ep.TEMPLATE_SEEDREAM, params)


# --------------------------------------------------------------------------------------------------
# libDream
# --------------------------------------------------------------------------------------------------


class LibDreamParams(WireParams):
    prompt: Prompt
    use_pre_llm: bool | None = None
    width: int = ep.LIBDREAM_DEFAULT_SIDE
    height: int = ep.LIBDREAM_DEFAULT_SIDE
    scale: Annotated[float, between("scale", *ep.LIBDREAM_SCALE)] = 2.5
    seed: Annotated[int, between("seed", -1, ep.LIBDREAM_SEED_MAX)] | None = None
    img_count: ImgCount = 1

    @model_validator(mode="after")
    def _size(self) -> LibDreamParams:
        problem = libdream_size_problem(self.width, self.height)
        if problem:
            raise ValueError(problem)
        return self


def libdream(
    prompt: str,
    *,
    width: int = ep.LIBDREAM_DEFAULT_SIDE,
    height: int = ep.LIBDREAM_DEFAULT_SIDE,
    img_count: int = 1,
    use_pre_llm: bool = False,
    scale: float | None = None,
    seed: int | None = None,
) -> SubmitRequest:
    params = LibDreamParams.model_validate(
        {
            "prompt": prompt,
            "use_pre_llm": True if use_pre_llm else None,
            "width": width,
            "height": height,
            "img_count": img_count,
            **({"scale": scale} if scale is not None else {}),
            "seed": seed,
        }
    )
    return SubmitRequest(Family.LIBDREAM, ep.LIBDREAM, ep.TEMPLATE_LIBDREAM, params)


# --------------------------------------------------------------------------------------------------
# Smart IMG1
# --------------------------------------------------------------------------------------------------


class Img1GenerateParams(WireParams):
    prompt: Prompt
    aspect_ratio: Img1AspectRatio = "auto"
    img_count: ImgCount = 1
    quality: Img1Quality = "normal"
    image_list: list[ImageUrl] | None = Field(default=None, alias="image_list")

    @model_validator(mode="after")
    def _references(self) -> Img1GenerateParams:
        refs = len(self.image_list or ())
        if refs > ep.IMG1_MAX_REFERENCES:
            raise ValueError(f"IMG1 takes at most {ep.IMG1_MAX_REFERENCES} reference images (got {refs})")
        return self


class Img1InpaintParams(Img1GenerateParams):
    image: Annotated[str, check_url("image")]
    mask: Annotated[str, check_url("mask")]


def img1_generate(
    prompt: str,
    *,
    aspect_ratio: Img1AspectRatio = "auto",
    img_count: int = 1,
    quality: Img1Quality = "normal",
    image_list: list[str] | None = None,
) -> SubmitRequest:
    params = Img1GenerateParams(
        prompt=prompt, aspect_ratio=aspect_ratio, img_count=img_count, quality=quality, image_list=image_list or None
    )
    return SubmitRequest(Family.IMG1, ep.IMG1_GENERATE, ep.TEMPLATE_IMG1_GENERATE, params)


def img1_inpaint(
    prompt: str,
    image: str,
    mask: str,
    *,
    aspect_ratio: Img1AspectRatio = "auto",
    img_count: int = 1,
    quality: Img1Quality = "normal",
    image_list: list[str] | None = None,
) -> SubmitRequest:
    """Repaint the white part of ``mask`` (white on black) in ``image``; each at most 4 MB (§9)."""
    params = Img1InpaintParams(
        prompt=prompt,
        image=image,
        mask=mask,
        aspect_ratio=aspect_ratio,
        img_count=img_count,
        quality=quality,
        image_list=image_list or None,
    )
    return SubmitRequest(Family.IMG1, ep.IMG1_INPAINT, ep.TEMPLATE_IMG1_INPAINT, params)
