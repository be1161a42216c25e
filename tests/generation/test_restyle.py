"""Restyle helpers: mode choice, validation before I/O, metadata checks, aspect ratio."""

from __future__ import annotations

import pytest

from bot.errors import InvalidRequestError
from bot.generation.builder import RequestBuilder
from bot.generation.restyle import build_restyle_request, nearest_aspect_ratio, restyle_mode
from bot.settings import ModelsSettings


@pytest.fixture
def builder() -> RequestBuilder:
    return RequestBuilder(ModelsSettings())


@pytest.mark.parametrize(
    ("size", "ratio"),
    [((1024, 1024), "1:1"), ((300, 400), "3:4"), ((1920, 1080), "16:9"), ((400, 300), "4:3"), ((500, 1300), "9:21")],
)
def test_nearest_aspect_ratio(size: tuple[int, int], ratio: str) -> None:
    assert nearest_aspect_ratio(*size) == ratio


def test_mode_defaults_to_restyle_default_and_upgrades_to_max_for_several_images(builder: RequestBuilder) -> None:
    assert restyle_mode(builder, "kontext-pro", None, 1) == "kontext-pro"
    assert restyle_mode(builder, "kontext-pro", None, 3) == "kontext-max"
    assert restyle_mode(builder, "kontext", None, 2) == "kontext-max"  # plain kontext means pro by default
    assert restyle_mode(builder, "kontext-pro", "kontext-pro", 2) == "kontext-pro"  # the member's choice stands
    assert restyle_mode(builder, "star3", None, 2) == "star3"


def test_strength_only_where_the_mode_has_it(builder: RequestBuilder) -> None:
    request = build_restyle_request(builder, "oil", mode="dreamtech-xl", strength=0.3)
    assert request.strength == 0.3 and request.mode == "dreamtech-xl"
    for mode in ("kontext-pro", "kontext-max", "star3"):
        with pytest.raises(InvalidRequestError, match="no strength setting") as info:
            build_restyle_request(builder, "oil", mode=mode, strength=0.3)
        assert "dreamtech-xl" in info.value.message


def test_mask_needs_a_custom_model(builder: RequestBuilder) -> None:
    assert build_restyle_request(builder, "scarf", mode="dreamtech-xl", has_mask=True).mode == "dreamtech-xl"
    with pytest.raises(InvalidRequestError, match="mask"):
        build_restyle_request(builder, "scarf", mode="kontext-max", has_mask=True)


def test_reference_count_follows_the_mode(builder: RequestBuilder) -> None:
    assert build_restyle_request(builder, "mix", mode="kontext-max", reference_count=3).mode == "kontext"
    with pytest.raises(InvalidRequestError, match="at most 4"):
        build_restyle_request(builder, "mix", mode="kontext-max", reference_count=4)
    with pytest.raises(InvalidRequestError, match="at most 1"):
        build_restyle_request(builder, "mix", mode="star3", reference_count=1)


def test_the_newer_modes_in_restyles(builder: RequestBuilder) -> None:
    assert build_restyle_request(builder, "mix", mode="seedream", reference_count=9).mode == "seedream"
    assert build_restyle_request(builder, "scarf", mode="img1-inpaint", has_mask=True).mode == "img1-inpaint"
    with pytest.raises(InvalidRequestError, match="/restyle"):
        build_restyle_request(builder, "scarf", mode="img1-inpaint")  # no mask
    with pytest.raises(InvalidRequestError, match="does not take an input image"):
        build_restyle_request(builder, "scarf", mode="libdream")
