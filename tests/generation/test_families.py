from __future__ import annotations

import pytest

from bot.errors import InvalidRequestError
from bot.generation.builder import RequestBuilder
from bot.generation.families import family_of, kontext_mode, make_submit_builder, mode_name, size_for_ratio
from bot.liblib.endpoints import Family
from bot.models import GenerationRequest
from bot.settings import ModelsSettings, Settings


@pytest.fixture
def build():
    return make_submit_builder(Settings())


def test_family_of() -> None:
    assert family_of("star3") is Family.STAR3
    assert family_of("kontext") is Family.KONTEXT
    assert family_of("dreamtech-xl") is Family.CUSTOM


def test_one_kontext_naming_with_the_configured_default() -> None:
    assert kontext_mode("max") == "kontext-max"
    assert mode_name(GenerationRequest(mode="star3", prompt="p"), "max") == "star3"
    assert mode_name(GenerationRequest(mode="kontext", prompt="p", kontext_model="pro"), "max") == "kontext-pro"
    unnamed = GenerationRequest(mode="kontext", prompt="p")  # hand-made or stored long ago: no model named
    assert mode_name(unnamed, "max") == "kontext-max"  # the configured default, not "pro"
    assert mode_name(unnamed) == "kontext"  # no default in reach: the name members type for the default
    builder = RequestBuilder(ModelsSettings(kontext_default_model="max"))
    assert builder.resolve_mode("kontext") == "kontext-max"
    request = builder.build("p", mode="kontext")
    assert mode_name(request) == mode_name(request, "pro") == "kontext-max"  # built requests name their model


def test_star3_named_and_sized_ratios(build) -> None:
    body = build(GenerationRequest(mode="star3", prompt="fox", aspect_ratio="3:4", count=2)).to_body()
    assert body["templateUuid"] == "5d7e67009b344550bc1aa6ccbfa1d7f4"
    assert body["generateParams"] == {"prompt": "fox", "aspectRatio": "portrait", "imgCount": 2}
    sized = build(GenerationRequest(mode="star3", prompt="fox", aspect_ratio="21:9")).to_body()["generateParams"]
    assert "aspectRatio" not in sized and sized["imageSize"]["width"] > sized["imageSize"]["height"]


def test_star3_img2img_and_control(build) -> None:
    req = GenerationRequest(
        mode="star3",
        prompt="fox",
        source_images=("http://x/a.png",),
        control_type="depth",
        control_image="http://x/c.png",
    )
    sub = build(req)
    assert sub.path == "/api/generate/webui/img2img/ultra"
    assert sub.to_body()["generateParams"]["controlnet"] == {"controlType": "depth", "controlImage": "http://x/c.png"}


def test_kontext_wire_names(build) -> None:
    req = GenerationRequest(mode="kontext", kontext_model="max", prompt="猫", source_images=("http://x/a.png",) * 2)
    body = build(req).to_body()
    assert body["templateUuid"] == "1c0a9712b3d84e1b8a9f49514a46d88c"
    assert body["generateParams"]["image_list"] == ["http://x/a.png"] * 2
    assert body["generateParams"]["model"] == "max"


def test_custom_model_defaults_and_overrides(build) -> None:
    req = GenerationRequest(
        mode="dreamtech-xl", prompt="fox", negative_prompt="blur", seed=42, steps=30, aspect_ratio="16:9"
    )
    params = build(req).to_body()["generateParams"]
    assert params["checkPointId"] == "0ea388c7eb854be3ba3c6f65aac6bfd3"
    assert (params["seed"], params["steps"], params["sampler"], params["negativePrompt"]) == (42, 30, 15, "blur")
    assert params["width"] > params["height"] and params["width"] <= 1536


def test_custom_upscale_uses_hires_fix_and_img2img_strength(build) -> None:
    up = build(GenerationRequest(mode="dreamtech-xl", prompt="fox", hires=True)).to_body()["generateParams"]
    assert up["hiResFixInfo"]["resizedWidth"] == 2048
    img = build(
        GenerationRequest(mode="dreamtech-xl", prompt="fox", source_images=("http://x/a.png",), strength=0.3)
    ).to_body()["generateParams"]
    assert img["denoisingStrength"] == 0.3 and img["mode"] == 0


def test_unknown_custom_model_is_a_friendly_error(build) -> None:
    with pytest.raises(InvalidRequestError):
        build(GenerationRequest(mode="gone", prompt="fox"))


@pytest.mark.parametrize(("ratio", "expected"), [("1:1", (1024, 1024)), ("16:9", (1344, 768)), ("9:16", (768, 1344))])
def test_size_for_ratio(ratio: str, expected: tuple[int, int]) -> None:
    assert size_for_ratio(ratio, 1024 * 1024, lo=512, hi=2048) == expected
