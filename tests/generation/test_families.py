from __future__ import annotations

import pytest

from bot.errors import InvalidRequestError
from bot.generation.builder import RequestBuilder
from bot.generation.families import (
    BUILTIN_MODES,
    family_of,
    keeps_source_shape,
    kontext_mode,
    make_submit_builder,
    mode_name,
    planned_long_side,
    price_name,
    size_for_ratio,
)
from bot.generation.variation import INSTRUCTIONS, Variation
from bot.liblib import endpoints as ep
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


SOURCE = ("http://x/a.png",)


def test_vary_strengths_of_custom_models_come_from_the_settings(build) -> None:
    def strength(build, **changes) -> float:
        request = GenerationRequest(mode="dreamtech-xl", prompt="fox", source_images=SOURCE, **changes)
        return build(request).to_body()["generateParams"]["denoisingStrength"]

    assert strength(build, variation="subtle") == 0.35  # [actions] vary_strength
    assert strength(build, variation="strong") == 0.75  # [actions] vary_strong_strength
    assert strength(build) == 0.75  # no Vary, no strength: LiblibAI's default
    assert strength(build, variation="strong", strength=0.2) == 0.2  # a member's own strength wins
    tuned = make_submit_builder(Settings(actions={"vary_strength": 0.2, "vary_strong_strength": 0.9}))
    assert (strength(tuned, variation="subtle"), strength(tuned, variation="strong")) == (0.2, 0.9)


def test_kontext_varies_by_instruction(build) -> None:
    def prompt(variation: str | None, text: str = "a red fox") -> str:
        request = GenerationRequest(
            mode="kontext", kontext_model="pro", prompt=text, source_images=SOURCE, variation=variation
        )
        return build(request).to_body()["generateParams"]["prompt"]

    subtle, strong = prompt("subtle"), prompt("strong")
    assert subtle == INSTRUCTIONS[Variation.SUBTLE] + " Original prompt: a red fox"
    assert strong == INSTRUCTIONS[Variation.STRONG] + " Original prompt: a red fox"
    assert "small details" in subtle and "significantly different" in strong
    assert prompt(None) == "a red fox"  # an ordinary image-to-image request is not reworded
    long = prompt("strong", "x" * 2000)
    assert len(long) == 2000 and long.startswith(INSTRUCTIONS[Variation.STRONG]) and long.endswith("x…")


@pytest.mark.parametrize(("mode", "images"), [("seedream", "referenceImages"), ("img1", "image_list")])
def test_seedream_and_img1_vary_by_instruction_with_the_image_as_reference(build, mode: str, images: str) -> None:
    base = GenerationRequest(mode=mode, prompt="a red fox", source_images=SOURCE)
    for variation in Variation:
        params = build(base.with_(variation=str(variation))).to_body()["generateParams"]
        assert params["prompt"] == INSTRUCTIONS[variation] + " Original prompt: a red fox"
        assert params[images] == list(SOURCE)
    assert build(base).to_body()["generateParams"]["prompt"] == "a red fox"  # no Vary: not reworded
    text2img = build(GenerationRequest(mode=mode, prompt="a red fox", variation="strong")).to_body()
    assert text2img["generateParams"]["prompt"] == "a red fox"  # no image to vary: nothing to say


def test_star3_varies_by_img2img_or_an_ipadapter_reference(build) -> None:
    base = GenerationRequest(mode="star3", prompt="fox", aspect_ratio="3:4", source_images=SOURCE)
    subtle = build(base.with_(variation="subtle"))
    assert subtle.path == "/api/generate/webui/img2img/ultra"  # no strength there (liblib-api.md §5.2)
    assert subtle.to_body()["generateParams"]["sourceImage"] == SOURCE[0]
    strong = build(base.with_(variation="strong"))
    assert strong.path == "/api/generate/webui/text2img/ultra"
    params = strong.to_body()["generateParams"]
    assert params["controlnet"] == {"controlType": "IPAdapter", "controlImage": SOURCE[0]}
    assert params["aspectRatio"] == "portrait" and "sourceImage" not in params


def test_unknown_custom_model_is_a_friendly_error(build) -> None:
    with pytest.raises(InvalidRequestError):
        build(GenerationRequest(mode="gone", prompt="fox"))


@pytest.mark.parametrize(("ratio", "expected"), [("1:1", (1024, 1024)), ("16:9", (1344, 768)), ("9:16", (768, 1344))])
def test_size_for_ratio(ratio: str, expected: tuple[int, int]) -> None:
    assert size_for_ratio(ratio, 1024 * 1024, lo=512, hi=2048) == expected


# -- the newer families (liblib-api.md §5.8) ---------------------------------------------------------------------

REF = "https://liblibai-airship-temp.oss-cn-beijing.aliyuncs.com/aliyun-cn-prod/ref.png"


