"""U1–U4: which family draws the Upscale of each mode's result, at what size, from which request (no I/O)."""

from __future__ import annotations

import pytest

from bot.generation.families import make_submit_builder
from bot.generation.instructions import UPSCALE, upscale_prompt
from bot.generation.sizes import SEEDREAM_40, SEEDREAM_45, scaled_size
from bot.generation.upscaling import Route, UpscaleRoute, upscale_request, upscale_route, upscale_size
from bot.liblib import endpoints as ep
from bot.models import GenerationRequest, Job, JobResult, JobState, ResultImage
from bot.settings import ComfyNode, ComfyWorkflow, ModelsSettings, Settings

OWNER = 1


def job(request: GenerationRequest, seeds: tuple[int, ...] = (11, 12)) -> Job:
    return Job(
        id="abcdef0123",
        user_id=OWNER,
        channel_id=5,
        guild_id=6,
        request=request,
        state=JobState.SUCCEEDED,
        result=JobResult(images=tuple(ResultImage(url=f"https://r/{s}.png", seed=s) for s in seeds)),
    )


def upscaler_workflow() -> ComfyWorkflow:
    return ComfyWorkflow(
        name="esrgan",
        workflow_uuid="up1",
        prompt_input="6.text",
        image_input="10.image",
        width_input="5.width",
        height_input="5.height",
        params={
            "5": ComfyNode(class_type="ImageScale", inputs={"width": 2048, "height": 2048}),
            "6": ComfyNode(class_type="CLIPTextEncode", inputs={"text": ""}),
            "10": ComfyNode(class_type="LoadImage", inputs={"image": ""}),
        },
    )


@pytest.mark.parametrize(
    ("request_", "route"),
    [
        (GenerationRequest(mode="star3", prompt="p"), UpscaleRoute("star3", Route.ENLARGED)),
        (GenerationRequest(mode="star3", prompt="p", source_images=("u",)), UpscaleRoute("star3", Route.ENLARGED)),
        (GenerationRequest(mode="dreamtech-xl", prompt="p"), UpscaleRoute("dreamtech-xl", Route.IMG2IMG)),
        (GenerationRequest(mode="kontext", prompt="p"), UpscaleRoute("seedream-4.5", Route.REFERENCE)),
        (GenerationRequest(mode="seedream", prompt="p"), UpscaleRoute("seedream-4.5", Route.REFERENCE)),
        (GenerationRequest(mode="libdream", prompt="p"), UpscaleRoute("seedream-4.5", Route.REFERENCE)),
        (GenerationRequest(mode="img1", prompt="p"), UpscaleRoute("seedream-4.5", Route.REFERENCE)),
        (GenerationRequest(mode="img1-inpaint", prompt="p"), UpscaleRoute("seedream-4.5", Route.REFERENCE)),
        (GenerationRequest(mode="comfy:flow", prompt="p"), UpscaleRoute("seedream-4.5", Route.REFERENCE)),
        (GenerationRequest(mode="gone-model", prompt="p"), UpscaleRoute("seedream-4.5", Route.REFERENCE)),
        (GenerationRequest(mode="star3", prompt="p", hires=True), None),  # already upscaled
    ],
)
def test_each_mode_upscales_through_what_the_api_allows(request_: GenerationRequest, route: UpscaleRoute) -> None:
    assert upscale_route(request_, ModelsSettings()) == route


def test_without_a_reference_mode_only_star3_and_custom_models_upscale() -> None:
    models = ModelsSettings(upscale_reference_mode="")
    assert upscale_route(GenerationRequest(mode="kontext", prompt="p"), models) is None
    assert upscale_route(GenerationRequest(mode="star3", prompt="p"), models) is not None


def test_an_upscale_workflow_takes_every_modes_results() -> None:
    models = ModelsSettings(comfyui=[upscaler_workflow()], upscale_workflow="esrgan")
    for mode in ("star3", "dreamtech-xl", "kontext", "seedream", "comfy:esrgan"):
        assert upscale_route(GenerationRequest(mode=mode, prompt="p"), models) == UpscaleRoute(
            "comfy:esrgan", Route.WORKFLOW
        )


