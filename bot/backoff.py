"""The one backoff rule: how long to wait before trying again, honouring a server's ``Retry-After``.

Every retry loop uses it: the LiblibAI client's request retries, the runner's re-queue after a refused
submit, its status-query and delivery retries. Pure functions, table-tested (tests/test_backoff.py).
"""

from __future__ import annotations

import email.utils
import math
import random
from collections.abc import Callable
from datetime import UTC, datetime


def retry_delay(
    attempt: int,
    retry_after: float | None,
    *,
    cap: float = 20.0,
    base: float = 0.5,
    floor: float = 0.0,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before the next attempt.

    A server hint (``Retry-After``) wins, capped at ``cap``; otherwise exponential backoff from ``base``,
    capped, with up to 25 % jitter taken off so many clients do not retry in step. Never less than ``floor``
    (a loop that must not spin: ``Retry-After: 0``, or a date already past, would otherwise mean at once).
    """
    if retry_after is not None and math.isfinite(retry_after) and retry_after >= 0:
        return max(floor, min(retry_after, cap))
    backoff = min(cap, base * 2.0 ** max(0, attempt - 1))
    return max(floor, backoff * (1.0 - 0.25 * rand()))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: a number of seconds or an HTTP date; None when absent or garbage."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())
