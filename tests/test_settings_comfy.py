"""``[[models.comfyui]]``: the workflows an owner registers, checked at start-up."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from bot.settings import COMFY_DEFAULT_TEMPLATE, Settings, SettingsError, load_settings
from tests.comfy_workflows import TEXT_UUID, image_workflow, prices, text_workflow, video_workflow

EXAMPLE = Path(__file__).parents[1] / "config.example.toml"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LIBLIB_ACCESS_KEY", "LIBLIB_SECRET_KEY", "DISCORD_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("LIBBOT_"):
            monkeypatch.delenv(name)


def settings_with(*workflows: dict[str, Any], priced: bool = True) -> Settings:
    liblib = {"prices": prices(*workflows)} if priced else {}
    return Settings(models={"comfyui": list(workflows)}, liblib=liblib)


def test_workflows_load_with_their_defaults() -> None:
    s = settings_with(text_workflow(), image_workflow(), video_workflow())
    text, image, video = s.models.comfyui
    assert text.workflow_uuid == TEXT_UUID and text.template_uuid == COMFY_DEFAULT_TEMPLATE
    assert text.input_refs()["prompt"] == "6.text" and text.params["3"].inputs["model"] == ["4", 0]
    assert image.image_input == "10.image" and image.image_required
    assert video.video and not text.video
    assert s.liblib.prices["sd15-flow"] == 12
    assert s.liblib.comfy_status_path == "/api/generate/comfy/status"


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"prompt_input": "6"}, 'is not "node_id.input_name"'),
        ({"seed_input": ".seed"}, 'is not "node_id.input_name"'),
        ({"negative_prompt_input": "7. text"}, 'is not "node_id.input_name"'),
        ({"seed_input": "42.seed"}, "node '42' is not in params"),
        ({"prompt_input": "3.positive"}, "is a link to another node's output"),
        ({"negative_prompt_input": "6.text"}, "both name 6.text"),
        ({"width_input": None}, "give both width_input and height_input"),
        ({"params": {}}, "params"),
        ({"workflow_uuid": "has spaces in it"}, "workflow_uuid"),
        ({"name": "Not A Mode"}, "name"),
    ],
)
def test_a_workflow_with_bad_node_refs_is_refused(changes: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValueError, match=re.escape(fragment)):
        settings_with(text_workflow(**changes))


def test_a_size_input_must_hold_a_size() -> None:
    workflow = text_workflow()
    workflow["params"]["5"]["inputs"]["width"] = "wide"
    with pytest.raises(ValueError, match="must be a size in pixels"):
        settings_with(workflow)


def test_workflow_uuid_is_not_a_node_id() -> None:
    workflow = text_workflow()
    workflow["params"]["workflowUuid"] = {"class_type": "X", "inputs": {}}
    with pytest.raises(ValueError, match="not a node id"):
        settings_with(workflow)


@pytest.mark.parametrize("name", ["star3", "kontext-pro", "kontext", "comfy", "custom", "dreamtech-xl"])
def test_names_do_not_clash_with_built_in_modes_or_custom_models(name: str) -> None:
    with pytest.raises(ValueError, match="is taken"):
        settings_with(text_workflow(name=name))


def test_two_workflows_may_not_share_a_name() -> None:
    with pytest.raises(ValueError, match="is taken"):
        settings_with(text_workflow(), image_workflow(name="sd15-flow"))


def test_a_workflow_needs_its_price(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\[liblib.prices\]"):
        settings_with(text_workflow(), priced=False)
    file = tmp_path / "c.toml"
    file.write_text(
        '[[models.comfyui]]\nname = "flow"\nworkflow_uuid = "abc"\nprompt_input = "1.text"\n'
        '[models.comfyui.params.1]\nclass_type = "CLIPTextEncode"\ninputs = { text = "" }\n'
    )
    with pytest.raises(SettingsError) as info:
        load_settings(file)
    message = str(info.value)
    assert '"flow" = N' in message and not message.startswith("invalid settings: :")


def test_the_documented_example_loads(tmp_path: Path) -> None:
    """config.example.toml's commented [[models.comfyui]] block, uncommented and priced, is a valid workflow."""
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    start = lines.index("# [[models.comfyui]]")
    block = []
    for line in lines[start:]:
        if not line.startswith("#"):
            break
        block.append(line.removeprefix("# "))
    file = tmp_path / "c.toml"
    file.write_text('[liblib.prices]\n"anime-flow" = 20\n\n' + "\n".join(block) + "\n")
    settings = load_settings(file)
    [flow] = settings.models.comfyui
    assert flow.name == "anime-flow" and flow.prompt_input == "6.text" and len(flow.params) == 7
    assert flow.count_input == "5.batch_size" and flow.image_input is None


# -- [models] upscale_workflow, upscale_reference_mode, outpaint_mode (issue 20 items 1, 2) --------------------------


def test_the_upscale_workflow_is_a_configured_workflow_that_takes_an_image() -> None:
    s = Settings(
        models={"comfyui": [image_workflow()], "upscale_workflow": "repaint-flow"},
        liblib={"prices": prices(image_workflow())},
    )
    assert s.models.upscale_workflow == "repaint-flow"
    with pytest.raises(ValueError, match=r"upscale_workflow: 'esrgan' is not a \[\[models.comfyui\]\] workflow"):
        Settings(models={"upscale_workflow": "esrgan"})
    with pytest.raises(ValueError, match="takes no image"):
        Settings(
            models={"comfyui": [text_workflow()], "upscale_workflow": "sd15-flow"},
            liblib={"prices": prices(text_workflow())},
        )


def test_the_outpaint_mode_is_img1_inpaint_a_custom_model_or_off() -> None:
    assert Settings().models.outpaint_mode == "img1-inpaint"
    assert Settings(models={"outpaint_mode": "dreamtech-xl"}).models.outpaint_mode == "dreamtech-xl"
    assert Settings(models={"outpaint_mode": ""}).models.outpaint_mode == ""
    with pytest.raises(ValueError, match="outpaint_mode: 'kontext-max' is neither img1-inpaint nor a custom model"):
        Settings(models={"outpaint_mode": "kontext-max"})


def test_the_upscale_reference_mode_is_a_seedream_model_or_off() -> None:
    assert Settings().models.upscale_reference_mode == "seedream-4.5"
    assert Settings(models={"upscale_reference_mode": ""}).models.upscale_reference_mode == ""
    with pytest.raises(ValueError, match="upscale_reference_mode"):
        Settings(models={"upscale_reference_mode": "img1"})