@pytest.mark.parametrize(
    ("route", "size", "target"),
    [
        (UpscaleRoute("star3", Route.ENLARGED), (1024, 1024), (2048, 2048)),
        (UpscaleRoute("star3", Route.ENLARGED), (768, 1024), (1536, 2048)),
        (UpscaleRoute("star3", Route.ENLARGED), (1280, 720), (2048, 1152)),  # 1.6x: the 2048 cap
        (UpscaleRoute("star3", Route.ENLARGED), (2048, 2048), None),  # already at Star-3's largest
        (UpscaleRoute("dreamtech-xl", Route.IMG2IMG), (1024, 1024), (2048, 2048)),
        (UpscaleRoute("seedream-4.5", Route.REFERENCE), (2048, 2048), (4096, 4096)),
        (UpscaleRoute("seedream-4.5", Route.REFERENCE), (1024, 1024), (2048, 2048)),
        (UpscaleRoute("seedream", Route.REFERENCE), (2048, 2048), None),  # 4.0: at most 2048² pixels
        (UpscaleRoute("seedream", Route.REFERENCE), (1024, 1024), (2048, 2048)),
        (UpscaleRoute("comfy:esrgan", Route.WORKFLOW), (1024, 1536), (1360, 2048)),
    ],
)
def test_twice_the_size_capped_by_the_familys_limits(
    route: UpscaleRoute, size: tuple[int, int], target: tuple[int, int] | None
) -> None:
    assert upscale_size(route, *size) == target


@pytest.mark.parametrize("size", [(1024, 1024), (2720, 1536), (1024, 1536), (1328, 1328), (640, 2048), (4096, 512)])
def test_seedream_targets_fit_the_models_pixel_rules(size: tuple[int, int]) -> None:
    for rules in (SEEDREAM_40, SEEDREAM_45):
        target = scaled_size(*size, 2.0, rules)
        assert target is None or rules.allows(*target)
        if target is not None:
            assert abs(target[0] / target[1] - size[0] / size[1]) < 0.05  # the picture keeps its shape


def test_a_custom_models_upscale_is_img2img_on_the_images_own_seed_at_a_low_strength() -> None:
    parent = job(GenerationRequest(mode="dreamtech-xl", prompt="p", count=2, negative_prompt="n", steps=30))
    up = upscale_request(parent, 1, UpscaleRoute("dreamtech-xl", Route.IMG2IMG), strength=0.3)
    assert up.source_images == ("https://r/12.png",) and up.seed == 12 and up.strength == 0.3
    assert up.hires and up.count == 1 and up.negative_prompt == "n" and up.steps == 30
    submit = make_submit_builder(Settings())(up.with_(width=2048, height=2048))
    body = submit.to_body()["generateParams"]
    assert submit.path == ep.WEBUI_IMG2IMG
    assert (body["resizedWidth"], body["resizedHeight"], body["denoisingStrength"], body["seed"]) == (
        2048,
        2048,
        0.3,
        12,
    )


def test_a_star3_upscale_is_its_img2img_from_the_enlarged_image() -> None:
    parent = job(GenerationRequest(mode="star3", prompt="p", count=2, steps=20, aspect_ratio="3:4"))
    up = upscale_request(parent, 0, UpscaleRoute("star3", Route.ENLARGED), strength=0.3)
    assert up.source_images == ("https://r/11.png",) and up.seed is None and up.strength is None
    submit = make_submit_builder(Settings())(up.with_(source_images=("https://up/big.png",)))
    assert submit.path == ep.STAR3_IMG2IMG
    assert submit.to_body()["generateParams"]["sourceImage"] == "https://up/big.png"


def test_a_reference_upscale_tells_seedream_to_keep_every_detail_at_the_target_size() -> None:
    parent = job(GenerationRequest(mode="kontext", prompt="一只狐狸", kontext_model="max", aspect_ratio="3:4"))
    up = upscale_request(parent, 0, UpscaleRoute("seedream-4.5", Route.REFERENCE), strength=0.3)
    assert (up.mode, up.prompt, up.kontext_model, up.aspect_ratio, up.count) == (
        "seedream-4.5",
        "一只狐狸",
        None,
        None,
        1,
    )
    submit = make_submit_builder(Settings())(up.with_(width=1792, height=2400, source_images=("https://up/a.png",)))
    params = submit.to_body()["generateParams"]
    assert params["prompt"] == upscale_prompt("一只狐狸") and params["prompt"].startswith(UPSCALE)
    assert (params["width"], params["height"], params["referenceImages"]) == (1792, 2400, ["https://up/a.png"])
    assert params["model"] == ep.SEEDREAM_45_MODEL


def test_the_upscale_instruction_leaves_room_within_the_prompt_limit() -> None:
    assert len(upscale_prompt("x" * 2000)) <= ep.PROMPT_MAX_CHARS