def test_builtin_modes_and_their_families() -> None:
    from bot.settings import BUILTIN_MODE_NAMES

    assert set(BUILTIN_MODES) <= BUILTIN_MODE_NAMES  # the settings refuse these as model and workflow names
    assert family_of("seedream") is family_of("seedream-4.5") is Family.SEEDREAM
    assert family_of("libdream") is Family.LIBDREAM
    assert family_of("img1") is family_of("img1-inpaint") is Family.IMG1
    assert family_of("seedream-xl") is Family.CUSTOM  # only the exact names are built in


def test_seedream_maps_aspect_enhance_and_references(build) -> None:
    request = GenerationRequest(
        mode="seedream", prompt="一只狐狸", aspect_ratio="16:9", count=12, enhance=True, source_images=(REF,) * 3
    )
    sub = build(request)
    assert (sub.family, sub.path, sub.template_uuid) == (Family.SEEDREAM, ep.SEEDREAM, ep.TEMPLATE_SEEDREAM)
    params = sub.to_body()["generateParams"]
    assert params["model"] == ep.SEEDREAM_40_MODEL
    assert (params["width"], params["height"]) == (2720, 1536)
    assert (params["promptMagic"], params["imgCount"], params["sequentialImageGeneration"]) == (1, 12, "auto")
    assert params["referenceImages"] == [REF] * 3
    v45 = build(GenerationRequest(mode="seedream-4.5", prompt="x", aspect_ratio="9:21")).to_body()["generateParams"]
    assert v45["model"] == ep.SEEDREAM_45_MODEL and "promptMagic" not in v45 and "referenceImages" not in v45
    assert 3_686_400 <= v45["width"] * v45["height"] <= 16_777_216 and v45["width"] < v45["height"]


def test_libdream_maps_enhance_seed_and_size(build) -> None:
    request = GenerationRequest(mode="libdream", prompt="a fox", enhance=True, seed=42, aspect_ratio="3:4", count=2)
    sub = build(request)
    assert (sub.path, sub.template_uuid) == (ep.LIBDREAM, ep.TEMPLATE_LIBDREAM)
    params = sub.to_body()["generateParams"]
    assert (params["usePreLlm"], params["seed"], params["imgCount"], params["scale"]) == (True, 42, 2, 2.5)
    assert (params["width"], params["height"]) == (1152, 1536)
    plain = build(GenerationRequest(mode="libdream", prompt="x")).to_body()["generateParams"]
    assert "usePreLlm" not in plain and "seed" not in plain and (plain["width"], plain["height"]) == (1328, 1328)


def test_img1_maps_quality_aspect_and_references(build) -> None:
    request = GenerationRequest(
        mode="img1", prompt="a cat", quality="masterpiece", aspect_ratio="16:9", source_images=(REF,) * 3
    )
    sub = build(request)
    assert (sub.path, sub.template_uuid) == (ep.IMG1_GENERATE, ep.TEMPLATE_IMG1_GENERATE)
    params = sub.to_body()["generateParams"]
    assert (params["quality"], params["aspectRatio"], params["image_list"]) == ("masterpiece", "landscape", [REF] * 3)
    plain = build(GenerationRequest(mode="img1", prompt="x")).to_body()["generateParams"]
    assert (plain["quality"], plain["aspectRatio"]) == ("normal", "auto") and "image_list" not in plain


def test_img1_inpaint_sends_the_image_the_mask_and_further_references(build) -> None:
    request = GenerationRequest(
        mode="img1-inpaint", prompt="a red scarf", source_images=(REF, REF + "?2"), mask_image=REF + "?mask"
    )
    sub = build(request)
    assert (sub.path, sub.template_uuid) == (ep.IMG1_INPAINT, ep.TEMPLATE_IMG1_INPAINT)
    params = sub.to_body()["generateParams"]
    assert (params["image"], params["mask"], params["image_list"]) == (REF, REF + "?mask", [REF + "?2"])
    assert params["aspectRatio"] == "auto"
    with pytest.raises(InvalidRequestError) as info:
        build(GenerationRequest(mode="img1-inpaint", prompt="x", source_images=(REF,)))
    assert info.value.field == "mask"


def test_prices_and_planned_sizes_of_the_newer_families() -> None:
    assert price_name(GenerationRequest(mode="seedream-4.5", prompt="p")) == "seedream-4.5"
    assert price_name(GenerationRequest(mode="img1", prompt="p")) == "img1-normal"
    assert price_name(GenerationRequest(mode="img1-inpaint", prompt="p", quality="turbo")) == "img1-turbo"
    assert price_name(GenerationRequest(mode="kontext", prompt="p"), "max") == "kontext-max"
    assert planned_long_side(GenerationRequest(mode="seedream", prompt="p", aspect_ratio="16:9")) == 2720
    assert planned_long_side(GenerationRequest(mode="libdream", prompt="p")) == 1328
    assert planned_long_side(GenerationRequest(mode="img1", prompt="p", aspect_ratio="1:1")) == 1024
    assert planned_long_side(GenerationRequest(mode="star3", prompt="p")) is None
    assert keeps_source_shape("seedream") and not keeps_source_shape("img1-inpaint")
