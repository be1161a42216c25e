"""Injected faults of the simulator: which requests they hit and what they answer instead."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiohttp import web

from bot.liblib.simulator.replies import (
    MSG_AUTH,
    MSG_CONCURRENCY,
    MSG_FORBIDDEN,
    MSG_POINTS,
    MSG_RATE,
    MSG_SENSITIVE,
    Reply,
    respond,
)
from bot.liblib.simulator.tasks import SimCounters

log = logging.getLogger(__name__)

FAULTS = frozenset(
    {"429", "500", "502", "timeout", "slow", "malformed", "truncated", "100054", "100021", "100052", "401", "403"}
)
FAULT_ROUTES = frozenset({"submit", "status", "image", "any"})  # "any": every API route, not result images

_DEFAULT_FAULT_SLEEP = 30.0
_HTML_ERRORS = {500: "500 Internal Server Error", 502: "502 Bad Gateway"}
_CODE_MESSAGES = {
    "429": MSG_RATE,
    "401": MSG_AUTH,
    "403": MSG_FORBIDDEN,
    "100054": MSG_CONCURRENCY,
    "100021": MSG_POINTS,
    "100052": MSG_SENSITIVE,
}


@dataclass(slots=True)
class Fault:
    name: str
    route: str
    remaining: int
    value: float | None

    @property
    def delay(self) -> float:
        """Seconds a "slow" or "timeout" fault holds its answer."""
        return self.value if self.value is not None else _DEFAULT_FAULT_SLEEP


class FaultQueue:
    """Faults waiting for their requests, taken in the order they were injected."""

    def __init__(self, counters: SimCounters) -> None:
        self._counters = counters
        self._faults: list[Fault] = []

    def add(self, fault: str, *, count: int, route: str, value: float | None) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {sorted(FAULTS)}")
        if route not in FAULT_ROUTES:
            raise ValueError(f"unknown route {route!r}; expected one of {sorted(FAULT_ROUTES)}")
        if count < 1:
            raise ValueError("count must be at least 1")
        self._faults.append(Fault(fault, route, count, value))

    def take(self, kind: str) -> Fault | None:
        """The fault for the next request of ``kind`` (an API route kind, or "image"), if one is pending."""
        for fault in self._faults:
            if fault.route == kind or (fault.route == "any" and kind != "image"):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                self._counters.faults_served += 1
                log.info("injecting fault %s on %s", fault.name, kind)
                return fault
        return None

    def clear(self) -> None:
        self._faults.clear()


def fault_response(fault: Fault, *, http_error_statuses: bool) -> web.Response | None:
    """The response replacing the real one, or None when the fault only delays or cuts it."""
    if fault.name in ("500", "502"):
        title = _HTML_ERRORS[int(fault.name)]
        html = f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center></body></html>"
        return web.Response(status=int(fault.name), text=html, content_type="text/html")
    if fault.name == "malformed":
        return web.Response(text="<html>upstream returned garbage</html> {", content_type="application/json")
    if fault.name in _CODE_MESSAGES:
        headers = {"Retry-After": f"{fault.value:g}"} if fault.name == "429" and fault.value is not None else None
        reply = Reply(int(fault.name), _CODE_MESSAGES[fault.name], headers=headers)
        return respond(reply, http_error_statuses=http_error_statuses)
    return None
