"""bot/generation/routing.py: where a request goes when its member named no mode."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.billing.prices import price_per_image
from bot.errors import InvalidRequestError
from bot.generation.builder import RequestBuilder
from bot.generation.families import family_of, make_submit_builder, mode_name
from bot.generation.routing import family_submit_routes, mode_allowed, route_request
from bot.liblib import endpoints as ep
from bot.models import GenerationRequest
from bot.settings import DEFAULT_PRICES, ModelsSettings, Settings


@pytest.fixture
def builder() -> RequestBuilder:
    return RequestBuilder(ModelsSettings())


def price(request: GenerationRequest) -> int:
    return price_per_image(DEFAULT_PRICES, mode_name(request))


def route(builder: RequestBuilder, prompt: str, default: str = "star3", **kw: object) -> GenerationRequest:
    def build(mode: str) -> GenerationRequest:
        return builder.build(prompt, mode=mode)

    return route_request(builder, build, prompt=prompt, negative=None, default=default, price=price, **kw)  # type: ignore[arg-type]


def cheapest(builder: RequestBuilder, prompt: str, *, but: tuple[str, ...] = ("star3",)) -> str:
    """What the rule picks by itself: the cheapest mode that takes the prompt (ties: the listed order)."""
    able = []
    for n, info in enumerate(builder.modes()):
        try:
            request = builder.build(prompt, mode=info.name)
        except InvalidRequestError:
            continue
        if info.name not in but:
            able.append((price(request), n, info.name))
    return min(able)[2]


def test_a_chinese_prompt_leaves_an_english_only_default_for_the_cheapest_mode_that_takes_it(
    builder: RequestBuilder,
) -> None:
    request = route(builder, "一只猫在月光下")
    assert mode_name(request) == cheapest(builder, "一只猫在月光下")
    assert (request.routed_from, request.routed_language) == ("star3", "zh")
    assert not builder.mode_info(mode_name(request)).english_only


def test_english_prompts_and_chinese_capable_defaults_stay(builder: RequestBuilder) -> None:
    request = route(builder, "a portrait of 李白 in the style of ukiyo-e 🌸")
    assert (request.mode, request.routed_from) == ("star3", None)
    request = route(builder, "一只猫在月光下", default="kontext-max")
    assert (mode_name(request), request.routed_from) == ("kontext-max", None)


def test_the_language_defaults_come_first_and_must_take_the_language(builder: RequestBuilder) -> None:
    assert mode_name(route(builder, "猫", preferred=("kontext-max", None))) == "kontext-max"
    assert mode_name(route(builder, "猫", preferred=(None, "kontext-max"))) == "kontext-max"
    # An English-only or unknown language default is skipped, not obeyed.
    assert mode_name(route(builder, "猫", preferred=("dreamtech-xl", "nonsense"))) == cheapest(builder, "猫")


def test_only_allowed_modes_are_candidates(builder: RequestBuilder) -> None:
    assert mode_name(route(builder, "猫", allowed=("star3", "kontext-max"))) == "kontext-max"
    assert mode_name(route(builder, "猫", allowed=("star3", "kontext"))) == "kontext-pro"  # the family's name
    assert mode_name(route(builder, "猫", preferred=("kontext-max",), allowed=("star3", "kontext-pro"))) == (
        "kontext-pro"
    )


def test_with_nowhere_to_go_the_member_gets_the_refusal(builder: RequestBuilder) -> None:
    with pytest.raises(InvalidRequestError, match="English"):
        route(builder, "一只猫", allowed=("star3", "dreamtech-xl"))


def test_an_unavailable_default_falls_back_to_the_next_allowed_mode(builder: RequestBuilder) -> None:
    def down(*modes: str) -> Callable[[str], bool]:
        return lambda mode: mode not in modes

    request = route(builder, "a red fox", available=down("star3"))
    assert mode_name(request) == cheapest(builder, "a red fox")
    assert (request.routed_from, request.routed_language) == ("star3", None)
    request = route(builder, "a red fox", available=down("star3"), allowed=("star3", "dreamtech-xl", "kontext"))
    assert mode_name(request) == "dreamtech-xl"  # 8 points, before Kontext
    request = route(builder, "a red fox", available=down("star3"), allowed=("star3", "kontext-max"))
    assert mode_name(request) == "kontext-max"
    # Chinese and unavailable: the language decides the candidates.
    request = route(builder, "一只猫", available=down("star3", "kontext-pro"), allowed=("star3", "kontext"))
    assert (mode_name(request), request.routed_language) == ("kontext-max", "zh")
    # Nothing else: the request stays in its default (the admission refuses it as unavailable).
    assert route(builder, "a fox", available=down("star3"), allowed=("star3",)).mode == "star3"


def test_a_refusal_by_the_default_is_kept_when_the_prompt_is_english(builder: RequestBuilder) -> None:
    with pytest.raises(InvalidRequestError, match="unknown mode"):
        route(builder, "a fox", default="nonsense")


def test_mode_allowed_by_full_or_family_name() -> None:
    request = GenerationRequest(mode="kontext", prompt="x", kontext_model="max")
    assert mode_allowed(None, request)
    assert mode_allowed(("kontext-max",), request) and mode_allowed(("kontext",), request)
    assert not mode_allowed(("kontext-pro",), request)
    old = GenerationRequest(mode="kontext", prompt="x")  # stored before the builder named the model
    assert mode_allowed(("kontext-pro",), old, "pro")


def test_family_submit_routes_follow_the_configured_families() -> None:
    settings = Settings()
    routes = family_submit_routes(RequestBuilder(settings.models), make_submit_builder(settings))
    assert routes[str(family_of("star3"))] == (ep.STAR3_TEXT2IMG, ep.STAR3_IMG2IMG)
    assert routes[str(family_of("kontext-pro"))] == (ep.KONTEXT_TEXT2IMG, ep.KONTEXT_IMG2IMG)
    assert routes[str(family_of("dreamtech-xl"))] == (ep.WEBUI_TEXT2IMG, ep.WEBUI_IMG2IMG)
    moved = Settings(liblib={"star3_use_ultra_routes": False})
    routes = family_submit_routes(RequestBuilder(moved.models), make_submit_builder(moved))
    assert routes[str(family_of("star3"))] == (ep.WEBUI_TEXT2IMG, ep.WEBUI_IMG2IMG)


def test_an_owner_workflow_is_a_language_default_only_when_named_one() -> None:
    from bot.settings import ComfyWorkflow
    from tests.comfy_workflows import text_workflow

    models = ModelsSettings(comfyui=[ComfyWorkflow.model_validate(text_workflow())])
    builder = RequestBuilder(models)
    name = models.comfyui[0].name
    assert not builder.mode_info(name).english_only

    def cheap_workflow(request: GenerationRequest) -> int:
        return 1 if mode_name(request) == name else price(request)

    def build(mode: str) -> GenerationRequest:
        return builder.build("一只猫", mode=mode)

    routed = route_request(builder, build, prompt="一只猫", negative=None, default="star3", price=cheap_workflow)
    assert mode_name(routed) != name and not builder.mode_info(mode_name(routed)).english_only
    chosen = route_request(
        builder, build, prompt="一只猫", negative=None, default="star3", preferred=(name,), price=cheap_workflow
    )
    assert mode_name(chosen) == name and chosen.routed_language == "zh"
