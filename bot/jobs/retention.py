"""Retention of job rows (data at rest): interaction tokens and prompts do not outlive their use.

- A finished job's interaction token is forgotten once Discord's own lifetime of a token (15 minutes) has
  passed since the job finished: nothing can use it any more. An active job keeps its token, however old
  (the result sink reads it, and its absence, to choose where to post).
- A finished job is deleted ``retention_days`` after it finished, its prompt and result with it; an active
  job never. Counters are not touched (a deleted row is no refund).

The dispatcher runs the sweep (one process, also when several share a database): at once when it starts
dispatching (a restart after a long downtime cleans up first), then every ``interval`` seconds. The prompt
log has its own retention (``quotas.prompt_log_days``), pruned as entries are written.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

from bot.models import utcnow
from bot.storage import JobStore

log = logging.getLogger(__name__)

DISCORD_TOKEN_LIFETIME: Final = timedelta(minutes=15)


class JobRetention:
    def __init__(
        self,
        store: JobStore,
        *,
        retention_days: int,
        interval: float = 300.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if retention_days < 1:
            raise ValueError("job retention must be at least one day")
        self._store = store
        self._retention = timedelta(days=retention_days)
        self._interval = interval
        self._clock = clock

    async def sweep(self) -> tuple[int, int]:
        """Forget the tokens of jobs finished over 15 minutes ago, delete jobs finished over the retention ago;
        returns (tokens cleared, jobs deleted)."""
        now = self._clock()
        pruned = await self._store.prune_jobs(now - self._retention)
        cleared = await self._store.clear_interaction_tokens(now - DISCORD_TOKEN_LIFETIME)
        if cleared or pruned:
            log.info("job retention: %d interaction token(s) forgotten, %d finished job(s) deleted", cleared, pruned)
        return cleared, pruned

    async def run(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("job retention sweep failed")
            await asyncio.sleep(self._interval)
