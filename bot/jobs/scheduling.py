"""Fair scheduling: serve members round robin, not first come first served.

A member who queues ten jobs does not make everyone else wait behind all ten: each pass of the
rotation takes one job from every member with work waiting, least recently served member first.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime

from bot.models import Job


class FairQueue:
    def __init__(self) -> None:
        self._tick = itertools.count(1)
        self._last_served: dict[int, int] = {}

    def mark_served(self, user_id: int) -> None:
        self._last_served[user_id] = next(self._tick)

    def order(self, queued: Sequence[Job], *, now: datetime | None = None) -> list[Job]:
        """The order the runner will submit ``queued`` in (ignoring jobs still backing off at ``now``)."""
        per_user: dict[int, list[Job]] = {}
        for job in sorted(queued, key=lambda j: j.created_at):
            if now is not None and job.not_before is not None and job.not_before > now:
                continue
            per_user.setdefault(job.user_id, []).append(job)
        users = sorted(per_user, key=lambda u: (self._last_served.get(u, 0), per_user[u][0].created_at))
        ordered: list[Job] = []
        for layer in itertools.zip_longest(*(per_user[u] for u in users)):
            ordered.extend(j for j in layer if j is not None)
        return ordered

    def positions(self, queued: Sequence[Job]) -> dict[str, int]:
        """1-based queue position of every queued job (backing-off jobs included, at their turn)."""
        return {job.id: i for i, job in enumerate(self.order(queued), start=1)}
