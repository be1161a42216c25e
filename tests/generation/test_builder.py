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


# -- the newer families' options ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"mode": "star3", "enhance": True}, "enhance", "seedream, seedream-4.5, libdream"),
        ({"mode": "kontext-pro", "enhance": True}, "enhance", "cannot enhance"),
        ({"mode": "seedream", "quality": "turbo"}, "quality", "img1"),
        ({"mode": "img1", "quality": "ultra"}, "quality", "turbo, normal, masterpiece"),
        ({"mode": "star3", "count": 5}, "count", "between 1 and 4"),
        ({"mode": "img1", "count": 5}, "count", "between 1 and 4"),
        ({"mode": "seedream", "count": 16}, "count", "between 1 and 15"),
        ({"mode": "seedream", "count": 12, "has_image": True, "reference_count": 3}, "count", "at most 11"),
        ({"mode": "seedream", "has_image": True, "reference_count": 10}, "image", "at most 10 reference"),
        ({"mode": "seedream-4.5", "has_image": True, "reference_count": 14}, "image", "at most 14 reference"),
        ({"mode": "libdream", "has_image": True}, "image", "does not take an input image"),
        ({"mode": "libdream", "seed": 2**31}, "seed", "between 0 and 2147483647"),
        ({"mode": "seedream", "seed": 1}, "seed", "does not accept a seed"),
        ({"mode": "img1", "has_image": True, "reference_count": 8}, "image", "at most 8 reference"),
        ({"mode": "img1", "has_image": True, "has_mask": True}, "mask", "img1-inpaint"),
        ({"mode": "img1-inpaint"}, "mask", "/restyle"),
        ({"mode": "img1-inpaint", "has_image": True}, "mask", "/restyle"),
        ({"mode": "seedream", "negative_prompt": "blur"}, "negative", "negative prompt"),
        ({"mode": "libdream", "steps": 20}, "steps", "step count"),
    ],
)
def test_newer_family_refusals_name_the_option(builder: RequestBuilder, kwargs: dict, field: str, words: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        builder.build("a cat", **kwargs)
    assert info.value.field == field
    assert words in info.value.text.render("en-US")


def test_newer_family_requests_carry_their_options(builder: RequestBuilder) -> None:
    seedream = builder.build("一只在雪地里的红狐狸", mode="seedream", count=15, enhance=True)
    assert (seedream.mode, seedream.count, seedream.enhance, seedream.kontext_model) == ("seedream", 15, True, None)
    assert builder.build("x", mode="seedream-4.5", has_image=True, reference_count=13, count=1).mode == "seedream-4.5"
    libdream = builder.build("猫", mode="libdream", seed=2**31 - 1, enhance=True)
    assert (libdream.seed, libdream.enhance) == (2**31 - 1, True)
    img1 = builder.build("cat", mode="img1", quality="masterpiece", has_image=True, reference_count=7, count=4)
    assert (img1.quality, img1.count) == ("masterpiece", 4)
    inpaint = builder.build("a scarf", mode="img1-inpaint", has_image=True, has_mask=True, quality="turbo")
    assert (inpaint.mode, inpaint.quality) == ("img1-inpaint", "turbo")


def test_modes_offered_where_they_fit(builder: RequestBuilder) -> None:
    names = [m.name for m in builder.modes()]
    assert {"seedream", "seedream-4.5", "libdream", "img1", "img1-inpaint"} <= set(names)
    assert "img1-inpaint" not in [m.name for m in builder.imagine_modes()]  # it needs a mask: /restyle
    assert "libdream" not in [m.name for m in builder.restyle_modes()]  # the prompt only
    assert "img1-inpaint" in [m.name for m in builder.restyle_modes()]
    assert "img1-inpaint" not in [m.name for m in builder.restyle_modes(with_mask=False)]
    assert not any(m.english_only for m in builder.modes() if m.name in {"seedream", "libdream", "img1"})


def test_mode_capabilities_agree_with_the_result_buttons(builder: RequestBuilder) -> None:
    """/models says what Vary and Upscale do for each mode; the buttons decide from the request: they agree."""
    from bot.generation.actions import supports_upscale, supports_vary
    from bot.models import GenerationRequest

    for info in builder.modes():
        mode = "kontext" if info.name.startswith("kontext") else info.name
        request = GenerationRequest(mode=mode, prompt="p")
        assert info.supports_vary == supports_vary(request), info.name
        assert info.supports_upscale == supports_upscale(request, ModelsSettings()), info.name


def test_in_mode_keeps_the_request_or_says_why_that_mode_cannot_take_it(builder: RequestBuilder) -> None:
    vary = builder.build("a fox", mode="kontext-max", count=2).with_(source_images=("https://x/a.png",), strength=0.3)
    pro = builder.in_mode(vary, "kontext-pro")
    assert (pro.mode, pro.kontext_model, pro.count, pro.source_images) == ("kontext", "pro", 2, vary.source_images)
    assert builder.in_mode(vary, "star3").source_images == vary.source_images  # every mode takes one image
    strong = vary.with_(variation="strong", strength=None)
    assert builder.in_mode(strong, "dreamtech-xl").variation == "strong"  # as strong in the other mode's terms
    two = vary.with_(source_images=("https://x/a.png", "https://x/b.png"))
    with pytest.raises(InvalidRequestError, match="reference image"):
        builder.in_mode(two, "kontext-pro")  # only Kontext max takes several images
    with pytest.raises(InvalidRequestError, match="English"):
        builder.in_mode(builder.build("一只狐狸", mode="kontext-pro"), "star3")
    with pytest.raises(InvalidRequestError, match="seed"):
        builder.in_mode(builder.build("a fox", mode="dreamtech-xl", seed=7), "kontext-pro")
