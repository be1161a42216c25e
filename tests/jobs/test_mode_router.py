"""ModeRouter.cheapest: /blend's mode when its member named none (the cheapest allowed, served mode that takes it)."""

from __future__ import annotations

from bot.billing.prices import price_per_image
from bot.generation.blending import blend_modes, blend_request
from bot.generation.builder import RequestBuilder
from bot.generation.families import price_name
from bot.jobs.admission import ModeRules, OpenAdmission, Requester
from bot.jobs.routing import ModeRouter
from bot.models import GenerationRequest
from bot.settings import DEFAULT_PRICES, ModelsSettings

MEMBER = Requester(user_id=1, guild_id=2, channel_id=3)


class Allowing(OpenAdmission):
    def __init__(self, allowed: tuple[str, ...] | None) -> None:
        self.allowed = allowed

    async def mode_rules(self, requester: Requester) -> ModeRules:
        return ModeRules(allowed_models=self.allowed)


class Served:
    def __init__(self, *down: str) -> None:
        self.down = set(down)

    def is_available(self, mode: str) -> bool:
        return mode not in self.down


def router(allowed: tuple[str, ...] | None = None, *down: str) -> tuple[ModeRouter, RequestBuilder]:
    builder = RequestBuilder(ModelsSettings())
    price = lambda r: price_per_image(DEFAULT_PRICES, price_name(r))  # noqa: E731
    served = Served(*down)
    return ModeRouter(Allowing(allowed), builder, default_mode="star3", availability=served, price=price), builder


def blend(builder: RequestBuilder, count: int):
    return lambda mode: blend_request(builder, "mix", mode=mode, aspect_ratio=None, count=count)


def test_the_modes_that_blend_take_that_many_references() -> None:
    builder = RequestBuilder(ModelsSettings())
    assert blend_modes(builder, 2) == ["kontext-max", "seedream", "seedream-4.5", "img1"]
    assert blend_modes(builder, 5) == ["seedream", "seedream-4.5", "img1"]  # Kontext max: 4 at most


async def test_the_cheapest_allowed_served_mode_wins() -> None:
    route, builder = router()
    chosen: GenerationRequest = await route.cheapest(MEMBER, blend(builder, 3), blend_modes(builder, 3))
    assert chosen.mode == "seedream"  # 20 points, before 4.5 (25), IMG1 (30), Kontext max (58)
    route, builder = router(("img1", "kontext-max"))
    assert (await route.cheapest(MEMBER, blend(builder, 3), blend_modes(builder, 3))).mode == "img1"
    route, builder = router(None, "seedream")  # LiblibAI does not serve Seedream 4.0 now
    assert (await route.cheapest(MEMBER, blend(builder, 3), blend_modes(builder, 3))).mode == "seedream-4.5"


async def test_nothing_allowed_leaves_the_first_mode_for_its_refusal() -> None:
    route, builder = router(("star3",))
    chosen = await route.cheapest(MEMBER, blend(builder, 2), blend_modes(builder, 2))
    assert chosen.mode == "kontext" and chosen.kontext_model == "max"
