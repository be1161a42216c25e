"""How far along a running job is, for its progress message: a fraction done and the time left.

LiblibAI reports ``percentCompleted`` only on some routes (not the webui ones, Star-3 and custom checkpoints,
and never for IMG1), so the gauge also estimates from the time since the submit and the family's learned
duration (``LiblibClient.estimated_duration``: measured the same way, from the submit to the result). The rule:

* it shows the larger of the reported fraction and the estimate (a reported fraction wins when it is higher);
* it never shows less than it showed before: a reported fraction below the estimate already shown, or an
  expected duration that grew meanwhile, holds the bar where it was instead of moving it back;
* it stays below ``CAP`` (95 %) until the result is in, whatever LiblibAI reports or the clock says;
* the time left follows what it shows: ``elapsed * (1 - shown) / shown``, which is the learned duration minus
  the elapsed time while the estimate leads. At the cap there is no figure left to give ("almost done").

One gauge lives as long as one poll of one job; a poll resumed after a restart starts a new gauge, whose
estimate starts from the same submit time and so from about where the old one was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

CAP = 0.95  # the most a job shows before its result is in


@dataclass(frozen=True, slots=True)
class Reading:
    fraction: float  # 0..CAP
    remaining: float | None  # seconds left; None at the cap (the expected time is used up)


class ProgressGauge:
    """One running job's progress, never going backwards between readings."""

    def __init__(self, expected: Callable[[], float], *, cap: float = CAP) -> None:
        """``expected``: the family's expected duration in seconds, asked at each reading (it is learned as tasks
        of the family finish, also while this one runs)."""
        self._expected = expected
        self._cap = cap
        self._shown = 0.0

    def read(self, elapsed: float, reported: float | None = None) -> Reading:
        """The reading ``elapsed`` seconds after the submit; ``reported``: LiblibAI's fraction (0–1), if any."""
        elapsed = max(0.0, elapsed)
        expected = self._expected()
        estimate = elapsed / expected if expected > 0 else 0.0
        candidate = max(estimate, reported or 0.0)
        self._shown = min(self._cap, max(self._shown, candidate))
        shown = self._shown
        if shown >= self._cap:
            return Reading(shown, None)
        if shown <= 0 or elapsed <= 0:
            return Reading(shown, max(0.0, expected - elapsed))
        return Reading(shown, elapsed * (1 - shown) / shown)
