from __future__ import annotations

import pytest

from bot.errors import InvalidRequestError
from bot.generation.builder import RequestBuilder
from bot.generation.prompt_text import clean_prompt
from bot.settings import ModelsSettings


@pytest.fixture
def builder() -> RequestBuilder:
    return RequestBuilder(ModelsSettings())


def test_defaults_and_normalisation(builder: RequestBuilder) -> None:
    r = builder.build("  a\u200b red   fox \u202e ")
    assert r.prompt == "a red fox"
    assert r.mode == "star3" and r.count == 1


def test_kontext_variants(builder: RequestBuilder) -> None:
    assert builder.build("猫", mode="kontext-max").kontext_model == "max"
    r = builder.build("猫", mode="kontext")
    assert (r.mode, r.kontext_model) == ("kontext", "pro")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "\u200b\u200b  "}, "prompt"),
        ({"prompt": "x" * 2001}, "prompt"),
        ({"prompt": "画一只猫", "mode": "star3"}, "prompt"),
        ({"prompt": "ok", "mode": "nope"}, "mode"),
        ({"prompt": "ok", "count": 0}, "count"),
        ({"prompt": "ok", "count": 5}, "count"),
        ({"prompt": "ok", "seed": -1, "mode": "dreamtech-xl"}, "seed"),
        ({"prompt": "ok", "seed": 10_000_000_000, "mode": "dreamtech-xl"}, "seed"),
        ({"prompt": "ok", "seed": 5, "mode": "star3"}, "seed"),
        ({"prompt": "ok", "steps": 61}, "steps"),
        ({"prompt": "ok", "steps": 10, "mode": "kontext-pro"}, "steps"),
        ({"prompt": "ok", "negative_prompt": "blur", "mode": "star3"}, "negative"),
        ({"prompt": "ok", "aspect_ratio": "5:4"}, "aspect"),
        ({"prompt": "ok", "control_type": "depth"}, "control"),
        ({"prompt": "ok", "control_type": "bogus", "has_control_image": True}, "control_type"),
        ({"prompt": "ok", "control_type": "depth", "has_control_image": True, "mode": "kontext-pro"}, "control"),
        ({"prompt": "ok", "has_image": True, "reference_count": 1, "mode": "kontext-pro"}, "image"),
        ({"prompt": "ok", "strength": 1.5}, "strength"),
    ],
)
def test_refusals_name_the_option(builder: RequestBuilder, kwargs: dict, field: str) -> None:
    prompt = kwargs.pop("prompt")
    with pytest.raises(InvalidRequestError) as info:
        builder.build(prompt, **kwargs)
    assert info.value.field == field
    assert info.value.message


def test_bounds_accepted(builder: RequestBuilder) -> None:
    r = builder.build("x" * 2000, mode="dreamtech-xl", seed=9_999_999_999, steps=60, count=4, negative_prompt="n")
    assert (r.seed, r.steps, r.count) == (9_999_999_999, 60, 4)


def test_clean_prompt_keeps_cjk_and_newlines() -> None:
    assert clean_prompt("画一只猫\n戴帽子") == "画一只猫\n戴帽子"


def test_in_mode_keeps_the_request_or_says_why_that_mode_cannot_take_it(builder: RequestBuilder) -> None:
    vary = builder.build("a fox", mode="kontext-max", count=2).with_(source_images=("https://x/a.png",), strength=0.3)
    pro = builder.in_mode(vary, "kontext-pro")
    assert (pro.mode, pro.kontext_model, pro.count, pro.source_images) == ("kontext", "pro", 2, vary.source_images)
    assert builder.in_mode(vary, "star3").source_images == vary.source_images  # every mode takes one image
    two = vary.with_(source_images=("https://x/a.png", "https://x/b.png"))
    with pytest.raises(InvalidRequestError, match="reference image"):
        builder.in_mode(two, "kontext-pro")  # only Kontext max takes several images
    with pytest.raises(InvalidRequestError, match="English"):
        builder.in_mode(builder.build("一只狐狸", mode="kontext-pro"), "star3")
    with pytest.raises(InvalidRequestError, match="seed"):
        builder.in_mode(builder.build("a fox", mode="dreamtech-xl", seed=7), "kontext-pro")
