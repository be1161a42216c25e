"""Which result buttons the owner's settings offer, and at what price: U1–U4 (``bot.generation.upscaling``: there is
a route, and its mode's [liblib.prices] entry is the cost its label shows) and Zoom Out, Make Square and Pan
(``bot.generation.outpainting``). No I/O: views are built from it at delivery and re-posts alike.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field

import discord

from bot.billing.prices import price_per_image
from bot.generation.families import price_name
from bot.generation.outpainting import outpaint_kinds
from bot.generation.upscaling import upscale_route
from bot.media.outpaint import Outpaint
from bot.models import GenerationRequest, Job
from bot.settings import DEFAULT_PRICES, ModelsSettings


@dataclass(frozen=True, slots=True)
class ResultOffers:
    models: ModelsSettings = field(default_factory=ModelsSettings)
    prices: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PRICES))

    def upscale_points(self, job: Job) -> int | None:
        """The points an Upscale of one of ``job``'s images is estimated at; None when it offers none."""
        route = upscale_route(job.request, self.models)
        if route is None:
            return None
        return price_per_image(self.prices, price_name(GenerationRequest(mode=route.mode, prompt="")))

    def outpaints(self, job: Job) -> list[Outpaint]:
        """The Zoom Out, Make Square and Pan buttons offered under ``job``'s result."""
        return outpaint_kinds(job, self.models.outpaint_mode)


_offers: weakref.WeakKeyDictionary[discord.Client, ResultOffers] = weakref.WeakKeyDictionary()


def register_offers(client: discord.Client, offers: ResultOffers) -> None:
    """What ``client``'s result views offer (re-posts build their views from the clicked interaction's client)."""
    _offers[client] = offers


def offers_for(client: discord.Client) -> ResultOffers:
    return _offers.get(client) or ResultOffers()
