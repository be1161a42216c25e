"""Quota windows: a day or a month in a server's time zone, named by a key stored with each counter.

Keys are ``day:2026-11-23`` and ``month:2026-11`` (local dates in that zone). A new key starts a new
counter, so a reset is simply the first request after local midnight; nothing is swept.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache


class UnknownTimezoneError(ValueError):
    pass


@lru_cache(maxsize=64)
def get_zone(name: str) -> tzinfo:
    """The IANA zone ``name``; "UTC" works even without a time zone database."""
    if name.upper() == "UTC":
        return UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise UnknownTimezoneError(name) from exc


def _local_midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _next_month(day: date) -> date:
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


@dataclass(frozen=True, slots=True)
class Windows:
    """The current day and month at ``now`` in one zone, with when each ends (UTC)."""

    day: str
    month: str
    day_resets_at: datetime
    month_resets_at: datetime


def current_windows(now: datetime, zone: tzinfo) -> Windows:
    local = now.astimezone(zone).date()
    return Windows(
        day=f"day:{local.isoformat()}",
        month=f"month:{local.year:04d}-{local.month:02d}",
        day_resets_at=_local_midnight(local + timedelta(days=1), zone),
        month_resets_at=_local_midnight(_next_month(local.replace(day=1)), zone),
    )


def window_resets_at(window: str, zone: tzinfo) -> datetime | None:
    """When the counter named ``window`` stops applying, or None for an unknown key."""
    kind, _, value = window.partition(":")
    try:
        if kind == "day":
            return _local_midnight(date.fromisoformat(value) + timedelta(days=1), zone)
        if kind == "month":
            year, month = (int(part) for part in value.split("-"))
            return _local_midnight(_next_month(date(year, month, 1)), zone)
    except ValueError:
        return None
    return None
