"""Dispatcher election: among the bot processes sharing one database, exactly one submits to and polls
LiblibAI (so the account's rate and concurrency limits are enforced in one place).

- ``Lease`` is the port: ``acquire_or_renew(holder_id)`` is True while ``holder_id`` holds it.
- ``PostgresLease`` keeps one row per role in ``leases`` with an expiry set by the database clock (one
  clock for every host, so no skew between processes). A holder renews; anyone may take an expired row.
- ``SingleProcessLease`` is for SQLite: one process owns the file, so it always leads.
- ``LeaderElector`` runs the loop: renew (or try to acquire) every ``interval``; it believes it leads
  only until ``ttl`` after the last successful renewal was *sent*, so it stops before anyone else can
  take over. It is not the fence: guarded state transitions in the store still make sure a job is
  submitted once even if two processes briefly both think they lead.

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
from datetime import datetime
from typing import Final, Protocol

import asyncpg

from bot.storage import PostgresStore, Store

__all__ = [
    "DISPATCHER",
    "LeaderElector",
    "Lease",
    "PostgresLease",
    "SingleProcessLease",
    "elector_for",
    "lease_for",
    "lease_timing",
    "new_holder_id",
]

log = logging.getLogger(__name__)

DISPATCHER: Final = "dispatcher"

# Take the row when it is ours (renewal) or expired (takeover); otherwise leave it and return nothing.
_ACQUIRE_SQL: Final = """
INSERT INTO leases AS l (name, holder, expires_at)
VALUES ($1, $2, COALESCE($4::timestamptz, clock_timestamp()) + make_interval(secs => $3::float8))
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE l.holder = excluded.holder OR l.expires_at <= COALESCE($4::timestamptz, clock_timestamp())
RETURNING holder
"""
_RELEASE_SQL: Final = "DELETE FROM leases WHERE name = $1 AND holder = $2"
_HOLDER_SQL: Final = """
SELECT holder FROM leases WHERE name = $1 AND expires_at > COALESCE($2::timestamptz, clock_timestamp())
"""


class Lease(Protocol):
    async def acquire_or_renew(self, holder_id: str) -> bool:
        """Take the lease if it is free or expired, or extend it if ``holder_id`` holds it.
        True when ``holder_id`` holds it now, False when another holder does; raises when the
        database cannot answer (the caller cannot tell, so it keeps its belief until it lapses)."""

    async def release(self, holder_id: str) -> None:
        """Give the lease up at once (clean shutdown) so a standby need not wait for the expiry."""


def lease_timing(bound_seconds: float) -> tuple[float, float]:
    """(lease ttl, renew/retry interval) so that a standby takes over within ``bound_seconds``."""
    if bound_seconds <= 0:
        raise ValueError("the takeover bound must be positive")
    return bound_seconds * 0.75, bound_seconds * 0.25


def new_holder_id() -> str:
    """Unique per process start, readable in the leases table: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class SingleProcessLease:
    """SQLite deployments run one process, which is always the dispatcher."""

    async def acquire_or_renew(self, holder_id: str) -> bool:
        return True

    async def release(self, holder_id: str) -> None:
        return None


class PostgresLease:
    """A lease row in the ``leases`` table (created by the PostgreSQL migrations).

    ``clock`` replaces the database clock (tests); by default expiries use ``clock_timestamp()``.
    """

    def __init__(
        self,
        pool: asyncpg.Pool[asyncpg.Record],
        *,
        ttl_seconds: float,
        name: str = DISPATCHER,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self._pool = pool
        self._ttl = ttl_seconds
        self._name = name
        self._clock = clock
        # A statement that hangs longer than this could not renew in time anyway.
        self._timeout = max(0.5, ttl_seconds / 3)

    def _now(self) -> datetime | None:
        return self._clock() if self._clock is not None else None

    async def acquire_or_renew(self, holder_id: str) -> bool:
        holder = await self._pool.fetchval(
            _ACQUIRE_SQL, self._name, holder_id, self._ttl, self._now(), timeout=self._timeout
        )
        return bool(holder == holder_id)

    async def release(self, holder_id: str) -> None:
        try:
            await self._pool.execute(_RELEASE_SQL, self._name, holder_id, timeout=self._timeout)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
            log.warning("lease %s: release failed (%s); it will expire", self._name, type(exc).__name__)

    async def holder(self) -> str | None:
        """Who holds the lease now (None: nobody, or expired). For diagnostics and admin views."""
        value = await self._pool.fetchval(_HOLDER_SQL, self._name, self._now())
        return str(value) if value is not None else None


def lease_for(store: Store, *, ttl_seconds: float, name: str = DISPATCHER) -> Lease:
    """The lease that fits the store: a lease row on PostgreSQL, always-leader on SQLite."""
    if isinstance(store, PostgresStore):
        return PostgresLease(store.pool, ttl_seconds=ttl_seconds, name=name)
    return SingleProcessLease()


class LeaderElector:
    """Keeps trying to hold ``lease``; ``is_leader`` is true only while a renewal is fresh.

    ``run()`` loops until cancelled, calling ``on_change(True/False)`` when leadership is won or lost
    (an exception from ``on_change`` ends ``run()``; the lease then lapses and a standby takes over).
    Between two steps the lease may lapse unnoticed by ``on_change``: check ``is_leader`` right
    before each submit. ``resign()`` releases the lease (on shutdown, after dispatching stopped).
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

    @property
    def is_leader(self) -> bool:
        return self._monotonic() < self._valid_until

    async def step(self) -> bool:
        """One acquire/renew attempt; returns ``is_leader`` afterwards.

        Another holder: not leading from now on. No answer (database error or timeout): the last
        confirmed lease still counts until it lapses, so one failed renewal does not stop dispatching."""
        sent = self._monotonic()
        try:
            held = await self.lease.acquire_or_renew(self.holder_id)
        except Exception as exc:
            log.warning("%s: lease renewal failed (%s)", self.holder_id, type(exc).__name__)
            return self.is_leader
        self._valid_until = sent + self._ttl if held else float("-inf")
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
        await self.lease.release(self.holder_id)


def elector_for(store: Store, *, bound_seconds: float, holder_id: str | None = None) -> LeaderElector:
    """The dispatcher elector for ``store``: a standby takes over within ``bound_seconds``
    (``queue.dispatcher_lease_seconds``) of the leader's last renewal."""
    ttl, interval = lease_timing(bound_seconds)
    lease = lease_for(store, ttl_seconds=ttl)
    return LeaderElector(lease, holder_id or new_holder_id(), ttl_seconds=ttl, interval=interval)
