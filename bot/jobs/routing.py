"""ModeRouter: the mode of a member's request, from what they named or else from their default and the server's
rules (``bot.generation.routing`` decides; this gathers what it needs: the admission's mode rules, the modes
LiblibAI serves now, the prices)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.errors import BotError
from bot.generation.builder import RequestBuilder
from bot.generation.routing import Build, mode_allowed, route_request
from bot.jobs.admission import Admission, Requester
from bot.liblib.availability import ModeAvailability
from bot.models import GenerationRequest


class ModeRouter:
    def __init__(
        self,
        admission: Admission,
        builder: RequestBuilder,
        *,
        default_mode: str,
        non_english_default: str | None = None,
        availability: ModeAvailability | None = None,
        price: Callable[[GenerationRequest], int] = lambda _request: 0,
    ) -> None:
        self._admission = admission
        self._builder = builder
        self._default_mode = default_mode  # [models] default_mode
        self._non_english_default = non_english_default  # [models] non_english_default
        self._availability = availability
        self._price = price  # points per image (the admission's price table)

    async def request(
        self,
        requester: Requester,
        build: Build,
        *,
        prompt: str,
        negative: str | None,
        chosen: str | None,
        default: str | None = None,
    ) -> GenerationRequest:
        """The member's request (``build``: in a mode, no I/O) in the mode they ``chosen`` (a mode option or a
        ``--mode`` flag), which is never overridden; else in their ``default`` (the resolution's: a /prefer mode,
        a style's, the server's; None: the server's or the bot's) or where the routing sends it."""
        if chosen:
            return build(chosen)
        rules = await self._admission.mode_rules(requester)
        return route_request(
            self._builder,
            build,
            prompt=prompt,
            negative=negative,
            default=default or rules.default_mode or self._default_mode,
            preferred=(rules.non_english_default, self._non_english_default),
            allowed=rules.allowed_models,
            available=self._available,
            price=self._price,
        )

    async def cheapest(self, requester: Requester, build: Build, modes: Sequence[str]) -> GenerationRequest:
        """The request (``build``: in a mode, no I/O) in the cheapest of ``modes`` that the server allows, LiblibAI
        serves and that takes it (ties: the first listed), e.g. /blend's when its member named no mode. None fits:
        the request in the first of ``modes``, whose refusal the member then reads."""
        rules = await self._admission.mode_rules(requester)
        fits = []
        for n, mode in enumerate(modes):
            try:
                request = build(mode)
            except BotError:
                continue  # that mode cannot take it
            if self._available(mode) and mode_allowed(rules.allowed_models, request):
                fits.append((self._price(request), n, request))
        if not fits:
            return build(modes[0])
        return min(fits, key=lambda fit: (fit[0], fit[1]))[2]

    def _available(self, mode: str) -> bool:
        return self._availability is None or self._availability.is_available(mode)
