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
