"""Modes LiblibAI does not serve on this account: remembered for a cool-off, and probed without spending.

LiblibAI answers a route it does not serve (or no longer serves: the Star-3 ``/ultra`` routes, liblib-api.md
§11.2, §13) with ``{"code": 100000, "msg": "No static resource <path>."}`` or HTTP 404
(``LiblibRouteNotServedError``). A job whose submit gets that answer marks its mode unavailable
(``ModeAvailability``) for ``[liblib] unavailable_cooloff_seconds``: meanwhile jobs in that mode are refused at
admission, queued ones are failed (and refunded) without a request, and a member's default falls back to another
mode (``bot.generation.routing``). After the cool-off the next job tries the route again.

``RouteProbeMixin.probe_route`` asks whether a route is served without spending points: an empty body is refused
by validation (100050/100000) on a served route before any charge, and an unknown route answers "No static
resource" (``liblib-bot check`` probes every configured family's submit routes).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from bot.liblib.base import BaseClient
from bot.liblib.errors import LiblibInvalidParameterError, LiblibRouteNotServedError

log = logging.getLogger(__name__)

DEFAULT_COOLOFF = 1800.0  # seconds


class ModeAvailability:
    """Which modes LiblibAI does not serve right now (in this process), each until its cool-off ends."""

    def __init__(self, cooloff: float = DEFAULT_COOLOFF, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.cooloff = cooloff
        self._clock = clock
        self._until: dict[str, float] = {}  # mode -> when it may be tried again (clock)

    def is_available(self, mode: str) -> bool:
        until = self._until.get(mode)
        return until is None or self._clock() >= until

    def mark_unavailable(self, mode: str, *, route: str = "") -> bool:
        """``mode``'s route is not served: refuse it for the cool-off. True (and one WARNING) when this starts a
        marking; a mode already marked keeps its end (jobs submitted before the marking end the same way)."""
        if not self.is_available(mode):
            return False
        self._until[mode] = self._clock() + self.cooloff
        log.warning(
            "LiblibAI does not serve mode %s on this account (route %s): its jobs are refused for %.0f s; "
            "members without a mode of their own get another one (`liblib-bot check` lists the routes served)",
            mode,
            route or "?",
            self.cooloff,
        )
        return True

    def retry_in(self, mode: str) -> float | None:
        """Seconds until ``mode`` is tried again, or None when it is available."""
        until = self._until.get(mode)
        left = None if until is None else until - self._clock()
        return left if left is not None and left > 0 else None

    def states(self) -> dict[str, bool]:
        """Every mode ever marked -> whether it is unavailable now (the ``liblib_bot_mode_unavailable`` gauge)."""
        return {mode: not self.is_available(mode) for mode in sorted(self._until)}


class RouteProbeMixin(BaseClient):
    """``probe_route``: whether LiblibAI serves a submit route, at no cost."""

    async def probe_route(self, path: str) -> bool:
        """POST an empty body to ``path`` (through the submit rate limiter): True when the route answers with a
        validation refusal (served), False for "No static resource" or HTTP 404 (not served). Other errors
        (keys, rate limit, transport) are raised: they say nothing about the route."""
        try:
            await self._request(path, {}, kind="submit", parse=_anything)
        except LiblibRouteNotServedError:
            return False
        except LiblibInvalidParameterError:
            return True  # 100050 / 100000 "参数无效": validated, so served (and nothing was created)
        log.warning("liblib %s accepted an empty body", path)
        return True


def _anything(data: Any) -> Any:
    return data


async def probe_routes(client: RouteProbeMixin, paths: Iterable[str]) -> dict[str, bool]:
    """Whether LiblibAI serves each of ``paths`` (each asked once, in order, through the submit rate limiter);
    raises what ``probe_route`` raises (keys, rate limit, transport)."""
    served: dict[str, bool] = {}
    for path in paths:
        if path not in served:
            served[path] = await client.probe_route(path)
    return served
