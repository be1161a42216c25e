"""How long LiblibAI tasks take, learned from the tasks this process submitted: the one duration estimate,
used to aim status polls and to tell members how long they will wait."""

from __future__ import annotations

from collections import deque

from bot.liblib.endpoints import Family

DEFAULT_DURATION = 30.0  # seconds, before any task was seen to finish
_RECENT = 20  # finished tasks the overall figure is the median of


class DurationEstimator:
    """A per-family moving average (what polling aims at) and the median of recent tasks of any family."""

    def __init__(self, *, poll_interval_min: float) -> None:
        self._lo = poll_interval_min
        self._expected: dict[Family, float] = {}
        self._first_query_hits: dict[Family, int] = {}  # tasks in a row found done by their first query
        self._recent: deque[float] = deque(maxlen=_RECENT)

    def expected(self, family: Family) -> float | None:
        """The family's learned duration; None before one of its tasks finished."""
        return self._expected.get(family)

    def estimate(self, family: Family | None = None) -> float:
        """The family's learned duration when known, else the median of recent tasks (30 s before any)."""
        if family is not None and family in self._expected:
            return self._expected[family]
        recent = sorted(self._recent)
        return recent[len(recent) // 2] if recent else DEFAULT_DURATION

    def learn(self, family: Family, *, started: float, previous: float | None, now: float, margin: float) -> None:
        """A task started at ``started``, last seen running at ``previous``, was found done at ``now``."""
        seconds = self._observed(family, started, previous, now, margin)
        known = self._expected.get(family)
        self._expected[family] = seconds if known is None else 0.7 * known + 0.3 * seconds
        self._recent.append(seconds)

    def _observed(self, family: Family, started: float, previous: float | None, now: float, margin: float) -> float:
        """What a finished task says about the family's duration, without drifting later by the polling delay.

        Seen running at ``previous`` and done at ``now``: when those are close it ended in between, so take
        the middle. Done at the first query: it ended at some unknown moment before, so record less than the
        moment aimed at (80 %, then 64 % for more such tasks in a row). The next first query comes earlier:
        the estimate follows tasks that get faster instead of only ever growing, at the cost of a second
        query now and then once it undershoots.
        """
        if previous is None:
            # Capped: with several tasks in flight, completions in a row are not independent evidence.
            streak = min(2, self._first_query_hits.get(family, 0) + 1)
            self._first_query_hits[family] = streak
            return max(0.0, now - started - margin) * 0.8**streak
        self._first_query_hits[family] = 0
        if now - previous <= self._lo:
            return (previous + now) / 2 - started
        return now - started
