"""A request through a ComfyUI workflow: the member's values land on the configured node inputs, nothing else."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bot.billing import price_per_image
from bot.errors import InvalidRequestError
from bot.generation.actions import supports_upscale, supports_vary
from bot.generation.builder import RequestBuilder
from bot.generation.comfy import comfy_mode, workflow_name
from bot.generation.families import family_of, make_submit_builder, mode_name
from bot.liblib.endpoints import Family
from bot.models import GenerationRequest
from bot.settings import ModelsSettings, Settings
from tests.comfy_workflows import IMAGE_UUID, TEXT_PARAMS, TEXT_UUID, image_workflow, prices, text_workflow


@pytest.fixture
def settings() -> Settings:
    workflows = (text_workflow(), image_workflow())
    return Settings(models={"comfyui": list(workflows)}, liblib={"prices": prices(*workflows, points=15)})


@pytest.fixture
def builder(settings: Settings) -> RequestBuilder:
    return RequestBuilder(settings.models)


def body_of(settings: Settings, request: GenerationRequest) -> dict[str, Any]:
    submit = make_submit_builder(settings)(request)
    assert submit.family is Family.COMFY and submit.path == "/api/generate/comfyui/app"
    return submit.to_body()


def test_the_mode_names_the_workflow(builder: RequestBuilder) -> None:
    request = builder.build("a lighthouse", mode="sd15-flow")
    assert request.mode == comfy_mode("sd15-flow") == "comfy:sd15-flow"
    assert workflow_name(request.mode) == "sd15-flow" and workflow_name("star3") is None
    assert family_of(request.mode) is Family.COMFY
    assert mode_name(request) == "sd15-flow"  # what members, admins, prices and the allowed list use
    assert not supports_vary(request)
    # Its images are upscaled through the reference mode (Seedream 4.5); with none configured, not at all.
    assert supports_upscale(request, ModelsSettings())
    assert not supports_upscale(request, ModelsSettings(upscale_reference_mode=""))


def test_prompt_seed_size_and_count_land_on_their_inputs_and_nothing_else_changes(
    settings: Settings, builder: RequestBuilder
) -> None:
    request = builder.build(
        "a lighthouse at dusk", mode="sd15-flow", negative_prompt="fog", seed=1234, aspect_ratio="16:9", count=2
    )
    body = body_of(settings, request)
    assert body["templateUuid"] == "4df2efa0f18d46dc9758803e478eb51c"
    params = body["generateParams"]
    assert params["workflowUuid"] == TEXT_UUID
    assert params["6"]["inputs"]["text"] == "a lighthouse at dusk"
    assert params["7"]["inputs"]["text"] == "fog"
    assert params["3"]["inputs"]["seed"] == 1234
    width, height = params["5"]["inputs"]["width"], params["5"]["inputs"]["height"]
    assert width > height and width % 64 == 0 and height % 64 == 0
    assert abs(width * height - 512 * 768) < 0.2 * 512 * 768  # about the configured area
    assert params["5"]["inputs"]["batch_size"] == 2
    expected = copy.deepcopy(TEXT_PARAMS)
    expected["6"]["inputs"]["text"] = "a lighthouse at dusk"
    expected["7"]["inputs"]["text"] = "fog"
    expected["3"]["inputs"]["seed"] = 1234
    expected["5"]["inputs"] |= {"width": width, "height": height, "batch_size": 2}
    assert {k: v for k, v in params.items() if k != "workflowUuid"} == expected  # links and the rest untouched
    assert settings.models.comfyui[0].params["6"].inputs["text"] == ""  # the settings are never written to


def test_without_options_the_configured_values_stay_and_the_seed_is_fresh(
    settings: Settings, builder: RequestBuilder
) -> None:
    request = builder.build("a cat", mode="sd15-flow")
    first = body_of(settings, request)["generateParams"]
    second = body_of(settings, request)["generateParams"]
    assert first["5"]["inputs"] == {"width": 512, "height": 768, "batch_size": 1}
    assert first["7"]["inputs"]["text"] == "blurry"  # the configured negative prompt when none is given
    assert first["3"]["inputs"]["seed"] != second["3"]["inputs"]["seed"]  # Reroll really rerolls


def test_an_image_workflow_gets_the_source_image(settings: Settings, builder: RequestBuilder) -> None:
    request = builder.build("repaint it", mode="repaint-flow", has_image=True)
    body = body_of(settings, request.with_(source_images=("https://cdn.example/a.png",)))
    params = body["generateParams"]
    assert params["workflowUuid"] == IMAGE_UUID
    assert params["10"] == {"class_type": "LoadImage", "inputs": {"image": "https://cdn.example/a.png"}}
    assert params["11"]["inputs"]["pixels"] == ["10", 0]


def test_what_a_workflow_does_not_take_is_refused_before_any_io(builder: RequestBuilder) -> None:
    with pytest.raises(InvalidRequestError, match="needs an input image"):
        builder.build("repaint it", mode="repaint-flow")
    with pytest.raises(InvalidRequestError, match="does not take an input image"):
        builder.build("a cat", mode="sd15-flow", has_image=True)
    with pytest.raises(InvalidRequestError, match="negative prompt"):
        builder.build("a cat", mode="repaint-flow", has_image=True, negative_prompt="fog")
    with pytest.raises(InvalidRequestError, match="one image per request"):
        builder.build("a cat", mode="repaint-flow", has_image=True, count=2)
    with pytest.raises(InvalidRequestError, match="one size only"):
        builder.build("a cat", mode="repaint-flow", has_image=True, aspect_ratio="16:9")
    with pytest.raises(InvalidRequestError, match="step count"):
        builder.build("a cat", mode="sd15-flow", steps=10)


def test_the_submit_builder_refuses_a_missing_image_and_a_removed_workflow(settings: Settings) -> None:
    build = make_submit_builder(settings)
    with pytest.raises(InvalidRequestError, match="needs an input image"):
        build(GenerationRequest(mode="comfy:repaint-flow", prompt="p"))
    with pytest.raises(InvalidRequestError, match="no longer configured"):
        build(GenerationRequest(mode="comfy:gone-flow", prompt="p"))


def test_modes_list_the_workflows_with_what_they_take(builder: RequestBuilder) -> None:
    modes = {m.name: m for m in builder.modes()}
    text, image = modes["sd15-flow"], modes["repaint-flow"]
    assert text.workflow and text.description.startswith("Plain SD 1.5")
    assert not text.takes_image and text.max_count == 4 and text.supports_seed and text.supports_aspect
    assert image.takes_image and image.needs_image and image.max_count == 1 and not image.supports_aspect


def test_the_price_is_the_workflows_own(settings: Settings, builder: RequestBuilder) -> None:
    request = builder.build("a cat", mode="sd15-flow")
    assert price_per_image(settings.liblib.prices, mode_name(request)) == 15
