"""Wire models of the newer families (liblib-api.md §5.8): bodies with their wire names, and every documented
range refused client-side with a sentence naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from bot.liblib import endpoints as ep
from bot.liblib.endpoints import Family
from bot.liblib.models import (
    Img1GenerateParams,
    Img1InpaintParams,
    LibDreamParams,
    SeedreamParams,
    explain,
    img1_generate,
    img1_inpaint,
    libdream,
    seedream,
)

URL = "https://liblibai-airship-temp.oss-cn-beijing.aliyuncs.com/aliyun-cn-prod/0123.png"
V45 = ep.SEEDREAM_45_MODEL


def test_seedream_body_uses_the_wire_names() -> None:
    request = seedream("一只猫", width=2048, height=1536, img_count=3, prompt_magic=True, reference_images=[URL])
    assert (request.family, request.path, request.template_uuid) == (Family.SEEDREAM, ep.SEEDREAM, ep.TEMPLATE_SEEDREAM)
    assert request.img_count == 3
    assert request.to_body()["generateParams"] == {
        "model": ep.SEEDREAM_40_MODEL,
        "prompt": "一只猫",
        "promptMagic": 1,
        "sequentialImageGeneration": "auto",
        "width": 2048,
        "height": 1536,
        "imgCount": 3,
        "referenceImages": [URL],
    }
    single = seedream("x", model=V45).to_body()["generateParams"]
    assert single == {"model": V45, "prompt": "x", "sequentialImageGeneration": "disabled", "imgCount": 1}


def test_libdream_body_uses_the_wire_names() -> None:
    request = libdream("a fox", width=1024, height=768, img_count=2, use_pre_llm=True, scale=4.5, seed=7)
    assert (request.family, request.path, request.template_uuid) == (Family.LIBDREAM, ep.LIBDREAM, ep.TEMPLATE_LIBDREAM)
    assert request.to_body()["generateParams"] == {
        "prompt": "a fox",
        "usePreLlm": True,
        "width": 1024,
        "height": 768,
        "scale": 4.5,
        "seed": 7,
        "imgCount": 2,
    }
    assert libdream("x").to_body()["generateParams"] == {
        "prompt": "x",
        "width": 1328,
        "height": 1328,
        "scale": 2.5,
        "imgCount": 1,
    }


def test_img1_bodies_use_the_wire_names() -> None:
    generate = img1_generate("a cat", aspect_ratio="portrait", img_count=2, quality="masterpiece", image_list=[URL])
    assert (generate.family, generate.path, generate.template_uuid) == (
        Family.IMG1,
        ep.IMG1_GENERATE,
        ep.TEMPLATE_IMG1_GENERATE,
    )
    assert generate.to_body()["generateParams"] == {
        "prompt": "a cat",
        "aspectRatio": "portrait",
        "imgCount": 2,
        "quality": "masterpiece",
        "image_list": [URL],  # snake_case on the wire, as Kontext's
    }
    inpaint = img1_inpaint("a red scarf", URL, URL + "?mask")
    assert (inpaint.path, inpaint.template_uuid) == (ep.IMG1_INPAINT, ep.TEMPLATE_IMG1_INPAINT)
    assert inpaint.to_body()["generateParams"] == {
        "prompt": "a red scarf",
        "aspectRatio": "auto",
        "imgCount": 1,
        "quality": "normal",
        "image": URL,
        "mask": URL + "?mask",
    }


SEEDREAM_OK: dict[str, Any] = {"prompt": "x", "width": 2048, "height": 2048}


@pytest.mark.parametrize(
    ("model", "data", "words"),
    [
        (SeedreamParams, {**SEEDREAM_OK, "width": 2064}, "at most 2048×2048 pixels"),
        (SeedreamParams, {**SEEDREAM_OK, "width": 4112, "height": 512}, "sides must be between 512 and 4096"),
        (SeedreamParams, {**SEEDREAM_OK, "height": 496}, "sides must be between 512 and 4096"),
        (SeedreamParams, {**SEEDREAM_OK, "height": None}, "both a width and a height"),
        (SeedreamParams, {**SEEDREAM_OK, "model": V45, "width": 1024, "height": 1024}, "3,686,400 to 16,777,216"),
        (SeedreamParams, {**SEEDREAM_OK, "model": V45, "width": 4096, "height": 4112}, "3,686,400 to 16,777,216"),
        (SeedreamParams, {**SEEDREAM_OK, "model": "doubao-seedream-3-0"}, "model"),
        (SeedreamParams, {**SEEDREAM_OK, "img_count": 16}, "image count must be between 1 and 15"),
        (SeedreamParams, {**SEEDREAM_OK, "reference_images": [URL] * 11}, "1 to 10 reference images"),
        (SeedreamParams, {**SEEDREAM_OK, "model": V45, "width": 2560, "height": 1440, "reference_images": [URL] * 15},
         "1 to 14 reference images"),
        (SeedreamParams, {**SEEDREAM_OK, "reference_images": [URL] * 4, "img_count": 12}, "at most 15 images in all"),
        (SeedreamParams, {**SEEDREAM_OK, "reference_images": ["file:///etc/passwd"]}, "image address"),
        (SeedreamParams, {**SEEDREAM_OK, "prompt": "x" * 2001}, "prompt"),
        (LibDreamParams, {"prompt": "x", "width": 3073}, "sides must be between 512 and 3072"),
        (LibDreamParams, {"prompt": "x", "width": 3072, "height": 1376}, "at most 2048×2048 pixels"),
        (LibDreamParams, {"prompt": "x", "scale": 0.5}, "scale must be between 1 and 10"),
        (LibDreamParams, {"prompt": "x", "seed": 2**31}, "seed must be between -1 and 2147483647"),
        (LibDreamParams, {"prompt": "x", "img_count": 5}, "image count must be between 1 and 4"),
        (LibDreamParams, {"prompt": ""}, "prompt must not be empty"),
        (Img1GenerateParams, {"prompt": "x", "quality": "ultra"}, "quality"),
        (Img1GenerateParams, {"prompt": "x", "aspect_ratio": "16:9"}, "aspect_ratio"),
        (Img1GenerateParams, {"prompt": "x", "image_list": [URL] * 9}, "at most 8 reference images"),
        (Img1GenerateParams, {"prompt": "x", "img_count": 5}, "image count must be between 1 and 4"),
        (Img1InpaintParams, {"prompt": "x", "image": URL}, "mask"),
        (Img1InpaintParams, {"prompt": "x", "image": "not a url", "mask": URL}, "image must be a full public"),
    ],
)  # fmt: skip
def test_refusals_name_the_field(model: type, data: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    assert words in explain(info.value)


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (SeedreamParams, {"prompt": "x", "width": 4096, "height": 1024}),  # product exactly 2048²
        (SeedreamParams, {"prompt": "x", "width": 512, "height": 512, "img_count": 15}),
        (SeedreamParams, {"prompt": "x", "reference_images": [URL] * 10, "img_count": 5}),
        (SeedreamParams, {"prompt": "x", "model": V45, "width": 2560, "height": 1440, "reference_images": [URL] * 14}),
        (SeedreamParams, {"prompt": "x", "model": V45, "width": 4096, "height": 4096}),
        (LibDreamParams, {"prompt": "x", "width": 3072, "height": 1365, "scale": 10, "seed": 2**31 - 1}),
        (LibDreamParams, {"prompt": "x", "width": 512, "height": 512, "img_count": 4, "seed": -1}),
        (Img1GenerateParams, {"prompt": "x", "image_list": [URL] * 8, "img_count": 4}),
        (Img1InpaintParams, {"prompt": "x", "image": URL, "mask": URL, "image_list": [URL] * 8}),
    ],
)
def test_values_at_the_edges_are_accepted(model: type, data: dict[str, Any]) -> None:
    model.model_validate(data)


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ValidationError):
        SeedreamParams.model_validate({"prompt": "x", "negativePrompt": "blur"})
