"""Dispatcher election: among the bot processes sharing one database, exactly one submits to and polls
LiblibAI (so the account's rate and concurrency limits are enforced in one place).

- The ``Lease`` port comes from the store (``store.lease(name, ttl_seconds=...)``): a row with an expiry
  set by the database clock on PostgreSQL, always held on SQLite (one process owns the file).
- ``LeaderElector`` runs the loop: renew (or try to acquire) every ``interval``; it believes it leads
  only until ``ttl`` after the last successful renewal was *sent*, so it stops before anyone else can
  take over. That belief is not the fence: a process can stall (a pause, a slow store) between checking it
  and acting. ``fence`` is the holder's fencing token (the lease's epoch, new at every acquisition); the
  submitter's move to SUBMITTING is made with it, so the store refuses it once another process has taken
  the lease over, however late the deposed one acts.

Timing: a standby takes over at most ``ttl + interval`` after the leader's last renewal. With
``lease_timing(bound)`` (ttl = 3/4 of the bound, interval = 1/4) takeover happens within ``bound``
(``queue.dispatcher_lease_seconds``) and the leader survives two missed renewals in a row.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Final

from bot.storage import Fence, Lease, LeaseStore

__all__ = ["DISPATCHER", "LeaderElector", "elector_for", "lease_timing", "new_holder_id"]

log = logging.getLogger(__name__)

DISPATCHER: Final = "dispatcher"


def lease_timing(bound_seconds: float) -> tuple[float, float]:
    """(lease ttl, renew/retry interval) so that a standby takes over within ``bound_seconds``."""
    if bound_seconds <= 0:
        raise ValueError("the takeover bound must be positive")
    return bound_seconds * 0.75, bound_seconds * 0.25


def new_holder_id() -> str:
    """Unique per process start, readable in the leases table: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class LeaderElector:
    """Keeps trying to hold ``lease``; ``is_leader`` is true only while a renewal is fresh.

    ``run()`` loops until cancelled, calling ``on_change(True/False)`` when leadership is won or lost
    (an exception from ``on_change`` ends ``run()``; the lease then lapses and a standby takes over).
    Between two steps the lease may lapse unnoticed by ``on_change``: check ``is_leader`` right
    before each submit, and fence the store write that authorises it with ``fence``. ``resign()``
    releases the lease (on shutdown, after dispatching stopped).
    """

    def __init__(
        self,
        lease: Lease,
        holder_id: str,
        *,
        ttl_seconds: float,
        interval: float,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not 0 < interval < ttl_seconds:
            raise ValueError("the renew interval must be positive and shorter than the lease")
        self.lease = lease
        self.holder_id = holder_id
        self._ttl = ttl_seconds
        self._interval = interval
        self._monotonic = monotonic
        self._sleep = sleep
        self._valid_until = float("-inf")
        self._was_leader = False
        self._fence: Fence | None = None

    @property
    def is_leader(self) -> bool:
        return self._monotonic() < self._valid_until

    @property
    def fence(self) -> Fence | None:
        """The fencing token of the lease held now (None while not leading)."""
        return self._fence if self.is_leader else None

    async def step(self) -> bool:
        """One acquire/renew attempt; returns ``is_leader`` afterwards.

        Another holder: not leading from now on. No answer (database error or timeout): the last
        confirmed lease still counts until it lapses, so one failed renewal does not stop dispatching."""
        sent = self._monotonic()
        try:
            fence = await self.lease.acquire_or_renew(self.holder_id)
        except Exception as exc:
            log.warning("%s: lease renewal failed (%s)", self.holder_id, type(exc).__name__)
            return self.is_leader
        self._fence = fence
        self._valid_until = sent + self._ttl if fence is not None else float("-inf")
        return self.is_leader

    async def run(self, on_change: Callable[[bool], Awaitable[None]] | None = None) -> None:
        while True:
            leading = await self.step()
            if leading != self._was_leader:
                self._was_leader = leading
                log.info("%s %s dispatcher", self.holder_id, "is now the" if leading else "is no longer the")
                if on_change is not None:
                    await on_change(leading)
            await self._sleep(self._interval)

    async def resign(self) -> None:
        self._valid_until = float("-inf")
        self._was_leader = False
        self._fence = None
        await self.lease.release(self.holder_id)


def elector_for(store: LeaseStore, *, bound_seconds: float, holder_id: str | None = None) -> LeaderElector:
    """The dispatcher elector on ``store``'s lease: a standby takes over within ``bound_seconds``
    (``queue.dispatcher_lease_seconds``) of the leader's last renewal."""
    ttl, interval = lease_timing(bound_seconds)
    lease = store.lease(DISPATCHER, ttl_seconds=ttl)
    return LeaderElector(lease, holder_id or new_holder_id(), ttl_seconds=ttl, interval=interval)
